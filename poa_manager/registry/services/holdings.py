"""Accounts and what they hold: opened on first use, one of each kind per organisation; balances
come from the ledger, holdings from the blocks, and reconciliation compares the two (T7)."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from poa_manager.accounts.models import Organisation, User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.registry import policies
from poa_manager.registry.models import Account, AccountKind, BlockStatus, CreditBlock, LedgerEntry


def account_of(organisation_id: int, kind: AccountKind) -> Account:
    """The organisation's account of this kind, opened on first use."""
    account = db.session.scalar(
        sa.select(Account).where(Account.organisation_id == organisation_id, Account.kind == kind)
    )
    if account is None:
        if db.session.get(Organisation, organisation_id) is None:
            raise InvalidInput("No such organisation.", errors={"organisation_id": ["Unknown organisation."]})
        # Two first uses at once (two issuances into a new pending account) must not collide.
        insert_or_skip(Account, organisation_id=organisation_id, kind=kind, transfer_delay_hours=0)
        account = db.session.scalar(
            sa.select(Account).where(Account.organisation_id == organisation_id, Account.kind == kind)
        )
    return account


def insert_or_skip(model, **values) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on PostgreSQL and SQLite."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    db.session.execute(insert.values(**values).on_conflict_do_nothing())


def open_account(*, actor: User, organisation_id: int, kind: AccountKind) -> Account:
    """A registry administrator opens an account for an organisation (idempotent)."""
    if not policies.can_manage_accounts(actor):
        raise NotAllowed("Only registry administrators open accounts.")
    existing = db.session.scalar(
        sa.select(Account.id).where(Account.organisation_id == organisation_id, Account.kind == kind)
    )
    account = account_of(organisation_id, kind)
    if existing is None:
        audit.record(
            "registry.account_opened",
            actor=actor,
            entity_type="registry_account",
            entity_id=account.id,
            after={"organisation_id": organisation_id, "kind": kind},
        )
    return account


def set_account_controls(
    account: Account, *, actor: User, transfer_delay_hours: int, transfer_limit: int | None
) -> Account:
    """Per-account delay between approval and completion, and a per-transaction limit (A1 #9)."""
    if not policies.can_manage_accounts(actor):
        raise NotAllowed("Only registry administrators set account controls.")
    errors = {}
    if transfer_delay_hours is None or not 0 <= transfer_delay_hours <= 24 * 30:
        errors["transfer_delay_hours"] = ["0 to 720 hours."]
    if transfer_limit is not None and transfer_limit < 1:
        errors["transfer_limit"] = ["At least 1 credit, or empty for no limit."]
    if errors:
        raise InvalidInput("Check the account controls.", errors=errors)
    lock(account)
    before = {"transfer_delay_hours": account.transfer_delay_hours, "transfer_limit": account.transfer_limit}
    account.transfer_delay_hours, account.transfer_limit = transfer_delay_hours, transfer_limit
    db.session.flush()
    audit.record(
        "registry.account_controls_set",
        actor=actor,
        entity_type="registry_account",
        entity_id=account.id,
        before=before,
        after={"transfer_delay_hours": transfer_delay_hours, "transfer_limit": transfer_limit},
    )
    return account


def holder_organisations() -> list[Organisation]:
    """Organisations that may hold credits: every active one (allocation tables, new accounts)."""
    return list(
        db.session.scalars(sa.select(Organisation).where(Organisation.is_active).order_by(Organisation.name))
    )


def list_accounts(*, actor: User) -> sa.Select[tuple[Account]]:
    return policies.visible_accounts(actor)


def get_account(account_id: int, *, actor: User) -> Account:
    return one_or_not_found(
        policies.visible_accounts(actor).where(Account.id == account_id), "No such account."
    )


def holdings(account: Account) -> sa.Select[tuple[CreditBlock]]:
    return (
        sa.select(CreditBlock)
        .where(CreditBlock.account_id == account.id)
        .order_by(CreditBlock.programme_id, CreditBlock.vintage, CreditBlock.serial_start)
    )


def ledger_balance(account_id: int) -> int:
    """Units in minus units out, from the append-only ledger alone."""
    received = sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0)).where(
        LedgerEntry.to_account_id == account_id
    )
    sent = sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0)).where(
        LedgerEntry.from_account_id == account_id
    )
    return int(db.session.scalar(received)) - int(db.session.scalar(sent))


def held_quantity(account_id: int, *, status: BlockStatus | None = None) -> int:
    query = sa.select(
        sa.func.coalesce(sa.func.sum(CreditBlock.serial_end - CreditBlock.serial_start + 1), 0)
    ).where(CreditBlock.account_id == account_id)
    if status is not None:
        query = query.where(CreditBlock.status == status)
    return int(db.session.scalar(query))


def get_holding_destination(account_id: int) -> Account:
    """A transfer's destination: any organisation's holding account."""
    account = db.session.get(Account, account_id) if account_id else None
    if account is None or account.kind is not AccountKind.holding:
        raise InvalidInput(
            "Transfers go to a holding account.", errors={"to_account_id": ["Pick a holding account."]}
        )
    return account


def holding_accounts() -> list[Account]:
    """Every holding account (the destinations a transfer may pick)."""
    return list(
        db.session.scalars(
            sa.select(Account)
            .join(Organisation, Organisation.id == Account.organisation_id)
            .where(Account.kind == AccountKind.holding)
            .order_by(Organisation.name)
        )
    )
