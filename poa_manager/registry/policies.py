"""Who may issue, forward, hold, move, freeze and suspend credits, and which records each user sees."""

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.monitoring.models import IssuanceRequest
from poa_manager.programmes.models import Programme
from poa_manager.programmes.policies import visible_programmes
from poa_manager.registry.models import Account, AccountKind, Issuance, Transaction


def administers_registry_of(actor: User, programme_id: int) -> bool:
    return actor.is_active and Role.registry_administrator in actor.roles_in(programme_id)


def is_registry_administrator(actor: User) -> bool:
    """A registry administrator of any programme (the registry is one per installation)."""
    return actor.is_active and Role.registry_administrator in actor.role_names


def can_approve_issuance(actor: User, request: IssuanceRequest) -> bool:
    """The registry administrator of the programme; the service refuses the requester (four eyes)."""
    return administers_registry_of(actor, request.programme_id)


def can_forward(actor: User, issuance: Issuance) -> bool:
    return administers_registry_of(actor, issuance.programme_id)


def can_set_allocation(actor: User, programme: Programme) -> bool:
    """The participants state the allocation (JCM PCP form 3.5) through the coordinator; the
    registry administrator may record it too."""
    return actor.is_active and bool(
        {Role.coordinator, Role.registry_administrator} & actor.roles_in(programme.id)
    )


def sees_all_accounts(actor: User) -> bool:
    return can_administer(actor) or is_registry_administrator(actor)


def can_view_account(actor: User, account: Account) -> bool:
    return sees_all_accounts(actor) or actor.organisation_id == account.organisation_id


def can_initiate(actor: User, account: Account) -> bool:
    """People of the holding organisation move its units (the pending account only forwards)."""
    return (
        actor.is_active
        and actor.organisation_id == account.organisation_id
        and (account.kind is AccountKind.holding)
    )


def can_approve_transaction(actor: User, transaction: Transaction) -> bool:
    """A second person of the holding organisation, or the programme's registry administrator
    (the EU registry's additional authorised representative, quality.md A1 #6); the service
    refuses the initiator."""
    return actor.is_active and (
        actor.organisation_id == transaction.from_account.organisation_id
        or administers_registry_of(actor, transaction.programme_id)
    )


def can_withdraw_transaction(actor: User, transaction: Transaction) -> bool:
    return actor.is_active and actor.organisation_id == transaction.from_account.organisation_id


def can_freeze(actor: User, programme_id: int) -> bool:
    return can_administer(actor) or administers_registry_of(actor, programme_id)


def can_suspend(actor: User) -> bool:
    return can_administer(actor) or is_registry_administrator(actor)


def can_view_ndc_contribution(actor: User, host_country: str) -> bool:
    """A host Party's NDC figures: platform admins, the registry administrator, and people of that
    Party's government (OrganisationKind.host_government of the same country); no one else."""
    if can_administer(actor) or is_registry_administrator(actor):
        return True
    organisation = actor.organisation
    return (
        actor.is_active
        and organisation.kind is OrganisationKind.host_government
        and (organisation.country_code or "").upper() == host_country.upper()
    )


def can_manage_accounts(actor: User) -> bool:
    return can_administer(actor) or is_registry_administrator(actor)


def visible_accounts(actor: User) -> sa.Select[tuple[Account]]:
    query = sa.select(Account).order_by(Account.organisation_id, Account.kind)
    if sees_all_accounts(actor):
        return query
    return query.where(Account.organisation_id == actor.organisation_id)


def visible_issuances(actor: User) -> sa.Select[tuple[Issuance]]:
    """Issuances of the programmes the actor has a part in (the public sees them by serial)."""
    programmes = visible_programmes(actor).with_only_columns(Programme.id).order_by(None)
    return sa.select(Issuance).where(Issuance.programme_id.in_(programmes)).order_by(Issuance.id.desc())


def visible_transactions(actor: User) -> sa.Select[tuple[Transaction]]:
    """Transactions from or to the actor's accounts; all for registry and platform administrators."""
    query = sa.select(Transaction).order_by(Transaction.id.desc())
    if sees_all_accounts(actor):
        return query
    own = sa.select(Account.id).where(Account.organisation_id == actor.organisation_id)
    return query.where(sa.or_(Transaction.from_account_id.in_(own), Transaction.to_account_id.in_(own)))
