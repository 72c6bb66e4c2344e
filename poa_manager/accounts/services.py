"""Use cases for accounts: logging in and out, passwords, organisations, users and API tokens."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from poa_manager.accounts import passwords, policies
from poa_manager.accounts.models import ApiToken, LoginSession, Organisation, User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit
from poa_manager.database import count_rows, db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotAuthenticated, RuleViolation

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


class LoginRefused(NotAuthenticated):
    """One message for every refusal, so a response never tells whether an account exists."""

    code = "login_refused"


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
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record("auth.login_succeeded", actor=user, entity_type="user", entity_id=user.id)
    return user


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
) -> str:
    """Open a server-side login session and return its key, which goes into the cookie."""
    key = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            user=user,
            key_hash=_digest(key),
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            client_address=(client_address or "")[:64] or None,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    db.session.flush()
    return key


def resume_login_session(key: str, *, settings: AccountSettings, now: datetime) -> User | None:
    """The user of a live login session, or None once it was ended, expired or left idle."""
    session = db.session.scalar(sa.select(LoginSession).where(LoginSession.key_hash == _digest(key)))
    if session is None or session.ended_at is not None or session.expires_at <= now:
        return None
    if session.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now:
        return None
    user = session.user
    if not (user.is_active and user.organisation.is_active):
        return None
    if now - session.last_seen_at > timedelta(minutes=1):  # one write a minute, not per request
        session.last_seen_at = now
    user.login_session_key = key
    return user


def end_login_session(key: str, *, actor: User, now: datetime) -> None:
    """Log out: the session row ends, so the same cookie can never log in again."""
    session = db.session.scalar(sa.select(LoginSession).where(LoginSession.key_hash == _digest(key)))
    if session is not None and session.ended_at is None:
        session.ended_at = now
        audit.record("auth.logout", actor=actor, entity_type="user", entity_id=actor.id)


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
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = now
    ended = _end_login_sessions(user, now=now, keep_key=user.login_session_key)
    audit.record(
        "user.password_changed",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"other_sessions_ended": ended},
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
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    user.locked_until = None
    user.failed_login_count = 0
    ended = _end_login_sessions(user, now=now)
    audit.record(
        "user.temporary_password_set",
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        data={"login_sessions_ended": ended},
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
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
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
