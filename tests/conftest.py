"""Fixtures for integration and end-to-end tests. Unit tests use none of them."""

from dataclasses import dataclass

import flask_migrate
import pytest
from flask import g
from flask.testing import FlaskClient

from poa_manager import create_app
from poa_manager.accounts import services as account_services
from poa_manager.accounts import two_factor
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.config import Config, TestingConfig
from poa_manager.database import db as _db
from poa_manager.database import utcnow
from poa_manager.extensions import limiter
from poa_manager.programmes.models import Programme
from tests.databases import on_postgresql, rolled_back_transactions
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganisationFactory,
    ProgrammeFactory,
    SiteFactory,
    UserFactory,
)

_FIGURES: list[str] = []


@pytest.fixture
def figures(request):
    """`figures.append("N cells, 0 unexpected")`: a figure the test proves, printed at the end of
    every run (quiet or not) under "Figures", so `make test` shows what was measured."""
    reported: list[str] = []
    yield reported
    _FIGURES.extend(f"{request.node.nodeid}: {line}" for line in reported)


def report_figure(line: str) -> None:
    """A figure from a session fixture, which has no test to name it by (printed the same way)."""
    _FIGURES.append(line)


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("Figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    if on_postgresql():
        return
    skip = pytest.mark.skip(reason="PostgreSQL only: set POA_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


class RequestLikeProductionClient(FlaskClient):
    """A test client whose requests behave as they would in production.

    Tests share one app context (and so one session and one `g`) with the requests they make.
    Before each request the test's own changes are committed (to a SAVEPOINT the `db` fixture
    rolls back later), so a request that fails and rolls back cannot undo the test's set-up, and
    `g` is emptied, so nothing a previous request loaded (such as the logged-in user) leaks in.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()
        g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app("testing", READINGS_UPLOAD_FOLDER=str(tmp_path_factory.mktemp("uploads")))
    app.test_client_class = RequestLikeProductionClient
    with app.app_context():
        # The schema under test is the migrated one, so the audit triggers exist as in production.
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        for engine in _db.engines.values():
            engine.dispose()  # close pooled connections before the interpreter does it noisily


@pytest.fixture
def db(app):
    """A database whose changes are rolled back when the test ends, even where views commit."""
    with app.app_context(), rolled_back_transactions():
        yield _db


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def production_rate_limit(app):
    app.config["LOGIN_RATE_LIMIT"] = Config.LOGIN_RATE_LIMIT
    limiter.reset()
    yield Config.LOGIN_RATE_LIMIT
    app.config["LOGIN_RATE_LIMIT"] = TestingConfig.LOGIN_RATE_LIMIT
    limiter.reset()


@pytest.fixture
def login_as(app, db):
    """Log a user in through the real login form; returns a client holding the session cookie."""

    def login(user: User, password: str = PASSWORD):
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.data
        step = response.headers["Location"]
        if step.endswith(("/login/two-factor", "/login/two-factor/enrol")):
            # Registry administrators and host-government users have a second step: enrol (the
            # secret was just made) or give a code, as the user's authenticator app would.
            response = client.post(step, data={"code": fresh_totp_code(user)})
            assert response.status_code in (200, 302), response.data
            assert "/login" not in response.headers.get("Location", ""), response.headers
        return client

    return login


def fresh_totp_code(user: User) -> str:
    """A code the server accepts now: of a step (now ± 1) later than the last one used. Logging
    the same user in several times within 30 s would otherwise be refused as a replay, which
    test_two_factor.py tests on purpose; here the next step's code is used, or the replay mark is
    cleared when even that was used (a login helper, not a test of replay protection)."""
    _db.session.refresh(user)
    current = two_factor.step_of(utcnow())
    last = user.totp_last_step
    candidates = [step for step in (current, current + 1) if last is None or step > last]
    if not candidates:
        user.totp_last_step = None
        _db.session.commit()
        candidates = [current]
    return two_factor.code_at_step(user.totp_secret, candidates[0])


@pytest.fixture
def api_headers_for(db):
    def headers(user: User) -> dict[str, str]:
        _token, plain = account_services.create_api_token(
            actor=user, name="test", expires_in_days=1, now=utcnow()
        )
        return {"Authorization": f"Bearer {plain}"}

    return headers


@dataclass
class World:
    """Two programmes of two coordinating entities, with one user per role on the first."""

    programme: Programme
    other_programme: Programme
    admin: User
    coordinator: User
    site_operator: User
    verifier: User
    registry_administrator: User
    viewer: User
    outsider: User  # coordinator of the other programme

    def by_role(self, name: str) -> User:
        return getattr(self, name)


ROLE_NAMES = ["admin", "coordinator", "site_operator", "verifier", "registry_administrator", "viewer"]


@pytest.fixture
def world(db) -> World:
    cme = OrganisationFactory(kind=OrganisationKind.coordinating_entity)
    other_cme = OrganisationFactory(kind=OrganisationKind.coordinating_entity)
    programme = ProgrammeFactory(coordinating_entity=cme)
    other_programme = ProgrammeFactory(coordinating_entity=other_cme)
    site = SiteFactory(programme=programme)
    SiteFactory(programme=other_programme)

    def member(kind: OrganisationKind, role: Role, **extra) -> User:
        user = UserFactory(organisation=OrganisationFactory(kind=kind))
        MembershipFactory(user=user, programme=programme, role=role, **extra)
        return user

    coordinator = UserFactory(organisation=cme)
    MembershipFactory(user=coordinator, programme=programme, role=Role.coordinator)
    outsider = UserFactory(organisation=other_cme)
    MembershipFactory(user=outsider, programme=other_programme, role=Role.coordinator)
    return World(
        programme=programme,
        other_programme=other_programme,
        admin=UserFactory(
            organisation=OrganisationFactory(kind=OrganisationKind.registry_authority), is_admin=True
        ),
        coordinator=coordinator,
        site_operator=member(OrganisationKind.site_operator, Role.site_operator, site_id=site.id),
        verifier=member(OrganisationKind.verifier, Role.verifier),
        registry_administrator=member(OrganisationKind.registry_authority, Role.registry_administrator),
        viewer=member(OrganisationKind.host_government, Role.viewer),
        outsider=outsider,
    )
