"""One journey per role over the full demo that `make run` seeds (200 sites, a year of readings,
a verified and issued period, an overdue request, the JCM Viet Nam history), each saving
screenshots under test-artifacts/screenshots/ (kept by CI)."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from poa_manager.database import utcnow
from tests.e2e.test_browser_journey import log_in, screenshot

pytestmark = pytest.mark.e2e

CHART_READY = "canvas[data-chart-ready='yes']"


@pytest.fixture
def tab(browser: Browser, showcase) -> Iterator[Page]:
    """A fresh, logged-out tab on the showcase server that fails the test on any console error
    (a CSP violation from an inline script or style shows up there)."""
    context = browser.new_context(base_url=showcase.url, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    assert errors == [], errors


def test_coordinator_lands_on_the_dashboard_with_the_overdue_request_highlighted(tab: Page):
    log_in(tab, "coordinator@demo.example.org")
    section = tab.get_by_test_id("section-coordinator")
    expect(section).to_be_visible()
    overdue = tab.get_by_test_id("coordinator-overdue").locator("tr.overdue").first
    expect(overdue).to_be_visible()
    # The showcase's second half-year: submitted 45 days ago, no verifier yet (target 14 days).
    expect(overdue).to_contain_text("VN-JCM-PoA-002")
    expect(overdue).to_contain_text(re.compile(r"overdue by \d+ days"))
    expect(tab.get_by_test_id("missing-readings")).to_be_visible()
    screenshot(tab, "role-coordinator-dashboard.png")


def test_operator_sees_the_completeness_of_each_site(tab: Page):
    log_in(tab, "operator@demo.example.org")
    expect(tab.get_by_test_id("section-operator")).to_be_visible()
    chart = tab.get_by_test_id("completeness-chart")
    expect(chart.locator(CHART_READY)).to_have_count(1, timeout=15_000)
    expect(tab.get_by_test_id("operator-sites")).to_contain_text("RT-0001")
    # What it drew: RT-0001's days wait in the rejected file (nothing this period); the others report.
    config = tab.request.get(chart.locator("canvas").get_attribute("data-chart-src")).json()
    percent = dict(zip(config["data"]["labels"], config["data"]["datasets"][0]["data"], strict=True))
    assert percent["RT-0001"] == 0, percent
    if utcnow().day >= 2:  # the period is this month: on its 1st no local day has ended yet
        assert percent["RT-0002"] > 0, percent
    expect(tab.get_by_test_id("rejected-uploads")).to_contain_text("problems")  # the planted one
    screenshot(tab, "role-operator-completeness.png")


def test_verifier_sees_the_sample_on_a_map(tab: Page):
    log_in(tab, "auditor@demo.example.org")
    tab.goto("/verifications")
    tab.get_by_role("link", name=re.compile(r"^VER-")).first.click()
    tab.get_by_role("link", name=re.compile("sample", re.IGNORECASE)).first.click()
    sample_map = tab.get_by_test_id("sample-map").locator("[data-map-sites]")
    expect(sample_map).to_have_attribute("data-map-ready", "yes", timeout=15_000)
    expect(sample_map.locator("canvas").first).to_be_visible()  # the points (canvas renderer)
    # What the map drew: every site of the frozen frame, the sampled ones with their findings.
    data = tab.request.get(sample_map.get_attribute("data-map-sites")).json()
    states = [feature["properties"]["state"] for feature in data["features"]]
    sampled = [feature for feature in data["features"] if feature["properties"]["sampled"] == "yes"]
    assert len(states) == 200 and len(sampled) == 51  # the showcase's stratified 90/10 sample
    assert {"conforming", "error"} <= set(states) and "to_do" not in states
    screenshot(tab, "role-verifier-sample-map.png")


def test_government_sees_its_contribution_to_the_ndc(tab: Page):
    log_in(tab, "government@demo.example.org")
    expect(tab.get_by_test_id("section-government")).to_be_visible()
    chart = tab.get_by_test_id("ndc-chart")
    expect(chart.locator(CHART_READY)).to_have_count(1, timeout=15_000)
    expect(tab.get_by_test_id("by-vintage")).to_be_visible()
    screenshot(tab, "role-government-ndc.png")


def test_registry_administrator_sees_what_waits_for_approval(tab: Page):
    log_in(tab, "registry@demo.example.org")
    expect(tab.get_by_test_id("section-registry")).to_be_visible()
    expect(tab.get_by_test_id("registry-overdue").locator("tr.overdue").first).to_be_visible()
    screenshot(tab, "role-registry-dashboard.png")


def test_the_cycle_time_view_sets_the_platform_beside_the_jcm_viet_nam_history(tab: Page):
    log_in(tab, "coordinator@demo.example.org")
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Cycle times").click()
    expect(tab.get_by_test_id("duration-VN014")).to_contain_text("5 years 4 months")
    expect(tab.get_by_test_id("duration-VN011")).to_contain_text("5 years 3 months")
    expect(tab.get_by_test_id("duration-VN013")).to_contain_text("3 years 10 months")
    batch = tab.locator("[data-testid^='batch-']")
    expect(batch).to_contain_text("35,313 credits from 13 projects notified together on 31 Oct 2024")
    expect(tab.get_by_test_id("platform-median")).not_to_contain_text("no finished cycle yet")
    expect(tab.locator(CHART_READY).first).to_be_visible(timeout=15_000)
    screenshot(tab, "role-cycle-times.png")
