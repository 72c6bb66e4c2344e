"""Two-factor authentication in a real browser: a user sets up TOTP from the account page (the QR
code drawn by the server loads under the CSP), keeps the recovery codes, and the next login asks
for a code, which the test computes with pyotp as an authenticator app would."""

import re

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from poa_manager.accounts import services as account_services
from poa_manager.accounts.login import account_settings
from poa_manager.accounts.models import Organisation
from poa_manager.database import db
from poa_manager.demo import DEMO_PASSWORD
from tests.e2e.conftest import Live
from tests.e2e.test_browser_journey import fresh_totp_code, screenshot

pytestmark = pytest.mark.e2e

EMAIL = "two-factor@demo.example.org"


def _new_user(live: Live) -> None:
    with live.app.app_context():
        cme = db.session.scalar(sa.select(Organisation).where(Organisation.name.like("Mekong Clean Energy%")))
        account_services.create_user(
            actor=None,
            email=EMAIL,
            full_name="Tam Two-Factor",
            organisation_id=cme.id,
            password=DEMO_PASSWORD,
            settings=account_settings(),
            must_change_password=False,
        )
        db.session.commit()
        db.session.remove()


def _password_step(browser: Browser, live: Live):
    page = browser.new_context(base_url=live.url).new_page()
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    return page


def test_a_user_sets_up_totp_and_then_logs_in_with_a_code(browser: Browser, live: Live):
    _new_user(live)
    page = _password_step(browser, live)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")  # no second step yet

    page.goto("/account")
    page.get_by_role("link", name="set it up").click()
    expect(page.get_by_test_id("two-factor-state")).to_contain_text("Off")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    qr = page.get_by_test_id("totp-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the same-origin SVG loaded under the CSP
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    screenshot(page, "two-factor-enrol.png")

    page.get_by_label("First code from the app", exact=True).fill(fresh_totp_code(EMAIL, secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    expect(codes).to_have_count(10)
    screenshot(page, "two-factor-recovery-codes.png")
    page.get_by_role("button", name="I have saved them: continue").click()
    expect(page.get_by_test_id("recovery-codes-left")).to_have_text("10")
    page.context.close()

    page = _password_step(browser, live)
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    page.goto("/account")  # the password alone opens nothing
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page = _password_step(browser, live)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    page.get_by_label("Code", exact=True).fill(wrong)
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator(".field-error")).to_contain_text("The code is wrong")
    screenshot(page, "two-factor-login.png")
    page.get_by_label("Code", exact=True).fill(fresh_totp_code(EMAIL, secret))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome, Tam Two-Factor")
    screenshot(page, "two-factor-logged-in.png")
