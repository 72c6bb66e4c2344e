"""The landing page and GET /api/v1/dashboard: each role sees its own work, bounded lists."""

from datetime import timedelta
from decimal import Decimal

import pytest

from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import db, utcnow
from poa_manager.monitoring.models import (
    MeterReadingStatus,
    ReadingUpload,
    UploadSource,
    UploadStatus,
    to_epoch,
)
from poa_manager.sites.models import Meter, SiteStatus
from tests.factories import MembershipFactory, OrganisationFactory, SiteFactory, UserFactory

SECTIONS = {
    "coordinator": "coordinator",
    "site_operator": "operator",
    "verifier": "verifier",
    "registry_administrator": "registry",
    "admin": "admin",
}


@pytest.mark.parametrize("role", list(SECTIONS))
def test_each_role_lands_on_its_own_section(world, role, login_as, client, api_headers_for):
    user = world.by_role(role)
    page = login_as(user).get("/").get_data(as_text=True)
    shown = {name for name in SECTIONS.values() if f'data-testid="section-{name}"' in page}
    assert shown == {SECTIONS[role]}
    body = client.get("/api/v1/dashboard", headers=api_headers_for(user)).get_json()
    assert body["sections"] == [SECTIONS[role]]


def test_login_lands_on_the_dashboard(world, app):
    from tests.conftest import PASSWORD

    client = app.test_client()
    response = client.post("/login", data={"email": world.coordinator.email, "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    assert 'data-testid="section-coordinator"' in client.get("/").get_data(as_text=True)


def test_a_user_with_two_roles_sees_both_sections(world, login_as, client, api_headers_for):
    MembershipFactory(
        user=world.coordinator,
        programme=world.programme,
        role=Role.site_operator,
        site_id=world.programme.sites[0].id,
    )
    db.session.flush()
    page = login_as(world.coordinator).get("/").get_data(as_text=True)
    assert 'data-testid="section-coordinator"' in page and 'data-testid="section-operator"' in page
    body = client.get("/api/v1/dashboard", headers=api_headers_for(world.coordinator)).get_json()
    assert body["sections"] == ["coordinator", "operator"]


def reporting_site(programme, reference, *, last_days_ago=None):
    site = SiteFactory(programme=programme, reference=reference, status=SiteStatus.crediting)
    meter = Meter(site=site, serial=f"M-{reference}")
    db.session.add(meter)
    db.session.flush()
    if last_days_ago is not None:
        end = to_epoch(utcnow() - timedelta(days=last_days_ago))
        db.session.add(
            MeterReadingStatus(
                meter_id=meter.id,
                first_reading_end=end - 86_400 * 30,
                last_reading_end=end,
                reading_count=30,
                flagged_count=0,
            )
        )
        db.session.flush()
    return site


def test_the_coordinator_sees_sites_missing_readings_counted_and_the_first_twenty(
    world, login_as, client, api_headers_for
):
    reporting_site(world.programme, "CPA-FRESH", last_days_ago=1)
    reporting_site(world.programme, "CPA-STALE", last_days_ago=10)
    reporting_site(world.programme, "CPA-NEVER")
    for i in range(22):
        reporting_site(world.programme, f"CPA-X{i:02d}", last_days_ago=30)
    reporting_site(world.other_programme, "CPA-OTHER", last_days_ago=30)
    body = client.get("/api/v1/dashboard", headers=api_headers_for(world.coordinator)).get_json()
    missing = body["coordinator"]["missing_readings"]
    assert missing["total"] == 24 and len(missing["first"]) == 20
    references = [s["reference"] for s in missing["first"]]
    assert "CPA-NEVER" in references and "CPA-STALE" in references and "CPA-FRESH" not in references
    never = next(s for s in missing["first"] if s["reference"] == "CPA-NEVER")
    assert never["last_reading_end"] is None
    page = login_as(world.coordinator).get("/").get_data(as_text=True)
    assert "20 of 24 shown" in page and "CPA-OTHER" not in page


def test_the_coordinator_sees_how_many_sites_wait_for_what_and_the_first_twenty(
    world, login_as, client, api_headers_for
):
    for i in range(15):
        SiteFactory(programme=world.programme, reference=f"CPA-D{i:02d}", status=SiteStatus.draft)
    for i in range(8):
        SiteFactory(programme=world.programme, reference=f"CPA-E{i:02d}", status=SiteStatus.eligible)
    SiteFactory(programme=world.programme, reference="CPA-IN", status=SiteStatus.included)
    SiteFactory(programme=world.other_programme, reference="CPA-OTHER", status=SiteStatus.draft)
    db.session.commit()

    body = client.get("/api/v1/dashboard", headers=api_headers_for(world.coordinator)).get_json()

    coordinator = body["coordinator"]
    waiting = coordinator["sites_waiting"]
    assert waiting["eligibility check"] >= 15 and waiting["inclusion"] >= 8
    first = coordinator["sites_waiting_first"]
    assert first["total"] == sum(waiting.values()) and len(first["first"]) == 20
    references = {s["reference"] for s in first["first"]}
    assert "CPA-IN" not in references and "CPA-OTHER" not in references
    page = login_as(world.coordinator).get("/").get_data(as_text=True)
    assert f"20 of {first['total']} shown" in page


def test_the_site_operator_sees_last_readings_rejected_uploads_and_calibrations(
    world, login_as, client, api_headers_for
):
    operator = world.site_operator
    site = world.programme.sites[0]
    site.status = SiteStatus.crediting
    today = utcnow().date()
    meter = Meter(site=site, serial="EXP-77", calibration_valid_until=today - timedelta(days=3))
    later = Meter(site=site, serial="EXP-78", calibration_valid_until=today + timedelta(days=300))
    db.session.add_all([meter, later])
    db.session.flush()
    end = to_epoch(utcnow() - timedelta(hours=2))
    db.session.add(
        MeterReadingStatus(
            meter_id=meter.id,
            first_reading_end=end - 900,
            last_reading_end=end,
            reading_count=2,
            flagged_count=0,
        )
    )
    db.session.add(
        ReadingUpload(
            programme_id=site.programme_id,
            site_id=site.id,
            uploaded_by_id=operator.id,
            uploaded_at=utcnow(),
            source=UploadSource.web,
            filename="bad.csv",
            content_sha256="0" * 64,
            byte_size=10,
            status=UploadStatus.rejected,
            error_count=3,
        )
    )
    db.session.flush()
    body = client.get("/api/v1/dashboard", headers=api_headers_for(operator)).get_json()["site_operator"]
    [row] = body["sites"]["first"]
    meters = {m["serial"]: m["last_reading_end"] for m in row["meters"]}
    assert meters["EXP-77"].startswith((utcnow() - timedelta(hours=2)).date().isoformat())
    assert meters["EXP-78"] is None
    assert [u["filename"] for u in body["rejected_uploads"]["first"]] == ["bad.csv"]
    assert [m["serial"] for m in body["calibrations_due"]["first"]] == ["EXP-77"]
    page = login_as(operator).get("/").get_data(as_text=True)
    assert "overdue by 3 days" in page and 'data-testid="completeness-chart"' in page
    chart = login_as(operator).get("/dashboards/charts/completeness.json").get_json()
    assert chart["data"]["labels"] == [site.reference]
    assert 0 <= chart["data"]["datasets"][0]["data"][0] <= 100


def test_the_verifier_sees_assignments_with_due_dates_and_sample_state(
    make_request, world, verifiers, login_as, client, api_headers_for
):
    from poa_manager.verification import services as verification_services

    request = make_request([Decimal("100.5"), Decimal("110.5")])
    verification = verification_services.assign_verifier(
        request,
        actor=world.coordinator,
        organisation_id=verifiers.auditor.organisation_id,
        team_user_ids=[verifiers.auditor.id],
    )
    db.session.flush()
    body = client.get("/api/v1/dashboard", headers=api_headers_for(verifiers.auditor)).get_json()
    [assignment] = body["verifier"]["first"]
    assert assignment["verification_id"] == verification.id
    assert assignment["due_on"] == (verification.assigned_at.date() + timedelta(days=60)).isoformat()
    assert assignment["state"] == "sample not drawn" and assignment["overdue_days"] == 0
    page = login_as(verifiers.auditor).get("/").get_data(as_text=True)
    assert verification.label in page and "sample not drawn" in page


def test_the_registry_administrator_sees_issuance_waiting(make_verified, world, client, api_headers_for):
    request = make_verified([Decimal("100.5"), Decimal("110.5")])
    body = client.get("/api/v1/dashboard", headers=api_headers_for(world.registry_administrator)).get_json()
    waiting = body["registry_administrator"]["issuance_waiting"]
    assert waiting["total"] == 1 and waiting["first"][0]["id"] == request.id


def test_the_host_government_sees_its_country(world, login_as, client, api_headers_for):
    government = UserFactory(
        organisation=OrganisationFactory(kind=OrganisationKind.host_government, country_code="VN")
    )
    db.session.flush()
    body = client.get("/api/v1/dashboard", headers=api_headers_for(government)).get_json()
    assert body["sections"] == ["government"]
    assert body["host_government"] == {
        "country": "VN",
        "authorizations": {"total": 0, "first": []},
        "by_vintage": [],
    }
    page = login_as(government).get("/").get_data(as_text=True)
    assert 'data-testid="section-government"' in page and 'data-testid="ndc-chart"' in page
