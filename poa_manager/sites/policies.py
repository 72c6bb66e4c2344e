"""Who may see sites, prepare them, include them, confirm inclusions and review them."""

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import Role
from poa_manager.programmes import policies as programme_policies
from poa_manager.programmes.models import Programme
from poa_manager.sites.models import Site

# Roles that see every site of their programme; site operators see only their own.
_PROGRAMME_WIDE = (
    Role.coordinator,
    Role.verifier,
    Role.verification_team,
    Role.registry_administrator,
    Role.viewer,
)


def visible_sites(actor: User) -> sa.Select[tuple[Site]]:
    """Sites of the actor's programmes; a site operator's own sites; everything for admins."""
    query = sa.select(Site)
    if can_administer(actor):
        return query
    programme_wide = sa.select(Membership.programme_id).where(
        Membership.user_id == actor.id, Membership.role.in_(_PROGRAMME_WIDE)
    )
    own_sites = sa.select(Membership.site_id).where(
        Membership.user_id == actor.id, Membership.role == Role.site_operator
    )
    return query.where(sa.or_(Site.programme_id.in_(programme_wide), Site.id.in_(own_sites)))


def can_prepare_sites(actor: User, programme: Programme) -> bool:
    """Adding and checking sites is the coordinating entity's job (domain.md §1.4)."""
    return programme_policies.can_edit_design(actor, programme)


def can_include(actor: User, programme: Programme) -> bool:
    return Role.coordinator in actor.roles_in(programme.id)


def can_confirm_inclusion(actor: User, programme: Programme) -> bool:
    """The DOE/VVB/TPE assigned to the programme (domain.md §1.5, §6.2)."""
    return programme_policies.can_validate(actor, programme)


def can_review(actor: User, programme: Programme) -> bool:
    """Erroneous inclusion is handled by the registry side (domain.md §1.9)."""
    return programme_policies.can_register(actor, programme)


def can_import_external_registrations(actor: User) -> bool:
    return can_administer(actor) or any(m.role is Role.registry_administrator for m in actor.memberships)
