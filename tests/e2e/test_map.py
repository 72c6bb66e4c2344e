"""The sites map in a real browser: drawn from the vendored Leaflet under the strict CSP, offline (no
tiles), with a legend, and a click on a point opens the site's popup with a link to its page. Then the
verifier's sample map, on a server of its own so the demo journeys' lists stay as they expect."""

import threading
from collections.abc import Iterator
from decimal import Decimal

import flask_migrate
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from poa_manager import create_app
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.programmes.models import Programme
from poa_manager.sites.models import Site
from poa_manager.verification import services as verification_services
from poa_manager.verification.models import CheckMethod, FindingOutcome
from tests.databases import fresh_database
from tests.e2e.conftest import Live
from tests.e2e.test_browser_journey import log_in, screenshot
from tests.factories import PASSWORD, OrganisationFactory, UserFactory, registered_programme
from tests.verification_support import claims_of, submitted_request

pytestmark = pytest.mark.e2e


def test_the_programme_map_draws_the_sites_and_a_click_opens_the_popup(page: Page, live: Live):
    with live.app.app_context():
        programme_id = db.session.scalar(sa.select(Programme.id).order_by(Programme.id))
        located = db.session.execute(
            sa.select(Site.id, Site.reference, Site.latitude, Site.longitude)
            .where(Site.programme_id == programme_id, Site.latitude.is_not(None))
            .order_by(Site.latitude)  # the southernmost: its popup opens without panning the others away
        ).all()
    assert located, "the demo programme has located sites"
    site_id, reference, latitude, longitude = located[0]
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    log_in(page, "coordinator@demo.example.org")
    page.goto(f"/programmes/{programme_id}/sites/map")
    box = page.locator("[data-map-sites]")
    expect(box).to_have_attribute("data-map-ready", "yes", timeout=15_000)
    expect(page.get_by_test_id("programme-map")).to_contain_text(f"{len(located)} sites on the map")
    expect(page.get_by_test_id("map-legend")).to_be_visible()
    assert page.locator(".leaflet-tile").count() == 0  # no tile URL configured: nothing leaves the host

    x, y = box.evaluate(
        "(el, ll) => { const p = el.poaMap.latLngToContainerPoint(ll); return [p.x, p.y]; }",
        [float(latitude), float(longitude)],
    )
    box.click(position={"x": x, "y": y})
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(reference)
    expect(popup).to_contain_text("Status")
    # The popup fades in while the map pans to make room for it: screenshot once both are done.
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-pan-anim')"
        " && getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    screenshot(page, "map-programme.png")

    popup.get_by_role("link").click()
    expect(page).to_have_url(f"{live.url}/sites/{site_id}")
    expect(page.locator("[data-map-sites]")).to_have_attribute("data-map-ready", "yes", timeout=15_000)
    screenshot(page, "map-site.png")
    assert problems == []  # no CSP violation, no script error


SAMPLE_SITES = 60


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory) -> Iterator[tuple[str, int, str]]:
    """A drawn verification of a 60-site located request, two findings recorded: URL, id, auditor."""
    with fresh_database(tmp_path_factory.mktemp("sample-map")) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=True)
        with app.app_context():
            flask_migrate.upgrade()
            coordinator = UserFactory(organisation=OrganisationFactory())
            firm = OrganisationFactory(kind=OrganisationKind.verifier)
            validator, auditor = UserFactory(organisation=firm), UserFactory(organisation=firm)
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            programme = registered_programme(coordinator, validator, registry, title="Sample map")
            located = [
                {
                    "latitude": Decimal("10.6") + Decimal(i % 10) / 12,
                    "longitude": Decimal("106.1") + Decimal(i // 10) / 5,
                }
                for i in range(SAMPLE_SITES)
            ]
            request = submitted_request(programme, coordinator, claims_of(SAMPLE_SITES), facts=located)
            verification = verification_services.assign_verifier(
                request, actor=coordinator, organisation_id=firm.id, team_user_ids=[auditor.id]
            )
            verification_services.draw(
                verification,
                actor=auditor,
                plan=verification_services.PlanInput(
                    confidence=Decimal("0.90"), relative_precision=Decimal("0.10")
                ),
                seed=11,
            )
            drawn = db.session.scalars(
                verification_services.frame_entries(verification, sampled_only=True)
            ).all()
            for entry, outcome in zip(drawn, (FindingOutcome.conforming, FindingOutcome.error), strict=False):
                verification_services.record_finding(
                    verification,
                    actor=auditor,
                    site_id=entry.site_id,
                    verified_tco2e=entry.claimed_tco2e
                    if outcome is FindingOutcome.conforming
                    else Decimal(1),
                    outcome=outcome,
                    method=CheckMethod.site_visit,
                    evidence="Visited.",
                )
            db.session.commit()
            ids = verification.id, auditor.email
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", *ids
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()


def test_the_verifiers_sample_map_colours_the_frame_by_finding(browser: Browser, sample_server):
    base, verification_id, email = sample_server
    context = browser.new_context(base_url=base)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.goto(f"/verifications/{verification_id}/sample")
    box = page.locator("[data-map-sites]")
    expect(box).to_have_attribute("data-map-ready", "yes", timeout=15_000)
    expect(page.get_by_test_id("sample-map")).to_contain_text(f"{SAMPLE_SITES} sites on the map")
    legend = page.get_by_test_id("map-legend")
    expect(legend).to_contain_text("conforming (1)")
    expect(legend).to_contain_text("error (1)")
    expect(legend).to_contain_text("not sampled")
    expect(legend).to_contain_text("to do")
    box.scroll_into_view_if_needed()
    screenshot(page, "map-verification-sample.png")
    assert problems == []
    context.close()
