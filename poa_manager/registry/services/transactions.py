"""Transfers, retirements and cancellations: initiated by a holder, approved by a second person,
completed after the account's delay; every completion is one ledger row (quality.md A1 #6, #9,
#10, #12)."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.registry import policies
from poa_manager.registry.models import (
    AccountKind,
    Article6Use,
    BlockStatus,
    CreditBlock,
    LedgerKind,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from poa_manager.registry.services import article6
from poa_manager.registry.services.blocks import ledger_entry, split_block
from poa_manager.registry.services.controls import RegistryRefusal, ensure_not_frozen, ensure_open
from poa_manager.registry.services.events import block_payload, emit
from poa_manager.registry.services.holdings import account_of, get_holding_destination

_END_STATUS = {
    TransactionKind.transfer: BlockStatus.active,
    TransactionKind.retirement: BlockStatus.retired,
    TransactionKind.cancellation: BlockStatus.cancelled,
}
_LEDGER_KIND = {
    TransactionKind.transfer: LedgerKind.transfer,
    TransactionKind.retirement: LedgerKind.retirement,
    TransactionKind.cancellation: LedgerKind.cancellation,
}


def get_block(block_id: int) -> CreditBlock:
    """A block by id; who may act on it is checked by the use case."""
    return one_or_not_found(sa.select(CreditBlock).where(CreditBlock.id == block_id), "No such block.")


def initiate_transaction(
    block: CreditBlock,
    *,
    actor: User,
    kind: TransactionKind,
    quantity: int,
    to_account_id: int | None = None,
    beneficiary: str | None = None,
    purpose: str | None = None,
    using_entity: str | None = None,
    idempotency_key: str | None = None,
    article6_use: Article6Use | None = None,
    now: datetime | None = None,
) -> Transaction:
    """Propose moving `quantity` units of `block`: the last `quantity` serials are split off and
    reserved (the owner keeps the first sub-block, domain.md §5.5). The same idempotency key from
    the same person returns the first transaction instead of a second one (T3)."""
    if idempotency_key:
        replayed = db.session.scalar(
            sa.select(Transaction).where(
                Transaction.initiated_by_id == actor.id, Transaction.idempotency_key == idempotency_key
            )
        )
        if replayed is not None:
            if (replayed.kind, replayed.quantity) != (kind, quantity):
                raise RegistryRefusal(
                    "This idempotency key was used for another request.", code="idempotency_key_reused"
                )
            return replayed
    ensure_open()
    lock(block)
    account = block.account
    # Terminal first, whoever asks: a block's status is public (the serial lookup), and T4 wants the
    # documented code for every attempt.
    if block.status is not BlockStatus.active:
        raise RegistryRefusal(
            f"Serials {block.range} are {block.status.value}; they never move again.", code="block_terminal"
        )
    if not policies.can_view_account(actor, account):
        raise NotAllowed("These units are not in your organisation's accounts.")
    if not policies.can_initiate(actor, account):
        if account.kind is not AccountKind.holding:
            raise RegistryRefusal("Only units in a holding account can move.", code="not_transferable")
        raise NotAllowed("Only people of the holding organisation move its units.")
    if block.reserved_by_id is not None:
        raise RegistryRefusal(
            f"Serials {block.range} are held by {block.reserved_by.label}.", code="block_reserved"
        )
    ensure_not_frozen(block)
    if not isinstance(quantity, int) or not 1 <= quantity <= block.quantity:
        raise InvalidInput(
            f"Move 1 to {block.quantity} credits of this block.",
            errors={"quantity": [f"1 to {block.quantity}."]},
        )
    destination = _destination(block, kind, to_account_id, beneficiary, purpose, using_entity)
    article6_use = Article6Use(article6_use) if article6_use else None
    article6.check_use(block, kind, article6_use)
    if kind is TransactionKind.transfer and account.transfer_limit and quantity > account.transfer_limit:
        raise RegistryRefusal(
            f"The account's limit is {account.transfer_limit} credits per transfer.",
            code="transfer_limit_exceeded",
        )
    moved = split_block(block, quantity)
    transaction = Transaction(
        kind=kind,
        programme_id=block.programme_id,
        block_id=moved.id,
        quantity=quantity,
        from_account_id=account.id,
        to_account_id=destination.id,
        idempotency_key=idempotency_key or None,
        initiated_by_id=actor.id,
        initiated_at=now or utcnow(),
        beneficiary=_clean(beneficiary),
        purpose=_clean(purpose),
        using_entity=_clean(using_entity),
        article6_use=article6_use,
    )
    db.session.add(transaction)
    db.session.flush()
    moved.reserved_by_id = transaction.id
    db.session.flush()
    audit.record(
        f"registry.{kind.value}_initiated",
        actor=actor,
        entity_type="registry_transaction",
        entity_id=transaction.id,
        after={
            "serials": f"{moved.vintage}:{moved.range}",
            "quantity": quantity,
            "to_account": destination.id,
        },
    )
    return transaction


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


def _destination(block, kind, to_account_id, beneficiary, purpose, using_entity):
    if kind is TransactionKind.transfer:
        destination = get_holding_destination(to_account_id)
        if destination.id == block.account_id:
            raise InvalidInput("Pick another account.", errors={"to_account_id": ["Not the same account."]})
        return destination
    if kind is TransactionKind.retirement:
        # A retirement names who claims it, for what, and the using entity (GS; Article 6 / CORSIA).
        missing = {
            name: ["Required for a retirement."]
            for name, value in (
                ("beneficiary", beneficiary),
                ("purpose", purpose),
                ("using_entity", using_entity),
            )
            if not _clean(value)
        }
        if missing:
            raise InvalidInput(
                "A retirement names its beneficiary, purpose and using entity.", errors=missing
            )
        return account_of(block.account.organisation_id, AccountKind.retirement)
    if not _clean(purpose):
        raise InvalidInput("Say why the units are cancelled.", errors={"purpose": ["Required."]})
    return account_of(block.account.organisation_id, AccountKind.cancellation)


def approve_transaction(transaction: Transaction, *, actor: User, now: datetime | None = None) -> Transaction:
    """A second person approves; the transaction completes at once, or after the source account's
    transfer delay (quality.md A1 #9)."""
    ensure_open()
    lock(transaction)
    _ensure_open_transaction(transaction, TransactionStatus.proposed)
    if actor.id == transaction.initiated_by_id:
        raise RegistryRefusal("You initiated this; a second person approves it.", code="self_approval")
    if not policies.can_approve_transaction(actor, transaction):
        raise NotAllowed(
            "A second person of the holding organisation, or the registry administrator, approves."
        )
    ensure_not_frozen(transaction.block)
    now = now or utcnow()
    transaction.approved_by_id, transaction.approved_at = actor.id, now
    delay = (
        transaction.from_account.transfer_delay_hours if transaction.kind is TransactionKind.transfer else 0
    )
    transaction.executable_after = now + timedelta(hours=delay)
    transaction.status = TransactionStatus.approved
    db.session.flush()
    audit.record(
        f"registry.{transaction.kind.value}_approved",
        actor=actor,
        entity_type="registry_transaction",
        entity_id=transaction.id,
        after={"executable_after": transaction.executable_after},
    )
    if delay == 0:
        _complete(transaction, now=now)
    return transaction


def complete_transaction(
    transaction: Transaction, *, actor: User, now: datetime | None = None
) -> Transaction:
    """Complete one approved transaction once its delay has passed (anyone who may see it asks;
    the ledger records the approver as the one who moved the units)."""
    ensure_open()
    lock(transaction)
    _ensure_open_transaction(transaction, TransactionStatus.approved)
    now = now or utcnow()
    if transaction.executable_after > now:
        raise RegistryRefusal(
            f"{transaction.label} completes after {transaction.executable_after:%Y-%m-%d %H:%M} UTC.",
            code="not_yet_executable",
        )
    ensure_not_frozen(transaction.block)
    _complete(transaction, now=now)
    audit.record(
        "registry.completion_requested",
        actor=actor,
        entity_type="registry_transaction",
        entity_id=transaction.id,
    )
    return transaction


def complete_due_transactions(*, now: datetime | None = None) -> list[Transaction]:
    """Complete approved transactions whose delay has passed (run by `flask poa registry-due`, and
    whenever a registry page asks). A frozen range or a suspension keeps them waiting."""
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(Transaction)
        .where(Transaction.status == TransactionStatus.approved, Transaction.executable_after <= now)
        .order_by(Transaction.id)
    ).all()
    ensure_open()
    done = []
    for transaction in due:
        lock(transaction)
        if transaction.status is not TransactionStatus.approved:
            continue
        try:
            ensure_not_frozen(transaction.block)
        except RegistryRefusal:
            continue  # waits until the freeze is lifted
        _complete(transaction, now=now)
        done.append(transaction)
    return done


def _complete(transaction: Transaction, *, now: datetime) -> None:
    block = transaction.block
    lock(block)
    block.account_id = transaction.to_account_id
    block.status = _END_STATUS[transaction.kind]
    block.reserved_by_id = None
    transaction.status = TransactionStatus.completed
    transaction.completed_at = now
    db.session.flush()
    db.session.add(
        ledger_entry(
            _LEDGER_KIND[transaction.kind],
            block,
            transaction.from_account_id,
            transaction.to_account_id,
            transaction.approved_by,
            now,
            transaction_id=transaction.id,
        )
    )
    db.session.flush()
    article6.on_completion(transaction, now=now)
    emit(
        transaction.kind.value,
        programme_id=transaction.programme_id,
        transaction=transaction.label,
        from_account=transaction.from_account.number,
        to_account=transaction.to_account.number,
        beneficiary=transaction.beneficiary,
        using_entity=transaction.using_entity,
        **block_payload(block),
    )
    audit.record(
        f"registry.{transaction.kind.value}_completed",
        actor=transaction.approved_by,
        entity_type="registry_transaction",
        entity_id=transaction.id,
        after={"serials": f"{block.vintage}:{block.range}", "to_account": transaction.to_account_id},
    )


def reject_transaction(transaction: Transaction, *, actor: User, reason: str) -> Transaction:
    """The approver says no: the reserved units are free again, still in the holder's account."""
    lock(transaction)
    _ensure_open_transaction(transaction, TransactionStatus.proposed)
    if actor.id == transaction.initiated_by_id:
        raise RegistryRefusal("You initiated this; withdraw it instead.", code="self_approval")
    if not policies.can_approve_transaction(actor, transaction):
        raise NotAllowed(
            "A second person of the holding organisation, or the registry administrator, rejects."
        )
    return _close(transaction, actor, reason, TransactionStatus.rejected)


def withdraw_transaction(transaction: Transaction, *, actor: User, reason: str) -> Transaction:
    """The holder stops its own transaction before it completes (the point of the delay)."""
    lock(transaction)
    _ensure_open_transaction(transaction, TransactionStatus.proposed, TransactionStatus.approved)
    if not policies.can_withdraw_transaction(actor, transaction):
        raise NotAllowed("Only the holding organisation withdraws its transaction.")
    return _close(transaction, actor, reason, TransactionStatus.withdrawn)


def _close(transaction: Transaction, actor: User, reason: str, status: TransactionStatus) -> Transaction:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason.", errors={"reason": ["A reason is required."]})
    transaction.block.reserved_by_id = None
    transaction.status, transaction.closed_reason, transaction.closed_by_id = status, reason, actor.id
    db.session.flush()
    audit.record(
        f"registry.{transaction.kind.value}_{status.value}",
        actor=actor,
        entity_type="registry_transaction",
        entity_id=transaction.id,
        after={"reason": reason},
    )
    return transaction


def _ensure_open_transaction(transaction: Transaction, *statuses: TransactionStatus) -> None:
    if transaction.status not in statuses:
        raise RegistryRefusal(
            f"{transaction.label} is {transaction.status.value}.", code="transaction_not_open"
        )


def awaiting_approval(*, actor: User) -> list[Transaction]:
    """Proposed transactions the actor may approve: a second person's, never their own."""
    proposed = db.session.scalars(
        policies.visible_transactions(actor).where(Transaction.status == TransactionStatus.proposed)
    )
    return [
        t for t in proposed if t.initiated_by_id != actor.id and policies.can_approve_transaction(actor, t)
    ]


def list_transactions(*, actor: User) -> sa.Select[tuple[Transaction]]:
    return policies.visible_transactions(actor)


def get_transaction(transaction_id: int, *, actor: User) -> Transaction:
    return one_or_not_found(
        policies.visible_transactions(actor).where(Transaction.id == transaction_id), "No such transaction."
    )
