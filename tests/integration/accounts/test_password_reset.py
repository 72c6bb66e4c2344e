"""Password reset through the real pages: an e-mailed link (a real SMTP server on 127.0.0.1) and an
administrator's one-time link; expiry, single use, invalidation by a password change, the end of
other sessions, the same answer for every address, audit entries and the rate limit."""

import re
import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from poa_manager.accounts import services, two_factor
from poa_manager.accounts.models import PasswordResetToken
from poa_manager.audit.models import AuditEntry
from poa_manager.config import Config, TestingConfig
from poa_manager.database import utcnow
from poa_manager.extensions import limiter
from tests.factories import PASSWORD, UserFactory

SETTINGS = services.AccountSettings()
NEW_PASSWORD = "violet-harbour-lantern-93"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def mail_server(app):
    """A real SMTP server on loopback, and POA_SMTP_* / POA_MAIL_BASE_URL pointing at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    keys = ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "MAIL_FROM", "MAIL_BASE_URL")
    saved = {key: app.config.get(key) for key in keys}
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_STARTTLS=False,
        MAIL_FROM="accounts@poa.test",
        MAIL_BASE_URL="https://poa.test",
    )
    yield inbox
    app.config.update(saved)
    controller.stop()


def _link_in(message) -> str:
    [link] = re.findall(r"https://poa\.test(/password/reset/[\w-]+)", message.get_content())
    return link


def _audit(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _log_in(app, email: str, password: str):
    client = app.test_client()
    return client, client.post("/login", data={"email": email, "password": password})


def test_an_emailed_link_resets_the_password_once_and_ends_every_session(
    app, client, db, login_as, mail_server
):
    user = UserFactory()
    other_device = login_as(user)

    answer = client.post("/password/forgot", data={"email": user.email.upper()})

    assert answer.status_code == 200 and b"If the address belongs to an active account" in answer.data
    [message] = mail_server.messages
    assert message["To"] == user.email and message["From"] == "accounts@poa.test"
    link = _link_in(message)
    token = link.rsplit("/", 1)[1]
    stored = db.session.scalar(sa.select(PasswordResetToken))
    assert stored.channel == "email" and stored.token_hash != token and len(token) >= 43  # 256 bits
    assert timedelta(minutes=29) < stored.expires_at - stored.created_at <= timedelta(minutes=30)
    assert client.get(link).status_code == 200  # opening the link spends nothing

    done = client.post(link, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert done.status_code == 302 and done.location == "/login"
    assert other_device.get("/").status_code == 302  # the reset ended the other sessions
    assert _log_in(app, user.email, PASSWORD)[1].status_code == 401
    fresh, response = _log_in(app, user.email, NEW_PASSWORD)
    assert response.status_code == 302 and fresh.get("/").status_code == 200
    again = client.post(link, data={"new_password": "another-river-stone-71", "confirm_password": "x"})
    assert again.status_code == 404 and client.get(link).status_code == 404
    [reset] = _audit(db, "user.password_reset")
    assert reset.data["channel"] == "email" and reset.data["login_sessions_ended"] == 1
    assert [e.data["outcome"] for e in _audit(db, "auth.password_reset_requested")] == ["link_issued"]
    assert [e.data["reason"] for e in _audit(db, "auth.password_reset_refused")] == ["invalid_link"]


def test_the_answer_is_the_same_for_known_unknown_and_inactive_addresses(client, db, mail_server, figures):
    known = UserFactory()
    inactive = UserFactory(is_active=False)
    answers = {
        label: client.post("/password/forgot", data={"email": email})
        for label, email in (
            ("known", known.email),
            ("unknown", "nobody-here@example.org"),
            ("inactive", inactive.email),
        )
    }

    bodies = {label: (r.status_code, r.data) for label, r in answers.items()}
    assert bodies["known"] == bodies["unknown"] == bodies["inactive"]
    assert [m["To"] for m in mail_server.messages] == [known.email]
    outcomes = [e.data["outcome"] for e in _audit(db, "auth.password_reset_requested")]
    assert outcomes == ["link_issued", "unknown_email", "inactive"]
    figure = f"forgot-password answers compared: {len(bodies)}, distinguishable: 0"
    figures.append(figure)
    print(figure)


def test_without_an_email_server_no_link_is_made_and_the_page_says_to_ask_an_administrator(client, db):
    user = UserFactory()
    page = client.get("/password/forgot")
    assert b"sends no e-mail" in page.data

    client.post("/password/forgot", data={"email": user.email})

    assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordResetToken)) == 0
    assert [e.data["outcome"] for e in _audit(db, "auth.password_reset_requested")] == ["no_email_server"]


def test_an_email_server_without_a_base_url_sends_no_link(app, client, db, mail_server):
    """A link built from the request's Host header could point at an attacker (reset poisoning)."""
    app.config["MAIL_BASE_URL"] = ""
    client.post("/password/forgot", data={"email": UserFactory().email}, headers={"Host": "evil.example"})
    assert mail_server.messages == []


def test_links_expire(client, db):
    user = UserFactory()
    then = utcnow() - timedelta(minutes=SETTINGS.reset_email_minutes + 1)
    token = services.request_password_reset(
        email=user.email, settings=SETTINGS, now=then, email_configured=True
    )
    plain = token[1]

    assert client.get(f"/password/reset/{plain}").status_code == 404
    response = client.post(
        f"/password/reset/{plain}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.status_code == 404 and b"expired" in response.data


def test_a_password_change_invalidates_open_links(login_as, db):
    user = UserFactory()
    client = login_as(user)
    plain = services.issue_reset_link(user, actor=UserFactory(is_admin=True), settings=SETTINGS, now=utcnow())
    assert client.get(f"/password/reset/{plain}").status_code == 200

    client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert client.get(f"/password/reset/{plain}").status_code == 404
    token = db.session.scalar(sa.select(PasswordResetToken))
    assert token.invalidated_at is not None and token.used_at is None


def test_an_administrator_issues_a_one_time_link_shown_once(app, world, login_as, db):
    admin = login_as(world.admin)
    user = world.coordinator
    assert login_as(world.viewer).post(f"/admin/users/{user.id}/reset-link").status_code == 403

    first = admin.post(f"/admin/users/{user.id}/reset-link")
    second = admin.post(f"/admin/users/{user.id}/reset-link")

    [link] = re.findall(r'value="http://localhost(/password/reset/[\w-]+)"', first.text)
    [link2] = re.findall(r'value="http://localhost(/password/reset/[\w-]+)"', second.text)
    assert b"/password/reset/" not in admin.get(f"/admin/users/{user.id}").data  # shown once
    tokens = list(db.session.scalars(sa.select(PasswordResetToken).order_by(PasswordResetToken.id)))
    assert [t.channel for t in tokens] == ["admin", "admin"] and tokens[0].issued_by_id == world.admin.id
    assert timedelta(hours=23) < tokens[0].expires_at - tokens[0].created_at <= timedelta(hours=24)

    anonymous = app.test_client()
    done = anonymous.post(link2, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})

    assert done.status_code == 302
    assert anonymous.get(link).status_code == 404  # every other open link of the user is spent too
    assert len(_audit(db, "user.password_reset_link_issued")) == 2
    [reset] = _audit(db, "user.password_reset")
    assert reset.data["channel"] == "admin" and reset.data["other_reset_links_invalidated"] == 1


def test_a_reset_lifts_a_lock_out_but_keeps_the_second_factor(app, client, db):
    user = UserFactory()
    secret = services.begin_totp_enrolment(user, actor=user)
    services.confirm_totp_enrolment(
        user, actor=user, code=two_factor.code_at_step(secret, two_factor.step_of(utcnow())), now=utcnow()
    )
    user.locked_until = utcnow() + timedelta(minutes=10)
    plain = services.issue_reset_link(user, actor=UserFactory(is_admin=True), settings=SETTINGS, now=utcnow())

    client.post(
        f"/password/reset/{plain}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )

    assert not user.is_locked(utcnow())
    _fresh, response = _log_in(app, user.email, NEW_PASSWORD)
    assert response.location == "/login/two-factor"


def test_weak_passwords_are_refused_and_the_link_stays_usable(client, db):
    user = UserFactory()
    plain = services.issue_reset_link(user, actor=UserFactory(is_admin=True), settings=SETTINGS, now=utcnow())

    weak = client.post(
        f"/password/reset/{plain}", data={"new_password": "password", "confirm_password": "password"}
    )

    assert weak.status_code == 200 and b"field-error" in weak.data
    assert client.get(f"/password/reset/{plain}").status_code == 200


def test_reset_emails_per_account_are_capped(client, db, mail_server):
    user = UserFactory()
    for _ in range(SETTINGS.reset_emails_per_window + 2):
        client.post("/password/forgot", data={"email": user.email})

    assert len(mail_server.messages) == SETTINGS.reset_emails_per_window
    outcomes = [e.data["outcome"] for e in _audit(db, "auth.password_reset_requested")]
    assert outcomes.count("throttled") == 2


@pytest.fixture
def production_reset_rate_limit(app):
    app.config["PASSWORD_RESET_RATE_LIMIT"] = Config.PASSWORD_RESET_RATE_LIMIT
    limiter.reset()
    yield
    app.config["PASSWORD_RESET_RATE_LIMIT"] = TestingConfig.PASSWORD_RESET_RATE_LIMIT
    limiter.reset()


def test_the_forgot_password_form_is_rate_limited_per_client_address(client, db, production_reset_rate_limit):
    statuses = [
        client.post("/password/forgot", data={"email": f"someone{i}@example.org"}).status_code
        for i in range(7)
    ]
    assert statuses == [200] * 5 + [429, 429]


def test_the_api_issues_a_one_time_link_to_administrators_only(app, client, world, db, api_headers_for):
    user = world.coordinator
    url = f"/api/v1/users/{user.id}/reset-link"

    refused = client.post(url, headers=api_headers_for(world.viewer))
    answer = client.post(url, headers=api_headers_for(world.admin))

    assert refused.status_code in (403, 404), refused.json
    assert answer.status_code == 201, answer.json
    assert answer.json["expires_in_hours"] == 24
    link = answer.json["url"].removeprefix("http://localhost")
    anonymous = app.test_client()
    done = anonymous.post(link, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert done.status_code == 302
    assert (
        anonymous.post(
            link, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
        ).status_code
        == 404
    )
    [token] = db.session.scalars(sa.select(PasswordResetToken))
    assert token.channel == "admin" and token.issued_by_id == world.admin.id and token.used_at is not None
