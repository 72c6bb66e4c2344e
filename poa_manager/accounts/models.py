"""Organisations, users, programme memberships, login sessions and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import Timestamped, db

if TYPE_CHECKING:
    from poa_manager.programmes.models import Programme
    from poa_manager.sites.models import Site


class Organisation(Timestamped, db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganisationKind]
    country_code: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    is_active: Mapped[bool] = mapped_column(default=True)

    users: Mapped[list[User]] = relationship(back_populates="organisation", order_by="User.email")


class User(Timestamped, db.Model):
    """A person. Flask-Login's user protocol is written out here so models stay free of Flask."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    full_name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # TOTP second factor (RFC 6238). The base32 secret is set when enrolment starts and only
    # counts once confirmed with a first code (totp_enabled_at). totp_last_step is the last
    # accepted 30-second step: a code of that step or an earlier one is a replay (RFC 6238 §5.2).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", foreign_keys="Membership.user_id", order_by="Membership.id"
    )

    # Set by accounts.login when the user is loaded for a login session: Flask-Login keeps this
    # id in the cookie, so ending the session row makes a copied cookie worthless.
    login_session_key = None  # str while loaded for a login session (not a column)
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str | None:
        return self.login_session_key

    @property
    def audit_label(self) -> str:
        return self.email

    def roles_in(self, programme_id: int) -> set[Role]:
        return {m.role for m in self.memberships if m.programme_id == programme_id}

    @property
    def role_names(self) -> set[Role]:
        return {m.role for m in self.memberships}

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None and self.totp_enabled_at is not None


class Membership(Timestamped, db.Model):
    """A role on a programme; a site operator's role is also tied to one site of it."""

    __tablename__ = "memberships"
    __table_args__ = (
        # The composite key makes the database refuse a site from another programme.
        sa.ForeignKeyConstraint(
            ["site_id", "programme_id"],
            ["sites.id", "sites.programme_id"],
            name="fk_memberships_site_id_sites",
        ),
        sa.CheckConstraint(
            "(role = 'site_operator') = (site_id IS NOT NULL)", name="site_only_for_site_operators"
        ),
        sa.Index(
            "uq_memberships_programme_role",
            "user_id",
            "programme_id",
            "role",
            unique=True,
            sqlite_where=sa.text("site_id IS NULL"),
            postgresql_where=sa.text("site_id IS NULL"),
        ),
        sa.Index(
            "uq_memberships_site_role",
            "user_id",
            "site_id",
            "role",
            unique=True,
            sqlite_where=sa.text("site_id IS NOT NULL"),
            postgresql_where=sa.text("site_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    site_id: Mapped[int | None]
    role: Mapped[Role]
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])
    programme: Mapped[Programme] = relationship()
    site: Mapped[Site | None] = relationship(
        viewonly=True, primaryjoin="Site.id == foreign(Membership.site_id)"
    )


class LoginSession(Timestamped, db.Model):
    """One browser login. The cookie holds the key; only its SHA-256 is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # True between a correct password and the second factor (or the forced TOTP enrolment): the
    # row then only opens the two-factor step, never a page (accounts.login).
    second_factor_pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    user: Mapped[User] = relationship()


class ApiToken(Timestamped, db.Model):
    """A personal API token: shown once, stored as a SHA-256 hash, valid only on /api/."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so users can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RecoveryCode(Timestamped, db.Model):
    """A single-use TOTP recovery code: 64 random bits shown once; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]


class PasswordResetToken(Timestamped, db.Model):
    """A one-time password-reset link: 256 random bits, stored as a SHA-256 hash, expiring.

    `channel` says how it reached the user: "email" (they asked on the forgot-password page) or
    "admin" (an administrator issued it and handed it over). It is spent by its use, and every
    open token of the user is invalidated by any reset or password change.
    """

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    invalidated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
