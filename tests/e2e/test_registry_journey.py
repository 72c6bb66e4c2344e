"""The registry journey in a real browser: the registry administrator approves a verified request's
issuance and forwards it by the JCM allocation table; the participant transfers part of a block to
Japan and then retires part of it, each approved by a second person; the public serial lookup,
with no login, shows the whole history back to the verification."""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from poa_manager.accounts.models import Organisation, User
from poa_manager.database import db
from poa_manager.programmes.models import Programme
from poa_manager.registry import services
from poa_manager.registry.models import AccountKind, Issuance
from tests.e2e.conftest import Live
from tests.e2e.test_browser_journey import screenshot
from tests.e2e.test_programme_journey import _log_in
from tests.verification_support import verified_request

pytestmark = pytest.mark.e2e


def _verified_request(live: Live) -> int:
    """A request verified by the demo's TPE team (the pages for that are the verification journey's)."""
    with live.app.app_context():
        user = {u.email: u for u in db.session.scalars(sa.select(User))}
        programme = db.session.scalar(sa.select(Programme).where(Programme.reference == "VN-JCM-PoA-001"))
        request = verified_request(
            programme,
            user["coordinator@demo.example.org"],
            user["auditor@demo.example.org"],
            user["reviewer@demo.example.org"],
            [Decimal("100.5"), Decimal("120.5"), Decimal("140.5")],
        )
        db.session.commit()
        request_id = request.id
        db.session.remove()
    return request_id


def _accounts(live: Live, issuance_id: int) -> tuple[int, int, str]:
    """The participant's and Japan's holding accounts, and the participant's first forwarded serial."""
    with live.app.app_context():
        names = {o.name: o.id for o in db.session.scalars(sa.select(Organisation))}
        cme = services.account_of(names["Mekong Clean Energy Coordinator JSC"], AccountKind.holding)
        japan = services.account_of(
            names["Government of Japan (Ministry of the Environment)"], AccountKind.holding
        )
        issuance = db.session.get(Issuance, issuance_id)
        block = next(b for b in issuance.blocks if b.account_id == cme.id)
        ids = cme.id, japan.id, block.serial
        db.session.remove()
    return ids


def _confirm(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


def test_issue_forward_transfer_retire_and_look_up_the_serial(browser: Browser, live: Live):
    request_id = _verified_request(live)

    registry = _log_in(browser, live.url, "registry@demo.example.org")
    registry.goto(f"/issuance-requests/{request_id}")
    _confirm(registry)
    registry.get_by_test_id("approve-issuance").click()
    expect(registry.get_by_test_id("credits")).to_have_text("361")
    expect(registry.get_by_test_id("requested-by")).to_have_text("Minh Coordinator")
    expect(registry.get_by_test_id("approved-by")).to_contain_text("Thu Registry")
    # JCM model project: 50 % Japan, 10 % Viet Nam, 40 % the participant → 181 / 36 / 144 credits.
    expect(registry.get_by_test_id("allocation")).to_contain_text("181")
    _confirm(registry)
    registry.get_by_test_id("forward").click()
    expect(registry.get_by_test_id("issuance-status")).to_have_text("forwarded")
    screenshot(registry, "registry-issuance-forwarded.png")
    issuance_id = int(registry.url.rstrip("/").rsplit("/", 1)[1])
    cme_account, japan_account, serial = _accounts(live, issuance_id)

    # The participant sells 10 credits of its block to Japan; its second person approves.
    coordinator = _log_in(browser, live.url, "coordinator@demo.example.org")
    coordinator.goto(f"/registry/accounts/{cme_account}")
    expect(coordinator.get_by_test_id("ledger-balance")).to_have_text("144")
    block = coordinator.locator("[data-testid=move] details").first
    block_id = block.get_attribute("data-block")
    block.locator("summary").click()
    coordinator.locator(f"#transfer-{block_id}-quantity").fill("10")
    coordinator.locator(f"#transfer-{block_id}-to_account_id").select_option(str(japan_account))
    _confirm(coordinator)
    coordinator.get_by_role("button", name="Propose the transfer").first.click()
    expect(coordinator.get_by_test_id("transaction-status")).to_have_text("proposed")
    expect(coordinator.get_by_test_id("four-eyes")).to_be_visible()
    transfer_url = coordinator.url

    trader = _log_in(browser, live.url, "trader@demo.example.org")
    trader.goto(transfer_url)
    _confirm(trader)
    trader.get_by_test_id("approve").click()
    expect(trader.get_by_test_id("transaction-status")).to_have_text("completed")

    # Then it retires 5 of the credits it kept (the first sub-block stays with the holder).
    coordinator.goto(f"/registry/accounts/{cme_account}")
    kept = coordinator.locator(f"[data-block='{block_id}']")
    kept.locator("summary").click()
    coordinator.locator(f"#retire-{block_id}-quantity").fill("5")
    coordinator.locator(f"#retire-{block_id}-beneficiary").fill("Binh Duong Industrial Park")
    coordinator.locator(f"#retire-{block_id}-purpose").fill("2025 voluntary climate claim")
    coordinator.locator(f"#retire-{block_id}-using_entity").fill("Binh Duong Industrial Park JSC")
    _confirm(coordinator)
    kept.get_by_role("button", name="Propose the retirement").click()
    retirement_url = coordinator.url
    trader.goto(retirement_url)
    _confirm(trader)
    trader.get_by_test_id("approve").click()
    expect(trader.get_by_test_id("transaction-status")).to_have_text("completed")
    coordinator.goto(f"/registry/accounts/{cme_account}")
    expect(coordinator.get_by_test_id("ledger-balance")).to_have_text("129")

    # Anyone, with no login, looks up the original block's serial range and sees all of it.
    public = browser.new_context(base_url=live.url).new_page()
    public.goto("/registry/serials")
    public.get_by_role("textbox").first.fill(serial)
    public.get_by_role("button", name="Look up").click()
    results = public.get_by_test_id("result")
    expect(results).to_have_count(3)  # kept, transferred and retired sub-blocks
    kinds = public.locator("[data-testid=history] tr[data-kind]")
    for kind in ("issuance", "forward", "transfer", "retirement"):
        expect(kinds.and_(public.locator(f"[data-kind={kind}]")).first).to_be_visible()
    expect(public.get_by_test_id("beneficiary").first).to_have_text("Binh Duong Industrial Park")
    expect(public.locator("body")).to_contain_text("VN-JCM-PoA-001")
    expect(public.get_by_test_id("status")).to_have_text(["active", "retired", "active"])
    screenshot(public, "registry-public-lookup.png")
