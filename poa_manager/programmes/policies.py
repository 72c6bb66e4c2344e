"""Who may see programmes, shape their design, move them through validation and registration."""

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.programmes.models import Programme


def visible_programmes(actor: User) -> sa.Select[tuple[Programme]]:
    """Programmes the actor holds a role on; every programme for platform admins."""
    query = sa.select(Programme).order_by(Programme.reference)
    if can_administer(actor):
        return query
    member_of = sa.select(Membership.programme_id).where(Membership.user_id == actor.id)
    return query.where(Programme.id.in_(member_of))


def can_create_programme(actor: User, coordinating_entity: Organisation) -> bool:
    """A coordinating entity registers its own programmes; admins may do it for any of them."""
    if coordinating_entity.kind is not OrganisationKind.coordinating_entity:
        return False
    return can_administer(actor) or actor.organisation_id == coordinating_entity.id


def can_edit_design(actor: User, programme: Programme) -> bool:
    return can_administer(actor) or Role.coordinator in actor.roles_in(programme.id)


def can_validate(actor: User, programme: Programme) -> bool:
    """Validation is the verifier's (DOE/VVB/TPE) job, never the platform admin's."""
    return (
        Role.verifier in actor.roles_in(programme.id) and actor.organisation.kind is OrganisationKind.verifier
    )


def can_register(actor: User, programme: Programme) -> bool:
    return Role.registry_administrator in actor.roles_in(programme.id)


def can_set_holds(actor: User, programme: Programme) -> bool:
    return can_register(actor, programme) or can_administer(actor)


def can_manage_members(actor: User, programme: Programme) -> bool:
    """Role grants are a platform-admin task for now (quality.md A1 #6 lists them for four eyes)."""
    return can_administer(actor)
