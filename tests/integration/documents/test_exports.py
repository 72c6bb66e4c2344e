"""Every list page exports the page's own filtered, scoped rows as CSV and XLSX, formula-safe."""

from decimal import Decimal

import pytest

from poa_manager.audit import services as audit_services
from poa_manager.sites.models import SiteStatus
from tests.factories import SiteFactory
from tests.integration.documents.conftest import PAYLOADS, read_csv, read_xlsx


@pytest.fixture
def payload_sites(world):
    """One site per payload in the world's programme (name and funding comment), and one elsewhere."""
    sites = [
        SiteFactory(
            programme=world.programme,
            reference=f"PAY-{i:02d}",
            name=payload,
            funding_sources=payload,
            capacity_kw=Decimal(i + 1),
            latitude=Decimal("-2.5") if i == 0 else None,  # a negative number must stay a number
            longitude=Decimal("106.8") if i == 0 else None,
            status=SiteStatus.eligible,
        )
        for i, payload in enumerate(PAYLOADS)
    ]
    SiteFactory(programme=world.other_programme, reference="PAY-OTHER", name="=2+2")
    return sites


def test_site_export_csv_is_inert_text_and_exactly_the_pages_rows(world, login_as, payload_sites):
    client = login_as(world.coordinator)
    rows = read_csv(client.get(f"/programmes/{world.programme.id}/sites?export=csv"))
    by_reference = {row["Reference"]: row for row in rows}
    # The world's own site plus the payload sites; never the other programme's.
    assert set(by_reference) == {s.reference for s in world.programme.sites}
    assert "PAY-OTHER" not in by_reference
    for site, payload in zip(payload_sites, PAYLOADS, strict=True):
        assert by_reference[site.reference]["Name"] == "'" + payload
        assert by_reference[site.reference]["Funding sources"] == "'" + payload
    assert by_reference["PAY-00"]["Latitude"] == "-2.500000"


def test_site_export_applies_the_pages_filters(world, login_as, payload_sites):
    client = login_as(world.coordinator)
    url = f"/programmes/{world.programme.id}/sites?status=eligible&q=pay-0&page=2&export=csv"
    rows = read_csv(client.get(url))
    assert sorted(row["Reference"] for row in rows) == [s.reference for s in payload_sites]


def test_site_export_xlsx_has_no_formula_and_numbers_stay_numbers(
    world, login_as, payload_sites, formula_report
):
    client = login_as(world.coordinator)
    header, rows = read_xlsx(client.get(f"/programmes/{world.programme.id}/sites?export=xlsx"))
    name, funding, latitude = header.index("Name"), header.index("Funding sources"), header.index("Latitude")
    cells = [cell for row in rows for cell in row]
    assert [cell for cell in cells if cell.data_type == "f"] == []
    payload_rows = [row for row in rows if str(row[0].value).startswith("PAY-")]
    assert len(payload_rows) == len(PAYLOADS)
    for row, payload in zip(sorted(payload_rows, key=lambda r: r[0].value), PAYLOADS, strict=True):
        # XML reads a carriage return back as a line feed; the text is otherwise as written.
        expected = "'" + payload.replace("\r", "\n")
        assert (row[name].value, row[name].data_type) == (expected, "s")
        assert (row[funding].value, row[funding].data_type) == (expected, "s")
        formula_report["exported"] += 2
        formula_report["formulas"] += sum(row[i].data_type == "f" for i in (name, funding))
    negative = next(row for row in payload_rows if row[0].value == "PAY-00")
    assert (negative[latitude].value, negative[latitude].data_type) == (-2.5, "n")
    assert formula_report["formulas"] == 0


def test_another_coordinator_exports_only_their_programme(world, login_as, payload_sites):
    client = login_as(world.outsider)
    rows = read_csv(client.get("/programmes/?export=csv"))
    assert [row["Reference"] for row in rows] == [world.other_programme.reference]
    assert client.get(f"/programmes/{world.programme.id}/sites?export=csv").status_code == 404
    own = read_csv(client.get(f"/programmes/{world.other_programme.id}/sites?export=csv"))
    assert {row["Reference"] for row in own} == {s.reference for s in world.other_programme.sites}
    assert {row["Name"] for row in own if row["Reference"] == "PAY-OTHER"} == {"'=2+2"}
    assert not {row["Reference"] for row in own} & {s.reference for s in payload_sites}


def test_audit_log_export_neutralises_and_filters(world, login_as, db, formula_report):
    audit_services.record(
        "document.test", actor=world.admin, entity_type="site", entity_id=1, data={"x": "=1+1"}
    )
    audit_services.record("=HYPERLINK(1)", actor=world.admin, entity_type="site", entity_id=1)
    db.session.flush()
    client = login_as(world.admin)
    rows = read_csv(client.get("/admin/audit?action=document.&export=csv"))
    assert [row["Action"] for row in rows] == ["document.test"]
    every = read_csv(client.get("/admin/audit?export=csv"))
    assert "'=HYPERLINK(1)" in [row["Action"] for row in every]
    header, cells = read_xlsx(client.get("/admin/audit?export=xlsx"))
    actions = [row[header.index("Action")] for row in cells]
    hyperlink = next(cell for cell in actions if "HYPERLINK" in str(cell.value))
    assert (hyperlink.value, hyperlink.data_type) == ("'=HYPERLINK(1)", "s")
    formula_report["exported"] += 1
    formula_report["formulas"] += sum(cell.data_type == "f" for row in cells for cell in row)
    assert formula_report["formulas"] == 0


def test_admin_lists_refuse_others(world, login_as):
    client = login_as(world.coordinator)
    for url in ("/admin/users?export=csv", "/admin/organisations?export=csv", "/admin/audit?export=xlsx"):
        assert client.get(url).status_code == 403, url


def test_user_and_organisation_exports(world, login_as):
    client = login_as(world.admin)
    users = read_csv(client.get("/admin/users?export=csv"))
    assert world.coordinator.email in {row["Email"] for row in users}
    assert "Password" not in ",".join(users[0])
    organisations = read_csv(client.get("/admin/organisations?export=csv"))
    assert world.programme.coordinating_entity.name in {row["Name"] for row in organisations}


LIST_PAGES = [
    ("admin", "/programmes/"),
    ("coordinator", "/programmes/{programme}/sites"),
    ("coordinator", "/programmes/{programme}/readings"),
    ("coordinator", "/programmes/{programme}/monitoring"),
    ("coordinator", "/programmes/{programme}/authorizations"),
    ("verifier", "/verifications"),
    ("registry_administrator", "/registry/"),
    ("registry_administrator", "/registry/issuances"),
    ("registry_administrator", "/registry/transactions"),
    ("registry_administrator", "/registry/freezes"),
    ("registry_administrator", "/registry/events"),
    ("registry_administrator", "/registry/aef"),
    ("admin", "/admin/users"),
    ("admin", "/admin/organisations"),
    ("admin", "/admin/audit"),
    ("admin", "/interop/webhooks"),
]


@pytest.mark.parametrize(("role", "url"), LIST_PAGES)
def test_every_list_page_links_and_serves_both_exports(world, login_as, role, url):
    client = login_as(world.by_role(role))
    url = url.format(programme=world.programme.id)
    joiner = "&" if "?" in url else "?"
    page = client.get(url)
    assert page.status_code == 200
    csv_response = client.get(f"{url}{joiner}export=csv")
    csv_rows = read_csv(csv_response)
    header, xlsx_rows = read_xlsx(client.get(f"{url}{joiner}export=xlsx"))
    # The same columns and the same rows in both formats.
    assert csv_response.get_data(as_text=True)[1:].split("\r\n", 1)[0] == ",".join(header)
    assert len(xlsx_rows) == len(csv_rows)
    if csv_rows:  # pages show the links once they list something
        assert b'data-testid="export-links"' in page.data and b"export=xlsx" in page.data
