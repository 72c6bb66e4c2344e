"""Who may assign verifiers, see verifications, work on them and approve their statements."""

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.programmes.models import Programme
from poa_manager.verification.models import Verification, VerificationStatus

# Roles that follow every verification of their programme without doing it.
_FOLLOWERS = (Role.coordinator, Role.registry_administrator, Role.viewer)
OPEN_STATUSES = (VerificationStatus.assigned, VerificationStatus.sampling)


def visible_verifications(actor: User) -> sa.Select[tuple[Verification]]:
    """The verifier organisation's own verifications; its programme's for coordinators, registry
    administrators and viewers; every one for platform admins."""
    query = sa.select(Verification)
    if can_administer(actor):
        return query
    followed = sa.select(Membership.programme_id).where(
        Membership.user_id == actor.id, Membership.role.in_(_FOLLOWERS)
    )
    conditions = [Verification.programme_id.in_(followed)]
    if actor.organisation.kind is OrganisationKind.verifier:
        conditions.append(Verification.verifier_organisation_id == actor.organisation_id)
    return query.where(sa.or_(*conditions))


def can_assign(actor: User, programme: Programme) -> bool:
    """The coordinating entity or the registry administrator assigns the verifier (domain.md §1.8)."""
    return bool({Role.coordinator, Role.registry_administrator} & actor.roles_in(programme.id))


def is_of_verifier(actor: User, verification: Verification) -> bool:
    return actor.is_active and actor.organisation_id == verification.verifier_organisation_id


def on_team(actor: User, verification: Verification) -> bool:
    return is_of_verifier(actor, verification) and any(m.user_id == actor.id for m in verification.team)


def can_set_team(actor: User, verification: Verification) -> bool:
    """The verifier organisation staffs its own team; the assigner names the first one."""
    if verification.status not in OPEN_STATUSES:
        return False
    return is_of_verifier(actor, verification) or can_assign(actor, verification.programme)


def can_work_on(actor: User, verification: Verification) -> bool:
    """Plan, draw, record findings and draft the statement: the team, while the work is open."""
    return verification.status in OPEN_STATUSES and on_team(actor, verification)


def can_review_statement(actor: User, verification: Verification) -> bool:
    """Anyone of the verifier organisation may be the second pair of eyes; the service checks
    that it is not someone who recorded the findings (four eyes)."""
    return verification.status is VerificationStatus.statement_drafted and is_of_verifier(actor, verification)


def can_cancel(actor: User, verification: Verification) -> bool:
    return verification.status in OPEN_STATUSES and can_assign(actor, verification.programme)
