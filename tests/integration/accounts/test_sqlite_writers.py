"""On a SQLite file, a request that read and then writes must start again as a writer.

A deferred SQLite transaction that has read cannot become a writer once another connection has
committed since (SQLITE_BUSY_SNAPSHOT, "database is locked" at once, whatever the busy timeout).
Pages and API calls touch the login session's / token's last-used time once a minute after
reading it; the load test met the error on the API (docs/load.md). Here another connection
commits right after the read, every time, so a request that did not start again would fail.
"""

import sqlite3
from datetime import timedelta

import flask_migrate
import pytest
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.accounts import services as account_services
from poa_manager.database import db, utcnow
from tests.databases import on_postgresql
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.skipif(on_postgresql(), reason="SQLite's snapshot rule; PostgreSQL has none")


@pytest.fixture
def sqlite_app(tmp_path):
    path = tmp_path / "writers.sqlite3"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", LOG_LEVEL="WARNING")
    with app.app_context():
        flask_migrate.upgrade()
    yield app, path
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _commit_elsewhere_after_reading(app, path, table: str) -> dict:
    """After the first read of `table`, another connection commits a write (a no-op update).
    Only the first: a request that starts again holds the write lock, and the other connection
    would wait for it."""
    seen = {"reads": 0}

    def after(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            seen["reads"] += 1
            if seen["reads"] > 1:
                return
            other = sqlite3.connect(path, timeout=10)
            try:
                other.execute("UPDATE organisations SET name = name")
                other.commit()
            finally:
                other.close()

    with app.app_context():
        sa.event.listen(db.engine, "after_cursor_execute", after)
    return seen


def _age(app, table: str, column: str) -> None:
    with app.app_context():
        db.session.execute(
            sa.text(f"UPDATE {table} SET {column} = :t"), {"t": utcnow() - timedelta(minutes=5)}
        )
        db.session.commit()
        db.session.remove()


def test_a_page_touching_its_login_session_after_another_commit_is_served(sqlite_app):
    app, path = sqlite_app
    with app.app_context():
        email = UserFactory().email
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    _age(app, "login_sessions", "last_seen_at")
    seen = _commit_elsewhere_after_reading(app, path, "login_sessions")

    response = client.get("/account")

    assert response.status_code == 200, response.data[:300]
    assert seen["reads"] == 2  # read, then read again as a writer before the write
    with app.app_context():
        last_seen = db.session.scalar(sa.text("SELECT last_seen_at FROM login_sessions"))
    assert str(last_seen) >= str(utcnow() - timedelta(minutes=1))


def test_an_api_call_touching_its_token_after_another_commit_is_served(sqlite_app):
    app, path = sqlite_app
    with app.app_context():
        user = UserFactory()
        db.session.flush()
        _token, plain = account_services.create_api_token(
            actor=user, name="t", expires_in_days=1, now=utcnow()
        )
        db.session.commit()
        db.session.remove()
    _age(app, "api_tokens", "last_used_at")
    seen = _commit_elsewhere_after_reading(app, path, "api_tokens")

    response = app.test_client().get("/api/v1/programmes", headers={"Authorization": f"Bearer {plain}"})

    assert response.status_code == 200, response.data[:300]
    assert seen["reads"] == 2
