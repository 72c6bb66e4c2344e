"""Journeys through a real browser: log in, see one's roles and menus, log out, read the API docs."""

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

from poa_manager.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"  # kept by CI


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


# The demo users whose role requires TOTP (registry administrator, host government): the demo
# enrols them with DEMO_TOTP_SECRET, and the login asks for a code after the password.
TWO_FACTOR_DEMO_USERS = {
    "registry@demo.example.org",
    "government@demo.example.org",
    "japan@demo.example.org",
}
_LAST_STEP: dict[str, int] = {}


def fresh_totp_code(account: str, secret: str = DEMO_TOTP_SECRET) -> str:
    """The code an authenticator app would show, for a 30-s step later than the last one this
    run sent for the account: the server refuses a replayed code, and journeys log the same
    user in within seconds of each other. Waits for the next step only if both are used."""
    while True:
        current = int(time.time()) // 30
        for step in (current, current + 1):  # the server accepts one step of drift
            if step > _LAST_STEP.get(account, -1):
                _LAST_STEP[account] = step
                return pyotp.TOTP(secret).at(step * 30)
        time.sleep(1)


def complete_two_factor(page: Page, email: str) -> None:
    """The second login step for the demo users who have one; nothing for the others."""
    if email not in TWO_FACTOR_DEMO_USERS:
        return
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    page.get_by_label("Code", exact=True).fill(fresh_totp_code(email))
    page.get_by_role("button", name="Verify", exact=True).click()


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    complete_two_factor(page, email)


def nav_menu(page: Page, title: str) -> Locator:
    """The drop-down menu of the main navigation whose summary reads exactly `title`."""
    summary = page.locator("summary", has_text=re.compile(rf"^\s*{re.escape(title)}\s*$"))
    return page.get_by_role("navigation", name="Main").locator("details.dropdown", has=summary)


def test_coordinator_logs_in_sees_their_role_and_logs_out(page: Page, live_server: str):
    log_in(page, "coordinator@demo.example.org")

    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Minh Coordinator")
    row = page.get_by_test_id("roles").locator("tbody tr", has_text="VN-JCM-PoA-001")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("Coordinator")
    expect(nav_menu(page, "Admin")).to_have_count(0)  # administration is for platform admins only
    screenshot(page, "dashboard-coordinator.png")

    # The button sits in a closed drop-down: a click only lands once the menu is open.
    account_menu = nav_menu(page, "Minh Coordinator")
    account_menu.locator("summary").click()
    account_menu.get_by_test_id("logout").click()

    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    page.goto("/")
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/login(\?|$)"))
    expect(page.get_by_label("E-mail", exact=True)).to_be_visible()


def test_admin_has_an_admin_menu(page: Page, live_server: str):
    log_in(page, "admin@demo.example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Linh Admin")

    admin_menu = nav_menu(page, "Admin")
    admin_menu.locator("summary").click()
    expect(admin_menu.get_by_role("link")).to_have_text(
        ["Organisations", "Users", "Audit log", "Sites registered elsewhere"]
    )

    admin_menu.get_by_role("link", name="Users", exact=True).click()
    expect(page).to_have_url(f"{live_server}/admin/users")
    expect(page.get_by_role("main")).to_contain_text("coordinator@demo.example.org")


def test_api_docs_render_from_vendored_files_under_the_strict_csp(page: Page):
    console, errors = [], []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: errors.append(str(error)))

    response = page.goto("/api/docs/")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=15_000)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("poa_manager API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")  # late requests could still be refused
    screenshot(page, "api-docs.png")

    violations = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == []
    assert errors == []
