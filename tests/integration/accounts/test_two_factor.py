"""TOTP through the real pages: enrolment with a server-drawn QR code and recovery codes, the
second login step (wrong, replayed, drifted and recovery codes), the roles that must enrol, the
pending state that opens nothing, and `next` that never leaves the site."""

import hashlib
import re
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from poa_manager.accounts import services, two_factor
from poa_manager.accounts.models import ApiToken, LoginSession, RecoveryCode
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit.models import AuditEntry
from poa_manager.database import utcnow
from tests.factories import PASSWORD, OrganisationFactory, UserFactory

SETTINGS = services.AccountSettings()


def _enrolled(db, user) -> tuple[str, list[str]]:
    """Enrol through the services as the pages do; returns the secret and the recovery codes.
    The enrolling code's step is cleared so the test's first login may use the current code."""
    secret = services.begin_totp_enrolment(user, actor=user)
    now = utcnow()
    codes = services.confirm_totp_enrolment(
        user, actor=user, code=two_factor.code_at_step(secret, two_factor.step_of(now)), now=now
    )
    user.totp_last_step = None
    db.session.commit()
    return secret, codes


def _code(secret: str, offset: int = 0) -> str:
    return two_factor.code_at_step(secret, two_factor.step_of(utcnow()) + offset)


def _password_step(client, user, next_url: str = ""):
    form = {"email": user.email, "password": PASSWORD, "next": next_url}
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.data
    return response


def _actions(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_enrolment_draws_the_qr_code_here_confirms_a_code_and_shows_recovery_codes_once(login_as, db):
    user = UserFactory()
    client = login_as(user)
    assert b"set it up" in client.get("/account").data

    page = client.post("/account/two-factor/enrol")
    assert page.status_code == 200
    secret = user.totp_secret
    assert secret and two_factor.format_secret(secret).encode() in page.data
    assert b'src="/account/two-factor/qr.svg"' in page.data
    qr = client.get("/account/two-factor/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data and b"<script" not in qr.data and b"style=" not in qr.data
    assert "script-src 'self'" in qr.headers["Content-Security-Policy"]

    wrong = client.post(
        "/account/two-factor/confirm", data={"code": "000000" if _code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 422 and not user.has_two_factor

    shown = client.post("/account/two-factor/confirm", data={"code": _code(secret)})
    assert shown.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f-]{19})</code></li>", shown.text)
    assert len(codes) == 10 == len(set(codes))
    stored = set(db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    assert user.has_two_factor and user.totp_last_step is not None

    settings_page = client.get("/account/two-factor")
    assert b"Recovery codes left" in settings_page.data
    assert two_factor.format_secret(secret).encode() not in settings_page.data  # never shown again
    assert codes[0].encode() not in settings_page.data
    assert client.get("/account/two-factor/qr.svg").status_code == 404
    assert client.post("/account/two-factor/enrol").status_code == 302  # no second enrolment
    assert len(_actions(db, "user.two_factor_enabled")) == 1


def test_login_asks_for_the_code_after_the_password_and_not_before(client, db):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)

    response = _password_step(client, user)

    assert response.location == "/login/two-factor"
    assert client.get("/").status_code == 302  # not logged in yet
    assert user.last_login_at is None
    done = client.post("/login/two-factor", data={"code": _code(secret)})
    assert done.status_code == 302 and done.location == "/"
    assert client.get("/").status_code == 200
    [entry] = _actions(db, "auth.login_succeeded")
    assert entry.data["second_factor"] == "totp"
    # The pending row ended and a fresh one carries the login (a new key at the privilege change).
    sessions = list(db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id)))
    assert [(s.second_factor_pending, s.ended_at is None) for s in sessions] == [(True, False), (False, True)]


def test_wrong_codes_count_like_wrong_passwords_and_lock_the_account(client, db, figures):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)
    _password_step(client, user)
    right = _code(secret)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"

    answers = [client.post("/login/two-factor", data={"code": wrong}).status_code for _ in range(4)]
    assert answers == [401] * 4 and user.failed_login_count == 4
    fifth = client.post("/login/two-factor", data={"code": wrong})

    assert fifth.status_code == 302 and fifth.location == "/login"  # locked: the pending login ended
    assert user.is_locked(utcnow())
    after_lock = client.post("/login/two-factor", data={"code": right})
    assert after_lock.status_code == 302 and after_lock.location == "/login"
    assert client.get("/").status_code == 302
    assert (
        len(_actions(db, "auth.second_factor_failed")) == 5 and len(_actions(db, "auth.account_locked")) == 1
    )
    figures.append("wrong TOTP codes before lock-out: 5; right code accepted after lock-out: 0")


def test_a_code_used_once_is_refused_as_a_replay(app, client, db):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)
    code = _code(secret)
    _password_step(client, user)
    assert client.post("/login/two-factor", data={"code": code}).status_code == 302

    other = app.test_client()
    _password_step(other, user)
    replay = other.post("/login/two-factor", data={"code": code})

    assert replay.status_code == 401 and other.get("/").status_code == 302
    [failure] = _actions(db, "auth.second_factor_failed")
    assert failure.data["reason"] == "replayed"


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_one_step_of_clock_drift_is_accepted_either_way(db, offset, accepted):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)
    now = utcnow()
    key = services.start_login_session(user, settings=SETTINGS, now=now, pending=True)
    code = two_factor.code_at_step(secret, two_factor.step_of(now) + offset)

    if accepted:
        logged_in, full_key = services.complete_second_factor(key, code=code, settings=SETTINGS, now=now)
        assert logged_in.id == user.id
        assert services.resume_login_session(full_key, settings=SETTINGS, now=now).id == user.id
    else:
        with pytest.raises(services.SecondFactorRefused):
            services.complete_second_factor(key, code=code, settings=SETTINGS, now=now)


def test_a_recovery_code_logs_in_once(app, client, db):
    user = UserFactory()
    _secret, codes = _enrolled(db, user)
    _password_step(client, user)

    used = client.post("/login/two-factor", data={"code": codes[3].upper()})  # case and dashes do not matter

    assert used.status_code == 302 and client.get("/").status_code == 200
    assert services.recovery_codes_left(user) == 9
    [entry] = _actions(db, "auth.login_succeeded")
    assert entry.data == {"second_factor": "recovery_code", "recovery_codes_left": 9}
    other = app.test_client()
    _password_step(other, user)
    again = other.post("/login/two-factor", data={"code": codes[3]})
    assert again.status_code == 401 and other.get("/").status_code == 302


@pytest.mark.parametrize("who", ["registry_administrator", "viewer"])  # the viewer is a host government
def test_required_roles_are_sent_to_enrolment_and_can_open_nothing_else(app, world, db, who, figures):
    user = world.by_role(who)
    client = app.test_client()

    response = _password_step(client, user)

    assert response.location == "/login/two-factor/enrol"
    blocked = ["/", "/account", "/account/two-factor", "/programmes/", f"/programmes/{world.programme.id}"]
    answers = {path: client.get(path) for path in blocked}
    assert all(r.status_code == 302 and r.location.startswith("/login") for r in answers.values()), answers
    assert client.get("/login/two-factor").location == "/login/two-factor/enrol"
    page = client.get("/login/two-factor/enrol")
    assert page.status_code == 200 and b"Your role requires a second factor" in page.data
    assert client.get("/login/two-factor/enrol/qr.svg").mimetype == "image/svg+xml"

    confirmed = client.post("/login/two-factor/enrol", data={"code": _code(user.totp_secret)})

    assert confirmed.status_code == 200 and confirmed.text.count("<li><code>") == 10
    assert user.has_two_factor and client.get("/").status_code == 200
    refused = client.post("/account/two-factor/disable", data={"password": PASSWORD})
    assert refused.status_code == 422 and user.has_two_factor
    figures.append(f"{who}: pages opened before enrolment: 0 of {len(blocked)}")


def test_users_whose_role_does_not_require_it_go_straight_in_and_may_switch_it_off(login_as, db):
    user = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.coordinating_entity))
    assert not services.needs_second_factor(user)
    client = login_as(user)
    _enrolled(db, user)

    assert client.post("/account/two-factor/disable", data={"password": "wrong"}).status_code == 422
    assert user.has_two_factor
    assert client.post("/account/two-factor/disable", data={"password": PASSWORD}).status_code == 302
    assert not user.has_two_factor and user.totp_secret is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0


def test_the_pending_state_opens_no_page_and_creates_no_api_token(app, client, db, figures):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)
    _password_step(client, user)
    pending_key = db.session.scalar(
        sa.select(LoginSession).where(LoginSession.user_id == user.id)
    ).key_hash  # only the hash is stored: the key itself is in the signed cookie

    pages = ["/", "/account", "/account/two-factor", "/programmes/", "/admin/users", "/notifications/"]
    opened = [p for p in pages if client.get(p).status_code == 200]
    token_post = client.post("/account/tokens", data={"name": "sneaky", "expires_in_days": 1})
    api = client.get("/api/v1/me")

    assert opened == [] and token_post.status_code == 302 and token_post.location.startswith("/login")
    assert api.status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    assert len(pending_key) == 64
    # A pending key is refused where a full login-session key is expected (the Flask-Login slot).
    key = services.start_login_session(user, settings=SETTINGS, now=utcnow(), pending=True)
    assert services.resume_login_session(key, settings=SETTINGS, now=utcnow()) is None
    # And it lasts minutes, not hours.
    row = db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id)).first()
    assert row.expires_at - row.created_at <= timedelta(minutes=SETTINGS.second_factor_minutes, seconds=1)
    figures.append(f"pages opened in the pending state: {len(opened)} of {len(pages)}; API tokens created: 0")


def test_an_expired_pending_login_sends_back_to_the_password(db):
    user = UserFactory()
    secret, _codes = _enrolled(db, user)
    then = utcnow() - timedelta(minutes=SETTINGS.second_factor_minutes + 1)
    key = services.start_login_session(user, settings=SETTINGS, now=then, pending=True)

    with pytest.raises(services.PendingLoginExpired):
        services.complete_second_factor(key, code=_code(secret), settings=SETTINGS, now=utcnow())


def _leaves_site(location: str | None) -> bool:
    """Where a browser would go: off this host (browsers read a backslash as a slash)."""
    target = urlsplit(urljoin("http://poa.test/login", (location or "").replace("\\", "/")))
    return target.scheme not in ("http", "https") or target.netloc != "poa.test"


OPEN_REDIRECTS = [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "///evil.example",
    "https:evil.example",
    "//evil.example/%2F..",
    "javascript:alert(1)",
    "/%5Cevil.example",
    " //evil.example",
    "\t//evil.example",
    "evil.example",
    "data:text/html,hi",
]


def test_next_never_leaves_the_site_with_or_without_the_second_factor(app, db, figures):
    plain_user = UserFactory()
    totp_user = UserFactory()
    secret, _codes = _enrolled(db, totp_user)
    followed = []
    for payload in OPEN_REDIRECTS:
        client = app.test_client()
        response = _password_step(client, plain_user, payload)
        if _leaves_site(response.location):
            followed.append(("password", payload, response.location))
        client = app.test_client()
        _password_step(client, totp_user, payload)
        totp_user.totp_last_step = None  # one login per payload within one step: not a replay test
        db.session.commit()
        response = client.post("/login/two-factor", data={"code": _code(secret)})
        if _leaves_site(response.location):
            followed.append(("totp", payload, response.location))

    same_site = app.test_client()
    assert _password_step(same_site, plain_user, "/programmes/?page=2").location == "/programmes/?page=2"
    same_site_totp = app.test_client()
    _password_step(same_site_totp, totp_user, "/account")
    totp_user.totp_last_step = None
    db.session.commit()
    assert same_site_totp.post("/login/two-factor", data={"code": _code(secret)}).location == "/account"
    assert not any(_leaves_site(p) for p in ("/", "/account", "/%5Cevil.example"))
    assert all(_leaves_site(p) for p in ("//evil.example", "/\\evil.example", "https://evil.example"))
    tried = 2 * len(OPEN_REDIRECTS)
    figure = f"open-redirect payloads tried: {tried}, followed: {len(followed)}"
    figures.append(figure)
    print(figure)
    assert followed == [], figure


def test_an_administrator_can_reset_a_lost_second_factor(login_as, world, db):
    user = world.registry_administrator
    victim = login_as(user)  # enrols on the way in
    assert user.has_two_factor
    admin = login_as(world.admin)

    assert login_as(world.coordinator).post(f"/admin/users/{user.id}/two-factor/reset").status_code == 403
    response = admin.post(f"/admin/users/{user.id}/two-factor/reset")

    assert response.status_code == 302
    assert not user.has_two_factor and services.recovery_codes_left(user) == 0
    assert victim.get("/").status_code == 302  # their sessions ended
    assert len(_actions(db, "user.two_factor_reset")) == 1


def test_the_api_resets_a_lost_second_factor_for_administrators_only(
    client, login_as, world, db, api_headers_for
):
    user = world.registry_administrator
    victim = login_as(user)  # enrols on the way in
    assert client.get(f"/api/v1/users/{user.id}", headers=api_headers_for(world.admin)).json[
        "two_factor_enabled"
    ]
    url = f"/api/v1/users/{user.id}/two-factor/reset"

    refused = client.post(url, headers=api_headers_for(world.coordinator))
    answer = client.post(url, headers=api_headers_for(world.admin))

    assert refused.status_code == 404, refused.json  # a coordinator does not see other organisations' users
    assert answer.status_code == 200, answer.json
    assert answer.json["two_factor_enabled"] is False
    assert not user.has_two_factor and services.recovery_codes_left(user) == 0
    assert victim.get("/").status_code == 302  # their sessions ended
    assert len(_actions(db, "user.two_factor_reset")) == 1
