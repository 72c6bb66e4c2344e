"""Printable documents: each page links the print stylesheet, has a stable URL and is scoped."""

import re

import pytest

from poa_manager.sites import services as site_services
from poa_manager.sites.models import ExternalIdentifier, ExternalRegistration, IdentifierKind
from tests.integration.sites.conftest import site_facts
from tests.verification_support import verified_request

PRINT_CSS = 'href="/static/css/print.css"'


def _is_printable(response) -> str:
    assert response.status_code == 200, response.data[:300]
    html = response.get_data(as_text=True)
    assert PRINT_CSS in html
    assert re.search(r'<body class="print-document"', html)
    assert "<script" not in html and "style=" not in html  # CSP: script-src/style-src 'self'
    return html


def test_programme_design_summary(world, login_as, registered):
    client = login_as(world.coordinator)
    url = f"/programmes/{registered.id}/design/print"
    html = _is_printable(client.get(url))
    assert f"http://localhost{url}" in html  # the stable URL is printed on the page
    assert "AMS-I.D" in html and "Design version 1 (registered)" in html
    for code in ("EC-01", "EC-07"):
        assert f"<td>{code}</td>" in html
    assert registered.coordinating_entity.name in html
    assert world.coordinator.email in html  # the CME's people and roles
    assert 'data-testid="versions"' in html and 'data-testid="allocation"' not in html
    detail = client.get(f"/programmes/{registered.id}").get_data(as_text=True)
    assert f'href="{url}"' in detail


def test_design_summary_of_a_draft_says_so_and_others_cannot_see_it(world, login_as):
    html = _is_printable(login_as(world.coordinator).get(f"/programmes/{world.programme.id}/design/print"))
    assert "DRAFT" in html
    assert login_as(world.outsider).get(f"/programmes/{world.programme.id}/design/print").status_code == 404


def test_site_inclusion_record(world, login_as, registered, make_site, db):
    site = make_site(registered, 1)
    registration = ExternalRegistration(registry_name="Verra", identifier="VCS-1", name="Elsewhere")
    registration.identifiers = [ExternalIdentifier(kind=IdentifierKind.equipment_serial, value="INV-00001")]
    db.session.add(registration)
    db.session.flush()
    site_services.check_eligibility(site, actor=world.coordinator, checked_on=site.created_at.date())
    db.session.flush()
    client = login_as(world.coordinator)
    url = f"/sites/{site.id}/inclusion-record/print"
    html = _is_printable(client.get(url))
    assert f"http://localhost{url}" in html
    assert site.reference in html and "MTR-00001" in html
    assert html.count("<td>EC-0") == 7  # one result per criterion of the latest check
    assert "VCS-1" in html and "Verra" in html  # the external registration the guard found
    assert "site.created" in html  # audit history
    detail = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert f'href="{url}"' in detail
    assert login_as(world.outsider).get(url).status_code == 404


def test_inclusion_record_without_conflicts(world, login_as, registered, make_site):
    site = make_site(registered, 2, **{"equipment_serials": ["INV-CLEAN"]})
    html = _is_printable(login_as(world.coordinator).get(f"/sites/{site.id}/inclusion-record/print"))
    assert 'data-testid="no-conflicts"' in html and "Never checked." in html


@pytest.fixture
def verified(world, registered):
    from tests.factories import UserFactory

    auditor = UserFactory(organisation=world.verifier.organisation)
    reviewer = UserFactory(organisation=world.verifier.organisation)
    request = verified_request(
        registered, world.coordinator, auditor, reviewer, [site_facts(0)["capacity_kw"]] * 3
    )
    return request, reviewer


def test_monitoring_report_and_statement_print_pages(world, login_as, verified, db):
    from poa_manager.verification.models import Verification

    request, reviewer = verified
    verification = db.session.scalar(db.select(Verification).where(Verification.request_id == request.id))
    report_html = _is_printable(
        login_as(world.coordinator).get(f"/monitoring-reports/{request.report_id}/print")
    )
    assert request.report.label in report_html
    statement_html = _is_printable(
        login_as(reviewer).get(f"/verifications/{verification.id}/statement/print")
    )
    assert verification.label in statement_html
