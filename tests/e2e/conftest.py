"""A live server on a scratch, migrated and seeded database, and the system's Chromium to drive it."""

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from poa_manager import create_app, demo
from poa_manager.accounts.login import account_settings
from poa_manager.accounts.models import LoginSession
from poa_manager.audit import services as audit_services
from poa_manager.database import db
from poa_manager.registry import services as registry_services
from tests.conftest import report_figure
from tests.databases import fresh_database

# Quiet and offline: no sandbox (containers run as root), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass(frozen=True)
class Live:
    """The served app, for a journey that must set up more than the demo (in its app context)."""

    app: Flask
    url: str


@contextmanager
def _served(tmp_path_factory, *, showcase: bool) -> Iterator[Live]:
    with fresh_database(tmp_path_factory.mktemp("e2e")) as url:
        uploads = tmp_path_factory.mktemp("uploads")
        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=url,
            WTF_CSRF_ENABLED=True,
            READINGS_UPLOAD_FOLDER=str(uploads),
        )
        with app.app_context():
            flask_migrate.upgrade()
            if showcase:
                demo.seed(settings=account_settings(), upload_folder=uploads, showcase=True)
            else:
                demo.seed(settings=account_settings())
            db.session.commit()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(app, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            with app.app_context():
                try:
                    problem = _check_after_the_journeys("showcase" if showcase else "small demo")
                finally:
                    # Pooled connections would keep the PostgreSQL scratch database from being dropped.
                    for engine in db.engines.values():
                        engine.dispose()
            if problem:
                pytest.fail(problem, pytrace=False)


def _check_after_the_journeys(name: str) -> str | None:
    """What `flask poa audit-verify` and `flask poa reconcile` check nightly, over everything the
    session's journeys committed (issue 8 item 5): reported as a figure, fatal when either fails."""
    chain = audit_services.verify_chain()
    registry = registry_services.reconcile()
    logins = db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession))
    db.session.remove()
    state = "intact" if chain.intact else f"BROKEN at row {chain.first_bad_seq} ({chain.reason})"
    report_figure(
        f"e2e {name} database after the session's journeys ({logins} logins): audit chain {state} "
        f"({chain.rows_checked} entries), reconcile: {len(registry.discrepancies)} discrepancies "
        f"({registry.issuances} issuances, {registry.credits_issued} credits)"
    )
    problems = ([] if chain.intact else [f"audit chain {state}"]) + registry.discrepancies
    return f"e2e {name} database after the journeys: {'; '.join(problems)}" if problems else None


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[Live]:
    """The real app served on loopback, CSRF on, over a database holding the small demo."""
    with _served(tmp_path_factory, showcase=False) as served:
        yield served


@pytest.fixture(scope="session")
def showcase(tmp_path_factory) -> Iterator[Live]:
    """The same over the full demo `make run` seeds: 200 sites, a year of readings, issued credits."""
    with _served(tmp_path_factory, showcase=True) as served:
        yield served


@pytest.fixture(scope="session")
def live_server(live: Live) -> str:
    """The base URL of the live app."""
    return live.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        message = "Chromium is not installed: apt-get install chromium (these tests never download one)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh tab with no cookies, so every test starts logged out."""
    context = browser.new_context(base_url=live_server)
    yield context.new_page()
    context.close()
