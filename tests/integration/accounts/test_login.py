"""Logging in and out through the real form: sessions, replay, lock-out, rate limit, CSRF."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from poa_manager.accounts.models import LoginSession
from poa_manager.audit.models import AuditEntry
from poa_manager.database import utcnow
from tests.factories import PASSWORD, UserFactory


def _session_cookie(client) -> str | None:
    cookie = client.get_cookie("poa_session")
    return cookie.value if cookie else None


def test_login_opens_a_session_and_renews_the_cookie(client, db):
    user = UserFactory()
    client.get("/login")
    client.post("/login", data={"email": "nobody@example.org", "password": "x"})  # leaves a flash
    before = _session_cookie(client)

    response = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD})

    assert response.status_code == 302 and response.location == "/"
    assert _session_cookie(client) not in (None, before)
    assert client.get("/").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1
    assert user.last_login_at is not None


def test_copied_cookie_does_not_work_after_logout(login_as, app):
    user = UserFactory()
    client = login_as(user)
    stolen = _session_cookie(client)

    assert client.post("/logout").status_code == 302

    replay = app.test_client()
    replay.set_cookie("poa_session", stolen)
    response = replay.get("/")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert replay.get("/account").status_code == 302


def test_wrong_password_is_refused_with_one_message_for_every_cause(client, db):
    user = UserFactory()
    wrong = client.post("/login", data={"email": user.email, "password": "wrong-password-here"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "wrong-password-here"})

    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(rb"Wrong e-mail or password, or the account is locked")
    assert message.search(wrong.data) and message.search(unknown.data)
    assert user.failed_login_count == 1
    reasons = [
        e.data["reason"]
        for e in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "auth.login_failed"))
    ]
    assert reasons == ["wrong_password", "unknown_email"]


def test_account_locks_after_five_failures_and_refuses_even_the_right_password(client, db):
    user = UserFactory()
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "wrong-password-here"})

    assert user.is_locked(utcnow())
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401
    assert client.get("/").status_code == 302  # still not logged in

    user.locked_until = utcnow() - timedelta(seconds=1)  # the lock runs out
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_inactive_user_cannot_log_in_and_existing_sessions_end(login_as, client, db):
    user = UserFactory()
    logged_in = login_as(user)
    user.is_active = False
    db.session.flush()

    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    assert logged_in.get("/").status_code == 302


def test_login_rate_limit_answers_429_per_client_address(client, production_rate_limit):
    assert production_rate_limit.startswith("10 per minute")
    statuses = [
        client.post(
            "/login", data={"email": f"u{i}@example.org", "password": "wrong-password-here"}
        ).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account", "/account"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_redirects_only_to_pages_of_this_site(client, db, next_url, expected):
    user = UserFactory()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "next": next_url})
    assert response.location == expected


def test_user_with_a_temporary_password_must_change_it_first(login_as, db):
    user = UserFactory(must_change_password=True)
    client = login_as(user)

    assert client.get("/").location == "/account/password"
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "amber-violin-orchard-19",
            "confirm_password": "amber-violin-orchard-19",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert not user.must_change_password


def test_changing_password_ends_the_other_sessions(login_as, app, db):
    user = UserFactory()
    laptop, phone = login_as(user), login_as(user)

    laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "amber-violin-orchard-19",
            "confirm_password": "amber-violin-orchard-19",
        },
    )

    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302


def test_weak_new_password_is_refused_next_to_the_field(login_as, db):
    client = login_as(UserFactory())
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "password1234",
            "confirm_password": "password1234",
        },
    )
    assert response.status_code == 200
    assert b'aria-invalid="true"' in response.data
    assert b"new_password-error" in response.data


@pytest.mark.usefixtures("csrf_enabled")
def test_forms_without_a_csrf_token_are_refused(login_as, client, db):
    user = UserFactory()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 400

    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302

    assert client.post("/logout").status_code == 400  # no token: still logged in
    assert client.get("/").status_code == 200
