"""Who may see programmes and manage who works on them."""

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.policies import can_administer
from poa_manager.programmes.models import Programme


def visible_programmes(actor: User) -> sa.Select[tuple[Programme]]:
    """Programmes the actor holds a role on; every programme for platform admins."""
    query = sa.select(Programme).order_by(Programme.reference)
    if can_administer(actor):
        return query
    member_of = sa.select(Membership.programme_id).where(Membership.user_id == actor.id)
    return query.where(Programme.id.in_(member_of))


def can_manage_members(actor: User, programme: Programme) -> bool:
    """Role grants are a platform-admin task for now (quality.md A1 #6 lists them for four eyes)."""
    return can_administer(actor)
