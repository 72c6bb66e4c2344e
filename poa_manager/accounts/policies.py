"""Who may see and change organisations, users, tokens and the audit log."""

import sqlalchemy as sa

from poa_manager.accounts.models import ApiToken, Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role


def can_administer(actor: User) -> bool:
    """Platform administration: organisations, users, the audit log."""
    return actor.is_admin and actor.is_active


def two_factor_required(user: User) -> bool:
    """TOTP is required of registry administrators and host-government users (issue 8; the EU
    registry precedent, Reg. (EU) 389/2013 Art. 95: a second factor for whoever moves or
    oversees units). Everyone else may switch it on."""
    return (
        user.organisation.kind is OrganisationKind.host_government
        or Role.registry_administrator in user.role_names
    )


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
