"""List pages show one page at a time with page links, whatever the number of rows."""

import re

from tests.factories import ProgrammeFactory, SiteFactory


def _rows(html: str, testid: str) -> int:
    table = re.search(rf'data-testid="{testid}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return table.count("<tr")


def test_sites_list_pages_by_fifty_and_exports_them_all(world, login_as):
    SiteFactory.create_batch(119, programme=world.programme)  # with the world's site: 120
    client = login_as(world.coordinator)
    url = f"/programmes/{world.programme.id}/sites"
    first = client.get(url).get_data(as_text=True)
    assert _rows(first, "sites") == 50
    assert "Page 1 of 3 (120 in all)" in first
    assert f'href="{url}?page=2' in first
    last = client.get(f"{url}?page=3").get_data(as_text=True)
    assert _rows(last, "sites") == 20 and "Page 3 of 3" in last
    export = client.get(f"{url}?page=2&export=csv").get_data(as_text=True)
    assert export.count("\r\n") == 121  # the header and every row, not the page


def test_programme_list_is_paginated_with_site_counts(world, login_as):
    ProgrammeFactory.create_batch(50)  # with the world's two: 52, all visible to the administrator
    SiteFactory.create_batch(4, programme=world.programme)
    client = login_as(world.admin)
    first = client.get("/programmes/").get_data(as_text=True)
    assert "Page 1 of 2 (52 in all)" in first and 'href="/programmes/?page=2"' in first
    second = client.get("/programmes/?page=2").get_data(as_text=True)
    assert _rows(first, "programmes") == 50 and _rows(second, "programmes") == 2
    everything = client.get("/programmes/?export=csv").get_data(as_text=True)
    assert everything.count("\r\n") == 53
    row = re.search(rf"{world.programme.reference}</a></td>.*?</tr>", first + second, re.S)
    assert '<td class="number">5</td>' in row.group(0)  # one grouped count, not every site loaded


def test_verification_list_is_paginated(world, login_as):
    html = login_as(world.verifier).get("/verifications?page=7").get_data(as_text=True)
    assert "<h1>Verifications</h1>" in html
