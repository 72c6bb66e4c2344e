"""Use cases for accounts: logging in and out, two-factor authentication, passwords and their
reset, organisations, users and API tokens."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from poa_manager.accounts import passwords, policies, two_factor
from poa_manager.accounts.models import (
    ApiToken,
    LoginSession,
    Organisation,
    PasswordResetToken,
    RecoveryCode,
    User,
)
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit
from poa_manager.database import count_rows, db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotAuthenticated, NotFound, RuleViolation

TOKEN_PREFIX = "poa_"
LOGIN_REFUSED = (
    "Wrong e-mail or password, or the account is locked after repeated failures. "
    "A locked account opens again after a while, or an administrator can unlock it."
)


@dataclass(frozen=True)
class AccountSettings:
    """The account rules that depend on configuration; entry points build it from app config."""

    lockout_threshold: int = 5
    lockout_minutes: int = 15
    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    password_min_length: int = 12
    # Between the password and the second factor (or the forced TOTP enrolment).
    second_factor_minutes: int = 10
    totp_issuer: str = "poa_manager"
    reset_email_minutes: int = 30
    reset_admin_hours: int = 24
    # Reset e-mails per account within reset_email_minutes; more are silently not sent.
    reset_emails_per_window: int = 3


class LoginRefused(NotAuthenticated):
    """One message for every refusal, so a response never tells whether an account exists."""

    code = "login_refused"


SECOND_FACTOR_REFUSED = (
    "The code is wrong, was used already, or the account is locked after repeated failures."
)
SECOND_FACTOR_EXPIRED = "The login has expired or ended. Log in again with your password."
RESET_LINK_INVALID = (
    "This password-reset link is not valid: it expired, was used already, or was replaced. Ask for a new one."
)


class SecondFactorRefused(NotAuthenticated):
    code = "second_factor_refused"


class PendingLoginExpired(NotAuthenticated):
    code = "second_factor_expired"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _digest(secret: str) -> str:
    # Keys and tokens are 256-bit random values, so a fast hash is enough (no brute force).
    return hashlib.sha256(secret.encode()).hexdigest()


def require_admin(actor: User) -> None:
    """Refuse anyone but a platform administrator (the admin pages call this first)."""
    if not policies.can_administer(actor):
        raise NotAllowed("Only a platform administrator can do this.")


# --- logging in and out ---------------------------------------------------------------------


def authenticate(*, email: str, password: str, settings: AccountSettings, now: datetime) -> User:
    """Check a password login, counting failures and locking the account after too many.

    Raises LoginRefused after flushing the failure count and audit entry: the caller commits
    them even though the login failed.
    """
    label = normalise_email(email)[:254] or "(blank)"
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        passwords.verify_password(None, password)  # same cost as a wrong password
        _login_failed(None, label, "unknown_email")
    elif user.is_locked(now):
        passwords.verify_password(None, password)
        _login_failed(user, label, "locked")
    elif not passwords.verify_password(user.password_hash, password):
        user.failed_login_count += 1
        if user.failed_login_count >= settings.lockout_threshold:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_login_count = 0
            audit.record(
                "auth.account_locked",
                actor=None,
                actor_label=label,
                entity_type="user",
                entity_id=user.id,
                data={"locked_until": user.locked_until},
            )
        _login_failed(user, label, "wrong_password")
    elif not (user.is_active and user.organisation.is_active):
        _login_failed(user, label, "inactive")

    assert user is not None  # every other branch raised
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if needs_second_factor(user):
        # Not logged in yet. The failure count is not reset here: a right password must not
        # buy an attacker a fresh round of code guesses (the count covers both factors).
        audit.record(
            "auth.password_accepted",
            actor=user,
            entity_type="user",
            entity_id=user.id,
            data={"next_step": "totp" if user.has_two_factor else "totp_enrolment"},
        )
        return user
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("auth.login_succeeded", actor=user, entity_type="user", entity_id=user.id)
    return user


def needs_second_factor(user: User) -> bool:
    """A second step after the password: TOTP for the enrolled, enrolment for the required."""
    return user.has_two_factor or policies.two_factor_required(user)


def _login_failed(user: User | None, label: str, reason: str) -> None:
    audit.record(
        "auth.login_failed",
        actor=None,
        actor_label=label,
        entity_type="user",
        entity_id=user.id if user else None,
        data={"reason": reason},
    )
    db.session.flush()
    raise LoginRefused(LOGIN_REFUSED)


def start_login_session(
    user: User,
    *,
    settings: AccountSettings,
    now: datetime,
    client_address: str | None = None,
    user_agent: str | None = None,
    pending: bool = False,
) -> str:
    """Open a server-side login session and return its key, which goes into the cookie.

    A `pending` session is the short-lived state between the password and the second factor:
    it opens no page (resume_login_session refuses it), only the two-factor step.
    """
    key = secrets.token_urlsafe(32)
    lifetime = (
        timedelta(minutes=settings.second_factor_minutes)
        if pending
        else timedelta(hours=settings.session_absolute_hours)
    )
    db.session.add(
        LoginSession(
            user=user,
            key_hash=_digest(key),
            last_seen_at=now,
            expires_at=now + lifetime,
            client_address=(client_address or "")[:64] or None,
            user_agent=(user_agent or "")[:255] or None,
            second_factor_pending=pending,
        )
    )
    db.session.flush()
    return key


def _with_user_and_organisation(entity):
    """Every request loads its user and organisation after the session or token: one round trip
    instead of three (bench/load_test.py: database round trips dominate a request's own time)."""
    return sa.orm.joinedload(entity.user).joinedload(User.organisation)


def resume_login_session(key: str, *, settings: AccountSettings, now: datetime) -> User | None:
    """The user of a live login session, or None once it was ended, expired or left idle."""
    session = db.session.scalar(
        sa.select(LoginSession)
        .where(LoginSession.key_hash == _digest(key))
        .options(_with_user_and_organisation(LoginSession))
    )
    if session is None or session.ended_at is not None or session.expires_at <= now:
        return None
    if session.second_factor_pending:
        return None  # password only: not logged in
    if session.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    user = session.user
    if not (user.is_active and user.organisation.is_active):
        return None
    if now - session.last_seen_at > timedelta(minutes=1):  # one write a minute, not per request
        session.last_seen_at = now
    user.login_session_key = key
    return user


def end_login_session(key: str, *, actor: User, now: datetime, action: str | None = "auth.logout") -> None:
    """Log out: the session row ends, so the same cookie can never log in again."""
    session = db.session.scalar(sa.select(LoginSession).where(LoginSession.key_hash == _digest(key)))
    if session is not None and session.ended_at is None:
        session.ended_at = now
        if action:
            audit.record(action, actor=actor, entity_type="user", entity_id=actor.id)


# --- the second step: TOTP, recovery codes and enrolment -------------------------------------


def resume_pending_login(key: str | None, *, now: datetime) -> User | None:
    """The user between password and second factor, while that short state lasts."""
    if not key:
        return None
    session = db.session.scalar(sa.select(LoginSession).where(LoginSession.key_hash == _digest(key)))
    if (
        session is None
        or not session.second_factor_pending
        or session.ended_at is not None
        or session.expires_at <= now
    ):
        return None
    user = session.user
    if not (user.is_active and user.organisation.is_active) or user.is_locked(now):
        return None
    return user


def _pending_or_refuse(key: str | None, now: datetime) -> User:
    user = resume_pending_login(key, now=now)
    if user is None:
        raise PendingLoginExpired(SECOND_FACTOR_EXPIRED)
    return user


def _accept_totp(user: User, code: str, now: datetime) -> str | None:
    """None when the code is accepted; otherwise why not ("wrong_code", "replayed")."""
    if user.totp_secret is None:
        return "wrong_code"
    step = two_factor.matching_step(user.totp_secret, code, now)
    if step is None:
        return "wrong_code"
    # One conditional UPDATE: of two requests racing with the same code, only one moves the
    # step forward; the other finds it moved and is refused as a replay (RFC 6238 §5.2).
    moved = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return "replayed"
    user.totp_last_step = step
    db.session.flush()
    return None


def _accept_recovery_code(user: User, code: str, now: datetime) -> bool:
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == two_factor.recovery_code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(used)


def _second_factor_failed(
    user: User, reason: str, settings: AccountSettings, now: datetime, key: str
) -> None:
    """Count a wrong code like a wrong password: the same threshold locks the account, and a
    locked account's pending login ends (it must start again with the password)."""
    user.failed_login_count += 1
    data: dict = {"reason": reason}
    if user.failed_login_count >= settings.lockout_threshold:
        user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        user.failed_login_count = 0
        end_login_session(key, actor=user, now=now, action=None)
        audit.record(
            "auth.account_locked",
            actor=None,
            actor_label=user.email,
            entity_type="user",
            entity_id=user.id,
            data={"locked_until": user.locked_until, "step": "second_factor"},
        )
    audit.record(
        "auth.second_factor_failed",
        actor=None,
        actor_label=user.email,
        entity_type="user",
        entity_id=user.id,
        data=data,
    )
    db.session.flush()
    raise SecondFactorRefused(SECOND_FACTOR_REFUSED)


def complete_second_factor(
    key: str | None,
    *,
    code: str,
    settings: AccountSettings,
    now: datetime,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> tuple[User, str]:
    """Check the TOTP code (or a recovery code) of a pending login; on success the pending row
    ends and a fresh full session starts, whose key is returned (a new key at the privilege
    change, ASVS 5.0 V7.2.4).

    Raises SecondFactorRefused after flushing the failure count and audit entry (the caller
    commits them), or PendingLoginExpired when there is no live pending login.
    """
    user = _pending_or_refuse(key, now)
    assert key is not None
    if not user.has_two_factor:
        raise RuleViolation("Set up two-factor authentication first.", code="two_factor_not_enrolled")
    code = (code or "").strip()
    if two_factor.looks_like_totp(code):
        method = "totp"
        reason = _accept_totp(user, code, now)
    else:
        method = "recovery_code"
        reason = None if code and _accept_recovery_code(user, code, now) else "wrong_recovery_code"
    if reason is not None:
        _second_factor_failed(user, reason, settings, now, key)
    remaining = None
    if method == "recovery_code":
        remaining = recovery_codes_left(user)
    return user, _finish_login(
        user,
        key,
        data={"second_factor": method, "recovery_codes_left": remaining},
        settings=settings,
        now=now,
        client_address=client_address,
        user_agent=user_agent,
    )


def _finish_login(
    user: User,
    pending_key: str,
    *,
    data: dict,
    settings: AccountSettings,
    now: datetime,
    client_address: str | None,
    user_agent: str | None,
) -> str:
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.key_hash == _digest(pending_key))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(
        "auth.login_succeeded",
        actor=user,
        entity_type="user",
        entity_id=user.id,
        data={name: value for name, value in data.items() if value is not None},
    )
    return start_login_session(
        user, settings=settings, now=now, client_address=client_address, user_agent=user_agent
    )


def recovery_codes_left(user: User) -> int:
    return count_rows(
        sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = two_factor.new_recovery_codes()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=two_factor.recovery_code_hash(code)) for code in codes
    )
    db.session.flush()
    return codes


def _own_account(user: User, actor: User) -> None:
    if actor.id != user.id:
        raise NotAllowed("Only the user can set up their own two-factor authentication.")


def begin_totp_enrolment(user: User, *, actor: User) -> str:
    """Give the user a TOTP secret to add to their app; it counts only once a code confirms it.

    Reloading the page keeps the same secret (a half-scanned QR code stays valid).
    """
    _own_account(user, actor)
    if user.has_two_factor:
        raise RuleViolation("Two-factor authentication is on already.", code="two_factor_enrolled")
    if user.totp_secret is None:
        user.totp_secret = two_factor.new_secret()
        audit.record("user.two_factor_enrolment_started", actor=actor, entity_type="user", entity_id=user.id)
    return user.totp_secret


def enrolment_uri(user: User, *, settings: AccountSettings) -> str:
    """The otpauth:// URI of an enrolment in progress (for its QR code)."""
    if user.totp_secret is None or user.has_two_factor:
        raise NotFound("No two-factor enrolment is in progress.")
    return two_factor.provisioning_uri(user.totp_secret, account=user.email, issuer=settings.totp_issuer)


def confirm_totp_enrolment(user: User, *, actor: User, code: str, now: datetime) -> list[str]:
    """Switch TOTP on with a first code from the app; returns the 10 recovery codes, shown once."""
    _own_account(user, actor)
    if user.has_two_factor or user.totp_secret is None:
        raise RuleViolation("There is no two-factor enrolment to confirm.", code="no_enrolment")
    if _accept_totp(user, code, now) is not None:
        raise InvalidInput(
            "That code does not match.",
            errors={
                "code": ["That code does not match. Check the time on your phone and try the next code."]
            },
        )
    user.totp_enabled_at = now
    codes = _replace_recovery_codes(user)
    audit.record(
        "user.two_factor_enabled",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"recovery_codes": len(codes)},
    )
    return codes


def complete_forced_enrolment(
    key: str | None,
    *,
    code: str,
    settings: AccountSettings,
    now: datetime,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> tuple[User, str, list[str]]:
    """A user who must have TOTP confirms it during login: enrolled and logged in at once."""
    user = _pending_or_refuse(key, now)
    assert key is not None
    codes = confirm_totp_enrolment(user, actor=user, code=code, now=now)
    new_key = _finish_login(
        user,
        key,
        data={"second_factor": "totp_enrolment"},
        settings=settings,
        now=now,
        client_address=client_address,
        user_agent=user_agent,
    )
    return user, new_key, codes


def pending_enrolment_user(key: str | None, *, now: datetime) -> User:
    """The pending user who still has to enrol (forced enrolment pages)."""
    user = _pending_or_refuse(key, now)
    if user.has_two_factor:
        raise RuleViolation("Two-factor authentication is on already.", code="two_factor_enrolled")
    return user


def regenerate_recovery_codes(user: User, *, actor: User, password: str) -> list[str]:
    """New recovery codes replace all old ones, used or not; needs the password again."""
    _own_account(user, actor)
    if not user.has_two_factor:
        raise RuleViolation("Two-factor authentication is off.", code="two_factor_off")
    _check_current_password(user, password)
    codes = _replace_recovery_codes(user)
    audit.record("user.recovery_codes_replaced", actor=actor, entity_type="user", entity_id=user.id)
    return codes


def disable_two_factor(user: User, *, actor: User, password: str) -> None:
    """Switch TOTP off (only where it is optional); needs the password again."""
    _own_account(user, actor)
    if policies.two_factor_required(user):
        raise RuleViolation(
            "Two-factor authentication is required for your role and cannot be switched off.",
            code="two_factor_required",
        )
    _check_current_password(user, password)
    _clear_two_factor(user)
    audit.record("user.two_factor_disabled", actor=actor, entity_type="user", entity_id=user.id)


def reset_two_factor(user: User, *, actor: User, now: datetime) -> User:
    """An administrator clears a user's TOTP (lost phone and codes); their sessions end, and a
    user whose role requires TOTP enrols again at the next login."""
    require_admin(actor)
    _clear_two_factor(user)
    ended = _end_login_sessions(user, now=now)
    audit.record(
        "user.two_factor_reset",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"login_sessions_ended": ended},
    )
    return user


def _clear_two_factor(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _check_current_password(user: User, password: str) -> None:
    if not passwords.verify_password(user.password_hash, password or ""):
        raise InvalidInput("The password is wrong.", errors={"password": ["The password is wrong."]})


def _end_login_sessions(user: User, *, now: datetime, keep_key: str | None = None) -> int:
    query = sa.update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep_key is not None:
        query = query.where(LoginSession.key_hash != _digest(keep_key))
    return db.session.execute(query.values(ended_at=now)).rowcount


def _check_password_policy(
    password: str, user_inputs: list[str], settings: AccountSettings, *, field: str = "password"
) -> None:
    problems = passwords.password_problems(
        password, min_length=settings.password_min_length, user_inputs=user_inputs
    )
    if problems:
        raise InvalidInput("The password is not accepted.", errors={field: problems})


def _replace_password(
    user: User, password: str, *, now: datetime, must_change: bool, unlock: bool, keep_key: str | None = None
) -> tuple[int, int]:
    """The one way a password is replaced (a change, a temporary one, a reset): every other login
    session and every open reset link ends with the old password (docs/security.md: "Session
    fixation and replay", "Password reset").
    Returns (sessions ended, reset links invalidated)."""
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    if not must_change:
        user.password_changed_at = now
    if unlock:
        user.locked_until = None
        user.failed_login_count = 0
    return _end_login_sessions(user, now=now, keep_key=keep_key), _invalidate_reset_tokens(user, now=now)


def change_password(
    user: User,
    *,
    actor: User,
    current_password: str,
    new_password: str,
    settings: AccountSettings,
    now: datetime,
) -> None:
    """A user replaces their own password; their other login sessions end."""
    if actor.id != user.id:
        raise NotAllowed("You can only change your own password.")
    if not passwords.verify_password(user.password_hash, current_password):
        raise InvalidInput(
            "The current password is wrong.", errors={"current_password": ["The current password is wrong."]}
        )
    if new_password == current_password:
        raise InvalidInput("Choose a new password.", errors={"new_password": ["Choose a new password."]})
    _check_password_policy(new_password, [user.email, user.full_name], settings, field="new_password")
    ended, invalidated = _replace_password(
        user, new_password, now=now, must_change=False, unlock=False, keep_key=user.login_session_key
    )
    audit.record(
        "user.password_changed",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"other_sessions_ended": ended, "reset_links_invalidated": invalidated},
    )


# --- organisations --------------------------------------------------------------------------


def list_organisations(actor: User) -> sa.Select[tuple[Organisation]]:
    return policies.visible_organisations(actor)


def get_organisation(organisation_id: int, *, actor: User) -> Organisation:
    query = policies.visible_organisations(actor).where(Organisation.id == organisation_id)
    return one_or_not_found(query, f"No organisation {organisation_id}.")


def _check_organisation_name(name: str, *, other_than: int | None = None) -> None:
    query = sa.select(Organisation.id).where(sa.func.lower(Organisation.name) == name.strip().lower())
    if other_than is not None:
        query = query.where(Organisation.id != other_than)
    if db.session.scalar(query) is not None:
        raise RuleViolation(
            f"An organisation named {name!r} exists already.",
            code="duplicate_name",
            errors={"name": ["This name is taken."]},
        )


def create_organisation(
    *, actor: User, name: str, kind: OrganisationKind, country_code: str | None = None
) -> Organisation:
    """Register an organisation (coordinating entity, operator, verifier, authority, government)."""
    require_admin(actor)
    _check_organisation_name(name)
    organisation = Organisation(
        name=name.strip(), kind=kind, country_code=country_code.upper() if country_code else None
    )
    db.session.add(organisation)
    db.session.flush()
    audit.record(
        "organisation.created",
        actor=actor,
        entity_type="organisation",
        entity_id=organisation.id,
        after={"name": organisation.name, "kind": kind, "country_code": organisation.country_code},
    )
    return organisation


def update_organisation(
    organisation: Organisation,
    *,
    actor: User,
    name: str,
    kind: OrganisationKind,
    country_code: str | None,
    is_active: bool,
) -> Organisation:
    """Rename, re-classify, or deactivate an organisation (its users can no longer log in)."""
    require_admin(actor)
    if not is_active and organisation.id == actor.organisation_id:
        raise RuleViolation("You cannot deactivate your own organisation.", code="self_lockout")
    _check_organisation_name(name, other_than=organisation.id)
    before, after = audit.changes(
        organisation,
        {
            "name": name.strip(),
            "kind": kind,
            "country_code": country_code.upper() if country_code else None,
            "is_active": is_active,
        },
    )
    if after:
        audit.record(
            "organisation.updated",
            actor=actor,
            entity_type="organisation",
            entity_id=organisation.id,
            before=before,
            after=after,
        )
    return organisation


# --- users ----------------------------------------------------------------------------------


def list_users(actor: User) -> sa.Select[tuple[User]]:
    return policies.visible_users(actor)


def get_user(user_id: int, *, actor: User) -> User:
    return one_or_not_found(policies.visible_users(actor).where(User.id == user_id), f"No user {user_id}.")


def _active_organisation(organisation_id: int) -> Organisation:
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_active:
        raise InvalidInput(
            "Choose an active organisation.", errors={"organisation_id": ["Choose an active organisation."]}
        )
    return organisation


def create_user(
    *,
    actor: User | None,
    email: str,
    full_name: str,
    organisation_id: int,
    password: str,
    settings: AccountSettings,
    is_admin: bool = False,
    must_change_password: bool = True,
) -> User:
    """Add a person with a first password; they must change it at first login.

    `actor` is None only for the command line (`flask poa create-admin`), which has server access.
    """
    if actor is not None:
        require_admin(actor)
    email = normalise_email(email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise RuleViolation(
            f"A user with e-mail {email} exists already.",
            code="duplicate_email",
            errors={"email": ["This e-mail is taken."]},
        )
    organisation = _active_organisation(organisation_id)
    _check_password_policy(password, [email, full_name], settings)
    user = User(
        email=email,
        full_name=full_name.strip(),
        organisation=organisation,
        password_hash=passwords.hash_password(password),
        password_changed_at=utcnow(),
        is_admin=is_admin,
        must_change_password=must_change_password,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.created",
        actor=actor,
        actor_label=None if actor else "command line",
        entity_type="user",
        entity_id=user.id,
        after={
            "email": email,
            "full_name": user.full_name,
            "organisation_id": organisation.id,
            "is_admin": is_admin,
        },
    )
    return user


def create_first_admin(
    *, email: str, full_name: str, organisation_name: str, password: str, settings: AccountSettings
) -> User:
    """Create a platform administrator from the command line, with their organisation if new."""
    organisation = db.session.scalar(
        sa.select(Organisation).where(sa.func.lower(Organisation.name) == organisation_name.strip().lower())
    )
    if organisation is None:
        organisation = Organisation(name=organisation_name.strip(), kind=OrganisationKind.registry_authority)
        db.session.add(organisation)
        db.session.flush()
        audit.record(
            "organisation.created",
            actor=None,
            actor_label="command line",
            entity_type="organisation",
            entity_id=organisation.id,
            after={"name": organisation.name, "kind": organisation.kind},
        )
    return create_user(
        actor=None,
        email=email,
        full_name=full_name,
        organisation_id=organisation.id,
        password=password,
        settings=settings,
        is_admin=True,
        must_change_password=False,
    )


def update_user(
    user: User,
    *,
    actor: User,
    full_name: str,
    organisation_id: int,
    is_admin: bool,
    is_active: bool,
) -> User:
    """Change a user's details; deactivating one ends their sessions and revokes their tokens."""
    require_admin(actor)
    if user.id == actor.id and not (is_admin and is_active):
        raise RuleViolation(
            "You cannot remove your own administrator rights or deactivate yourself.", code="self_lockout"
        )
    if organisation_id != user.organisation_id:
        _active_organisation(organisation_id)
    before, after = audit.changes(
        user,
        {
            "full_name": full_name.strip(),
            "organisation_id": organisation_id,
            "is_admin": is_admin,
            "is_active": is_active,
        },
    )
    if not after:
        return user
    db.session.flush()
    db.session.refresh(user, ["organisation"])
    if not is_active:
        now = utcnow()
        after["login_sessions_ended"] = _end_login_sessions(user, now=now)
        after["api_tokens_revoked"] = db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    audit.record(
        "user.updated", actor=actor, entity_type="user", entity_id=user.id, before=before, after=after
    )
    return user


def unlock_user(user: User, *, actor: User) -> User:
    """Lift a lock-out before it runs out."""
    require_admin(actor)
    user.locked_until = None
    user.failed_login_count = 0
    audit.record("user.unlocked", actor=actor, entity_type="user", entity_id=user.id)
    return user


def set_temporary_password(
    user: User, *, actor: User, password: str, settings: AccountSettings, now: datetime
) -> User:
    """An administrator sets a one-off password; the user must replace it at next login."""
    require_admin(actor)
    _check_password_policy(password, [user.email, user.full_name], settings)
    ended, invalidated = _replace_password(user, password, now=now, must_change=True, unlock=True)
    audit.record(
        "user.temporary_password_set",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"login_sessions_ended": ended, "reset_links_invalidated": invalidated},
    )
    return user


# --- password reset ---------------------------------------------------------------------------


def _invalidate_reset_tokens(user: User, *, now: datetime) -> int:
    return db.session.execute(
        sa.update(PasswordResetToken)
        .where(
            PasswordResetToken.user_id == user.id,
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.invalidated_at.is_(None),
        )
        .values(invalidated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def _issue_reset_token(
    user: User, *, channel: str, lifetime: timedelta, issued_by: User | None, now: datetime
) -> tuple[PasswordResetToken, str]:
    plain = secrets.token_urlsafe(32)  # 256 bits: SHA-256 storage is enough (no brute force)
    token = PasswordResetToken(
        user_id=user.id,
        token_hash=_digest(plain),
        channel=channel,
        issued_by_id=issued_by.id if issued_by else None,
        expires_at=now + lifetime,
    )
    db.session.add(token)
    db.session.flush()
    return token, plain


def request_password_reset(
    *, email: str, settings: AccountSettings, now: datetime, email_configured: bool
) -> tuple[User, str] | None:
    """The forgot-password form: a token to e-mail, or None. The caller answers the same either
    way, so the page never tells whether an address has an account (no user enumeration)."""
    label = normalise_email(email)[:254] or "(blank)"
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    outcome = "link_issued"
    if user is None:
        outcome = "unknown_email"
    elif not (user.is_active and user.organisation.is_active):
        outcome = "inactive"
    elif not email_configured:
        outcome = "no_email_server"
    else:
        recent = count_rows(
            sa.select(PasswordResetToken).where(
                PasswordResetToken.user_id == user.id,
                PasswordResetToken.channel == "email",
                PasswordResetToken.created_at > now - timedelta(minutes=settings.reset_email_minutes),
            )
        )
        if recent >= settings.reset_emails_per_window:
            outcome = "throttled"  # no mail-bombing a colleague's inbox through this form
    token_and_plain = None
    if outcome == "link_issued":
        assert user is not None
        token_and_plain = _issue_reset_token(
            user,
            channel="email",
            lifetime=timedelta(minutes=settings.reset_email_minutes),
            issued_by=None,
            now=now,
        )
    audit.record(
        "auth.password_reset_requested",
        actor=None,
        actor_label=label,
        entity_type="user",
        entity_id=user.id if user else None,
        data={"outcome": outcome, "token_id": token_and_plain[0].id if token_and_plain else None},
    )
    if token_and_plain is None:
        return None
    assert user is not None
    return user, token_and_plain[1]


def issue_reset_link(user: User, *, actor: User, settings: AccountSettings, now: datetime) -> str:
    """An administrator's one-time reset link for a user, shown once to hand over in person."""
    require_admin(actor)
    if not user.is_active:
        raise RuleViolation("The user is deactivated.", code="user_inactive")
    token, plain = _issue_reset_token(
        user,
        channel="admin",
        lifetime=timedelta(hours=settings.reset_admin_hours),
        issued_by=actor,
        now=now,
    )
    audit.record(
        "user.password_reset_link_issued",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"token_id": token.id, "expires_at": token.expires_at},
    )
    return plain


def valid_reset_token(plain: str, *, now: datetime) -> PasswordResetToken:
    """The live token behind a link; one NotFound for unknown, used, replaced or expired."""
    token = db.session.scalar(
        sa.select(PasswordResetToken).where(PasswordResetToken.token_hash == _digest(plain or ""))
    )
    if (
        token is None
        or token.used_at is not None
        or token.invalidated_at is not None
        or token.expires_at <= now
        or not (token.user.is_active and token.user.organisation.is_active)
    ):
        raise NotFound(RESET_LINK_INVALID, code="reset_link_invalid")
    return token


def record_refused_reset_link() -> None:
    """Audit a reset attempt through a dead link (unknown, used, replaced or expired)."""
    audit.record(
        "auth.password_reset_refused",
        actor=None,
        actor_label="(reset link)",
        entity_type="user",
        entity_id=None,
        data={"reason": "invalid_link"},
    )
    db.session.flush()


def reset_password(plain: str, *, new_password: str, settings: AccountSettings, now: datetime) -> User:
    """Set a new password through a reset link: the link and every other open one of the user
    are spent, all their login sessions end and a lock-out is lifted. TOTP stays: the next
    login still asks for the code."""
    try:
        token = valid_reset_token(plain, now=now)
    except NotFound:
        record_refused_reset_link()
        raise
    user = token.user
    _check_password_policy(new_password, [user.email, user.full_name], settings, field="new_password")
    used = db.session.execute(
        sa.update(PasswordResetToken)
        .where(PasswordResetToken.id == token.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:  # a concurrent request spent it first
        raise NotFound(RESET_LINK_INVALID, code="reset_link_invalid")
    ended, invalidated = _replace_password(user, new_password, now=now, must_change=False, unlock=True)
    audit.record(
        "user.password_reset",
        actor=user,
        entity_type="user",
        entity_id=user.id,
        data={
            "channel": token.channel,
            "token_id": token.id,
            "other_reset_links_invalidated": invalidated,
            "login_sessions_ended": ended,
        },
    )
    return user


# --- personal API tokens --------------------------------------------------------------------


def list_api_tokens(actor: User) -> sa.Select[tuple[ApiToken]]:
    return policies.visible_tokens(actor)


def get_api_token(token_id: int, *, actor: User) -> ApiToken:
    query = policies.visible_tokens(actor).where(ApiToken.id == token_id)
    return one_or_not_found(query, f"No API token {token_id}.")


def create_api_token(
    *, actor: User, name: str, expires_in_days: int | None, now: datetime
) -> tuple[ApiToken, str]:
    """Make a personal token. The plain value is returned once and never stored."""
    if expires_in_days is not None and not 1 <= expires_in_days <= 366:
        raise InvalidInput(
            "Tokens last between 1 and 366 days.", errors={"expires_in_days": ["Between 1 and 366 days."]}
        )
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=actor,
        name=name.strip(),
        prefix=plain[:12],
        token_hash=_digest(plain),
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.created",
        actor=actor,
        entity_type="api_token",
        entity_id=token.id,
        after={"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at},
    )
    return token, plain


def revoke_api_token(token: ApiToken, *, actor: User, now: datetime) -> ApiToken:
    if not policies.can_manage_token(actor, token):
        raise NotAllowed("You can only revoke your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record("api_token.revoked", actor=actor, entity_type="api_token", entity_id=token.id)
    return token


def authenticate_token(plain: str, *, now: datetime) -> User:
    """The user behind a bearer token, if the token is live and its owner may log in."""
    token = db.session.scalar(
        sa.select(ApiToken)
        .where(ApiToken.token_hash == _digest(plain))
        .options(_with_user_and_organisation(ApiToken))
    )
    if token is None or not token.is_usable(now):
        raise NotAuthenticated("The API token is missing, wrong, expired or revoked.", code="invalid_token")
    user = token.user
    if not (user.is_active and user.organisation.is_active):
        raise NotAuthenticated("The token's user is deactivated.", code="invalid_token")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return user


# --- the administrator's overview and the audit log --------------------------------------------------


def list_audit_entries(actor: User, *, action_prefix: str | None = None):
    """The whole audit log, newest first: administrators only."""
    require_admin(actor)
    return audit.entries_query(action_prefix=action_prefix)


@dataclass(frozen=True)
class AdminOverview:
    organisation_count: int
    user_count: int
    locked_users: list[User]
    recent_entries: list


def admin_overview(actor: User, *, now: datetime) -> AdminOverview:
    """What a platform administrator sees first: sizes, lock-outs and the latest activity."""
    require_admin(actor)
    locked = db.session.scalars(policies.visible_users(actor).where(User.locked_until > now))
    return AdminOverview(
        organisation_count=count_rows(policies.visible_organisations(actor)),
        user_count=count_rows(policies.visible_users(actor)),
        locked_users=list(locked),
        recent_entries=list(db.session.scalars(audit.entries_query().limit(8))),
    )
