"""The verification journey in a real browser: the coordinator assigns a verifier (the validator is
refused by the impartiality rule), the auditor sets a 90/10 plan stratified by technology on a
1,000-site request and sees the live sample size, records three errors through the pages and the
other findings through the API, reads the corrected total (checked against a hand calculation),
exports the sample, drafts the statement, and a colleague approves it. The auditor sees nothing
outside the assignment."""

import csv
import io
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from poa_manager import demo
from poa_manager.accounts import services as account_services
from poa_manager.accounts.models import Organisation, User
from poa_manager.database import db, utcnow
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.models import Programme
from tests.e2e.conftest import Live
from tests.e2e.test_browser_journey import screenshot
from tests.e2e.test_programme_journey import _log_in
from tests.verification_support import claims_of, correct_by_hand, submitted_request

pytestmark = pytest.mark.e2e

TECHNOLOGIES = ["solar_pv"] * 600 + ["wind"] * 300 + ["biomass"] * 100
STRATUM_SIZES = {"solar_pv": 600, "wind": 300, "biomass": 100}
CUTS = {0: Decimal("12.5"), 20: Decimal("30"), 63: Decimal("100.5")}  # sample row → tCO2e not found


def _set_up(live: Live) -> tuple[int, int, str]:
    """A submitted 1,000-site request on the demo programme, a programme the auditor has no part in,
    and the auditor's API token (as a logger or script would hold it)."""
    with live.app.app_context():
        user = {u.email: u for u in db.session.scalars(sa.select(User))}
        coordinator = user["coordinator@demo.example.org"]
        programme = db.session.scalar(sa.select(Programme).where(Programme.reference == "VN-JCM-PoA-001"))
        documents = demo.SITES[0]["documents"]  # what the demo's eligibility criteria require
        request = submitted_request(
            programme,
            coordinator,
            claims_of(1000),
            facts=[{"technology": t, "documents": documents} for t in TECHNOLOGIES],
        )
        elsewhere = programme_services.create_programme(
            actor=coordinator,
            coordinating_entity_id=db.session.scalar(
                sa.select(Organisation.id).where(Organisation.name == demo.ORGANISATIONS["cme"][0])
            ),
            **{**demo.PROGRAMME, "reference": "VN-JCM-PoA-099", "title": "Not assigned to the auditor"},
        )
        _token, plain = account_services.create_api_token(
            actor=user["auditor@demo.example.org"], name="findings script", expires_in_days=1, now=utcnow()
        )
        db.session.commit()
        ids = request.id, elsewhere.id
        db.session.remove()
    return *ids, plain


def test_a_verifier_samples_a_1000_site_request_and_the_correction_matches_the_hand_calculation(
    browser: Browser, live: Live
):
    request_id, elsewhere_id, token = _set_up(live)

    # The coordinator assigns the TPE; Kenji validated the programme, so he may not be on the team.
    coordinator = _log_in(browser, live.url, "coordinator@demo.example.org")
    coordinator.goto(f"/issuance-requests/{request_id}")
    coordinator.get_by_role("link", name="assign a verifier").click()
    expect(coordinator.get_by_test_id("impartiality")).to_contain_text(
        "Kenji Verifier <verifier@demo.example.org>: validated design version 1"
    )
    coordinator.get_by_label("Team").select_option(label="Kenji Verifier <verifier@demo.example.org>")
    coordinator.get_by_role("button", name="Assign").click()
    expect(coordinator.locator(".flash-error")).to_contain_text("Impartiality")
    screenshot(coordinator, "verification-impartiality-refused.png")
    coordinator.get_by_label("Team").select_option(
        label=["Aiko Auditor <auditor@demo.example.org>", "Taro Reviewer <reviewer@demo.example.org>"]
    )
    coordinator.get_by_label("Lead").select_option(label="Aiko Auditor")
    coordinator.get_by_role("button", name="Assign").click()
    expect(coordinator.get_by_test_id("verification-status")).to_have_text("assigned")

    # The auditor finds the assignment and sets the plan; the sample size follows as she types.
    auditor = _log_in(browser, live.url, "auditor@demo.example.org")
    auditor.goto("/verifications")
    auditor.get_by_role("link", name=re.compile(r"^VER-")).first.click()
    verification_url = auditor.url
    auditor.get_by_role("link", name="set the sampling plan").click()
    auditor.get_by_label("Confidence").fill("0.90")
    auditor.get_by_label("Relative precision").fill("0.10")
    auditor.get_by_label("Expected coefficient of variation V").fill("0.5")
    auditor.get_by_label("Stratify by").select_option("technology")
    auditor.get_by_label("Allocation").select_option("proportional")
    # Hand: n = 1000·1.6449²·0.25 / (999·0.01 + 1.6449²·0.25) = 63.4 → 64; proportional 38.4/19.2/6.4
    # gives 38/19/6 and the last site goes to the larger remainder's tie-break: 38/19/7.
    expect(auditor.get_by_test_id("sample-n")).to_have_text("64")
    strata = auditor.get_by_test_id("strata").locator("tbody tr")
    expect(strata.locator("td:first-child")).to_have_text(["biomass", "solar_pv", "wind"])
    expect(strata.locator("td:last-child")).to_have_text(["7", "38", "19"])
    auditor.get_by_label("Seed").fill("2026")
    screenshot(auditor, "verification-plan.png")
    auditor.get_by_role("button", name="Freeze the frame and draw").click()
    expect(auditor.locator(".flash-success")).to_contain_text("Sample drawn with seed 2026")
    rows = auditor.get_by_test_id("sample").locator("tbody tr")
    expect(rows).to_have_count(64)
    references = [rows.nth(i).get_attribute("data-site") for i in range(64)]

    # Three errors found on site visits, recorded through the findings form.
    for row, cut in CUTS.items():
        auditor.get_by_role("link", name=references[row], exact=True).click()
        reported = Decimal(auditor.get_by_test_id("reported").inner_text())
        auditor.get_by_label("Verified tCO2e").fill(str(reported - cut))
        auditor.get_by_label("Finding").select_option("error")
        auditor.get_by_label("How").select_option("site_visit")
        auditor.get_by_label("Evidence").fill(f"Meter photo shows {cut} tCO2e less than reported.")
        auditor.get_by_role("button", name="Record the finding").click()
        expect(auditor.locator(".flash-success")).to_contain_text(f"Finding for {references[row]} recorded.")

    # The other 61 conform; a script records them through the API with the auditor's token.
    api = auditor.context.request
    bearer = {"Authorization": f"Bearer {token}"}
    verification_id = int(verification_url.rstrip("/").rsplit("/", 1)[1])
    frame_url = f"/api/v1/verifications/{verification_id}/frame?sampled=true&page_size=100"
    sample = api.get(frame_url, headers=bearer).json()
    assert len(sample) == 64
    for entry in sample:
        if entry["outcome"] is None:
            response = api.put(
                f"/api/v1/verifications/{verification_id}/findings/{entry['site_id']}",
                data={
                    "verified_tco2e": entry["claimed_tco2e"],
                    "outcome": "conforming",
                    "method": "remote",
                    "evidence": "Readings agree with the invoices.",
                },
                headers=bearer,
            )
            assert response.status == 200, response.text()

    # The corrected total across all 1,000 sites, against the same arithmetic done by hand.
    findings = api.get(frame_url, headers=bearer).json()
    hand = correct_by_hand(
        [(e["stratum"], Decimal(e["claimed_tco2e"]), Decimal(e["verified_tco2e"])) for e in findings],
        STRATUM_SIZES,
        sum(claims_of(1000), Decimal(0)),
    )
    assert sum(1 for e in findings if e["outcome"] == "error") == 3
    auditor.goto(verification_url)
    results = auditor.get_by_test_id("results")
    expect(results).to_contain_text("64 of 64 sampled sites have findings (population 1000); 3 errors")
    expect(auditor.locator("dl.facts").first).to_contain_text("130470 tCO2e over 1000 site lines")
    expect(auditor.get_by_test_id("achieved-precision")).to_contain_text(
        f"Sample meets 90/10: yes; achieved precision {hand.precision * 100:.2f} %"
    )
    assert Decimal(auditor.get_by_test_id("verified-total").inner_text()) == hand.verified_tco2e
    expect(auditor.get_by_test_id("credits-verified")).to_have_text(str(hand.credits))
    assert hand.verified_tco2e < sum(claims_of(1000), Decimal(0))
    screenshot(auditor, "verification-results.png")

    # The export holds the whole frame (whole-population checks cover every site), the sample marked.
    auditor.get_by_role("link", name="Sample and findings", exact=True).click()
    with auditor.expect_download() as download:
        auditor.get_by_role("link", name="CSV", exact=True).click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert len(exported) == 1000 and sum(1 for r in exported if r["sampled"] == "yes") == 64
    assert sorted(r["site_reference"] for r in exported if r["outcome"] == "error") == sorted(
        references[row] for row in CUTS
    )

    # The statement: drafted by the auditor, approved by her colleague (four eyes).
    auditor.goto(verification_url)
    auditor.get_by_label("Opinion").select_option("positive")
    auditor.get_by_label("Findings summary").fill("Three metering errors, corrected across the request.")
    auditor.get_by_role("button", name="Draft the statement").click()
    expect(auditor.get_by_test_id("verification-status")).to_have_text("statement drafted")
    reviewer = _log_in(browser, live.url, "reviewer@demo.example.org")
    reviewer.goto(verification_url)
    expect(reviewer.get_by_test_id("statement")).to_contain_text(f"{hand.credits} credits")
    reviewer.once("dialog", lambda dialog: dialog.accept())
    reviewer.get_by_role("button", name="Approve and issue the statement").click()
    expect(reviewer.get_by_test_id("verification-status")).to_have_text("completed")
    screenshot(reviewer, "verification-statement.png")
    reviewer.goto(f"/issuance-requests/{request_id}")
    expect(reviewer.get_by_test_id("request-status")).to_have_text("verified")

    # Nothing outside the assignment: not the other programme's page, nor through the API.
    _assert_not_found(auditor, f"/programmes/{elsewhere_id}")
    assert api.get(f"/api/v1/programmes/{elsewhere_id}", headers=bearer).status == 404
    auditor.goto("/programmes/")
    expect(auditor.get_by_role("link", name="VN-JCM-PoA-099")).to_have_count(0)


def _assert_not_found(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 404
