"""Who may see and change organisations, users, tokens and the audit log."""

import sqlalchemy as sa

from poa_manager.accounts.models import ApiToken, Organisation, User


def can_administer(actor: User) -> bool:
    """Platform administration: organisations, users, the audit log."""
    return actor.is_admin and actor.is_active


def can_manage_token(actor: User, token: ApiToken) -> bool:
    return token.user_id == actor.id


def visible_organisations(actor: User) -> sa.Select[tuple[Organisation]]:
    """Every organisation for admins; one's own otherwise."""
    query = sa.select(Organisation).order_by(Organisation.name)
    return query if can_administer(actor) else query.where(Organisation.id == actor.organisation_id)


def visible_users(actor: User) -> sa.Select[tuple[User]]:
    """Every user for admins; colleagues in one's own organisation otherwise."""
    query = sa.select(User).order_by(User.email)
    return query if can_administer(actor) else query.where(User.organisation_id == actor.organisation_id)


def visible_tokens(actor: User) -> sa.Select[tuple[ApiToken]]:
    """A user sees only their own tokens, admins included: tokens are personal."""
    return sa.select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())
