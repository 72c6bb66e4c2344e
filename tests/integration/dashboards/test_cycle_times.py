"""Cycle times from real requests: the recorded dates, overdue flags, targets, scoping, references."""

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.audit.models import AuditEntry
from poa_manager.dashboards import services
from poa_manager.dashboards.models import ReferenceBatch, ReferenceCycle, ServiceLevelTarget
from poa_manager.database import db, utcnow
from poa_manager.monitoring.models import RequestStatus

# The issued fixture's dates, set to known days: 20, 5, 67 (7 over the 60-day target), 3 and 2.
KNOWN = {
    "period_end": date(2025, 6, 30),
    "submitted": date(2025, 7, 20),
    "verifier_assigned": date(2025, 7, 25),
    "statement": date(2025, 9, 30),
    "issuance_approved": date(2025, 10, 3),
    "forwarded": date(2025, 10, 5),
}


def only(found, request_id):
    [row] = [r for r in found if r.request_id == request_id]
    return row


def test_a_forwarded_request_has_the_days_between_its_recorded_dates(issued, registry, dated):
    dated(issued.request, **KNOWN)
    found = services.request_cycles(actor=registry.admin, today=date(2026, 1, 1))
    row = only(found, issued.request_id)
    assert row.status is RequestStatus.issued
    assert row.milestones == KNOWN
    assert [(s.key, s.days) for s in row.cycle.steps] == [
        ("report", 20),
        ("assignment", 5),
        ("statement", 67),
        ("issuance", 3),
        ("forwarding", 2),
        ("total", 97),
    ]
    assert row.cycle.finished
    assert [(s.key, s.overdue_days) for s in row.cycle.steps if s.overdue] == [("statement", 7)]


def test_a_waiting_request_counts_to_today_and_is_overdue_only_past_its_target(
    make_request, world, dated, login_as, api_headers_for, client
):
    request = make_request([Decimal("100.5")])
    today = utcnow().date()
    dated(request, period_end=today - timedelta(days=30), submitted=today - timedelta(days=14))
    row = only(services.request_cycles(actor=world.coordinator, today=today), request.id)
    assert row.cycle.current_step == "assignment"
    assert row.cycle.step("assignment").days == 14 and not row.cycle.overdue
    assert row.cycle.step("report").days == 16 and row.cycle.total.days == 30
    page = login_as(world.coordinator).get("/").get_data(as_text=True)
    assert 'data-testid="coordinator-overdue"' not in page

    dated(request, submitted=today - timedelta(days=17))  # 3 days past the 14-day target
    row = only(services.request_cycles(actor=world.coordinator, today=today), request.id)
    assert row.cycle.step("assignment").overdue_days == 3 and not row.cycle.step("report").overdue
    page = login_as(world.coordinator).get("/").get_data(as_text=True)
    assert 'data-testid="coordinator-overdue"' in page and "overdue by 3 days" in page
    body = client.get("/api/v1/dashboard", headers=api_headers_for(world.coordinator)).get_json()
    [overdue] = body["coordinator"]["overdue"]
    assert overdue["request_id"] == request.id and overdue["overdue_days"] == 3
    assert overdue["steps"]["assignment"] == {
        "days": 17,
        "finished": False,
        "target_days": 14,
        "overdue_days": 3,
    }


def test_registry_administrators_see_overdue_requests_waiting_for_issuance(
    make_verified, world, dated, login_as
):
    request = make_verified([Decimal("100.5"), Decimal("110.5")])
    today = utcnow().date()
    dated(
        request,
        period_end=today - timedelta(days=60),
        submitted=today - timedelta(days=50),
        verifier_assigned=today - timedelta(days=45),
        statement=today - timedelta(days=12),  # issuance target 10 days: 2 late
    )
    page = login_as(world.registry_administrator).get("/").get_data(as_text=True)
    assert 'data-testid="section-registry"' in page and 'data-testid="registry-overdue"' in page
    assert "overdue by 2 days" in page
    assert request.label in page


def test_targets_are_changed_by_a_platform_administrator_only(world, client, api_headers_for, login_as):
    url = "/api/v1/service-level-targets"
    before = client.get(url, headers=api_headers_for(world.coordinator)).get_json()
    assert {t["step"]: (t["target_days"], t["is_default"]) for t in before}["statement"] == (60, True)

    refused = client.put(url, json={"targets": {"statement": 45}}, headers=api_headers_for(world.coordinator))
    assert refused.status_code == 403
    assert db.session.get(ServiceLevelTarget, "statement") is None
    assert (
        login_as(world.coordinator)
        .post("/dashboards/service-level-targets", data={"statement": 45})
        .status_code
        == 403
    )

    invalid = client.put(url, json={"targets": {"statement": 0}}, headers=api_headers_for(world.admin))
    assert invalid.status_code == 422
    changed = client.put(url, json={"targets": {"statement": 45}}, headers=api_headers_for(world.admin))
    assert changed.status_code == 200
    assert {t["step"]: t["target_days"] for t in changed.get_json()}["statement"] == 45
    assert services.targets()["statement"] == 45 and services.targets()["report"] == 30
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "service_level_targets.changed")
    ).one()
    assert entry.data == {"before": {"statement": 60}, "after": {"statement": 45}}

    form = {step: 30 for step in ("report", "assignment", "statement", "issuance", "forwarding", "total")}
    response = login_as(world.admin).post("/dashboards/service-level-targets", data=form)
    assert response.status_code == 302
    assert services.targets()["total"] == 30


def test_another_organisations_programme_is_neither_listed_nor_found(
    make_request, world, client, api_headers_for, login_as
):
    request = make_request([Decimal("100.5")])
    outsider = api_headers_for(world.outsider)
    portfolio = client.get("/api/v1/cycle-times", headers=outsider).get_json()
    assert request.id not in [r["request_id"] for r in portfolio["requests"]]
    assert (
        client.get(f"/api/v1/programmes/{world.programme.id}/cycle-times", headers=outsider).status_code
        == 404
    )
    outsider_page = login_as(world.outsider)
    assert outsider_page.get(f"/dashboards/programmes/{world.programme.id}/cycle-times").status_code == 404
    assert request.programme.reference not in outsider_page.get("/dashboards/cycle-times").get_data(
        as_text=True
    )

    mine = client.get(
        f"/api/v1/programmes/{world.programme.id}/cycle-times", headers=api_headers_for(world.coordinator)
    )
    assert [r["request_id"] for r in mine.get_json()["requests"]] == [request.id]


def seed_jcm_viet_nam():
    db.session.add_all(
        [
            ReferenceCycle(
                reference="VN014",
                title="Solar PV",
                host_country="VN",
                monitoring_end=date(2019, 6, 30),
                notified_on=date(2024, 10, 31),
                batch="JCM-VN-2024-10",
            ),
            ReferenceCycle(
                reference="VN011",
                host_country="VN",
                monitoring_end=date(2019, 7, 31),
                notified_on=date(2024, 10, 31),
                batch="JCM-VN-2024-10",
            ),
            ReferenceCycle(
                reference="VN013",
                host_country="VN",
                monitoring_end=date(2020, 12, 31),
                notified_on=date(2024, 10, 31),
                batch="JCM-VN-2024-10",
            ),
            ReferenceBatch(
                name="JCM-VN-2024-10",
                host_country="VN",
                notified_on=date(2024, 10, 31),
                project_count=13,
                credits=35_313,
            ),
        ]
    )
    db.session.flush()


def test_the_jcm_baseline_is_shown_in_years_and_months_beside_the_platform_median(
    issued, registry, dated, world, login_as, client, api_headers_for
):
    seed_jcm_viet_nam()
    dated(issued.request, **KNOWN)  # one finished cycle: 97 days
    page = login_as(world.coordinator).get("/dashboards/cycle-times").get_data(as_text=True)
    assert "5 years 4 months" in page and "5 years 3 months" in page and "3 years 10 months" in page
    assert "35,313 credits from 13 projects notified together on 31 Oct 2024" in page
    assert 'data-testid="platform-median"' in page and "97 d (3 months)" in page
    assert "[U]" in page

    body = client.get("/api/v1/reference-cycles", headers=api_headers_for(world.viewer)).get_json()
    assert [(c["reference"], c["duration"]) for c in body["cycles"]] == [
        ("VN014", "5 years 4 months"),
        ("VN011", "5 years 3 months"),
        ("VN013", "3 years 10 months"),
    ]
    assert body["batches"][0]["credits"] == 35_313 and body["batches"][0]["project_count"] == 13
    assert body["platform_median_days"] == 97


def test_the_charts_return_chart_js_configurations(issued, registry, dated, world, login_as):
    dated(issued.request, **KNOWN)
    client = login_as(world.coordinator)
    steps = client.get("/dashboards/charts/cycle-steps.json").get_json()
    assert steps["type"] == "bar"
    median, target = steps["data"]["datasets"]
    assert median["data"] == [20, 5, 67, 3, 2, 97] and target["data"] == [30, 14, 60, 10, 5, 120]
    histogram = client.get(
        f"/dashboards/charts/cycle-distribution.json?programme_id={world.programme.id}"
    ).get_json()
    assert histogram["data"]["labels"][-1] == "90–119 d" and histogram["data"]["datasets"][0]["data"][-1] == 1
    assert (
        client.get(f"/dashboards/charts/cycle-steps.json?programme_id={world.other_programme.id}").status_code
        == 404
    )


def test_targets_page_is_read_only_for_others_and_the_programme_page_links_its_cycle_times(world, login_as):
    client = login_as(world.coordinator)
    page = client.get("/dashboards/service-level-targets").get_data(as_text=True)
    assert 'data-testid="targets"' in page and 'data-testid="targets-form"' not in page
    assert page.count("default [U]") == 6
    programme_page = client.get(f"/programmes/{world.programme.id}").get_data(as_text=True)
    assert f'href="/dashboards/programmes/{world.programme.id}/cycle-times"' in programme_page
    admin_page = login_as(world.admin).get("/dashboards/service-level-targets").get_data(as_text=True)
    assert 'data-testid="targets-form"' in admin_page
