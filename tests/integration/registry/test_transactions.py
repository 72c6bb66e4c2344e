"""Transfers, retirements and cancellations: the split rule, four eyes (T5), terminal states (T4),
idempotent replays (T3), freezes and the suspension switch (T13), delays and limits (A1 #9)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    BlockStatus,
    CreditBlock,
    LedgerEntry,
    TransactionKind,
    TransactionStatus,
)


def participant_block(registry) -> CreditBlock:
    account = services.account_of(registry.participant.id, AccountKind.holding)
    return db.session.scalars(services.holdings(account)).first()


def buyer_account(registry):
    return services.account_of(registry.buyer.id, AccountKind.holding)


def transfer(registry, block, quantity, **extra):
    return services.initiate_transaction(
        block,
        actor=registry.trader,
        kind=TransactionKind.transfer,
        quantity=quantity,
        to_account_id=buyer_account(registry).id,
        **extra,
    )


def test_a_partial_transfer_leaves_the_first_sub_block_with_the_holder(registry, issued):
    block = participant_block(registry)
    start, end = block.serial_start, block.serial_end
    transaction = transfer(registry, block, 10)
    assert transaction.status is TransactionStatus.proposed
    assert (block.serial_start, block.serial_end) == (start, end - 10)  # kept: the first sub-block
    moved = transaction.block
    assert (moved.serial_start, moved.serial_end) == (end - 9, end) and moved.reserved_by_id == transaction.id
    services.approve_transaction(transaction, actor=registry.trader_colleague)
    assert transaction.status is TransactionStatus.completed
    assert moved.account_id == buyer_account(registry).id and moved.reserved_by_id is None
    assert services.ledger_balance(buyer_account(registry).id) == 10
    assert services.reconcile().clean


def test_no_self_approval_and_no_approval_by_an_outsider(world, registry, issued):
    transaction = transfer(registry, participant_block(registry), 5)
    with pytest.raises(RuleViolation) as refused:
        services.approve_transaction(transaction, actor=registry.trader)
    assert refused.value.code == "self_approval"
    with pytest.raises(NotAllowed):
        services.approve_transaction(transaction, actor=registry.buyer_user)
    services.approve_transaction(transaction, actor=registry.admin)  # the registry administrator may
    assert transaction.status is TransactionStatus.completed
    print("T5: self-approval by the initiator and approval by an outsider: 0 accepted")


def test_retired_and_cancelled_units_never_move_again(registry, issued):
    block = participant_block(registry)
    retirement = services.initiate_transaction(
        block,
        actor=registry.trader,
        kind=TransactionKind.retirement,
        quantity=3,
        beneficiary="Hanoi Metro",
        purpose="2025 voluntary claim",
        using_entity="Hanoi Metro JSC",
    )
    services.approve_transaction(retirement, actor=registry.trader_colleague)
    retired = retirement.block
    assert retired.status is BlockStatus.retired and retired.account.kind is AccountKind.retirement
    cancellation = services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.cancellation, quantity=2, purpose="Correction"
    )
    services.approve_transaction(cancellation, actor=registry.trader_colleague)
    tried = 0
    for terminal in (retired, cancellation.block):
        for kind in TransactionKind:
            tried += 1
            with pytest.raises(RuleViolation) as refused:
                services.initiate_transaction(
                    terminal,
                    actor=registry.trader,
                    kind=kind,
                    quantity=1,
                    to_account_id=buyer_account(registry).id,
                    beneficiary="x",
                    purpose="x",
                    using_entity="x",
                )
            assert refused.value.code == "block_terminal"
    for done in (retirement, cancellation):
        for attempt in (services.approve_transaction, services.complete_transaction):
            tried += 1
            with pytest.raises(RuleViolation) as refused:
                attempt(done, actor=registry.admin)
            assert refused.value.code == "transaction_not_open"
    print(f"T4: {tried} transitions out of retired/cancelled tried, 0 accepted")


def test_a_retirement_names_beneficiary_purpose_and_using_entity(registry, issued):
    with pytest.raises(InvalidInput) as refused:
        services.initiate_transaction(
            participant_block(registry), actor=registry.trader, kind=TransactionKind.retirement, quantity=1
        )
    assert set(refused.value.errors) == {"beneficiary", "purpose", "using_entity"}


def test_reserved_units_cannot_be_spent_twice_and_a_rejection_frees_them(registry, issued):
    first = transfer(registry, participant_block(registry), 4)
    with pytest.raises(RuleViolation) as refused:
        transfer(registry, first.block, 1)
    assert refused.value.code == "block_reserved"
    services.reject_transaction(first, actor=registry.trader_colleague, reason="Wrong buyer")
    assert first.status is TransactionStatus.rejected and first.block.reserved_by_id is None
    assert first.block.account.organisation_id == registry.participant.id


def test_the_same_idempotency_key_gives_one_transaction_and_one_ledger_entry(registry, issued):
    block = participant_block(registry)
    transactions = {transfer(registry, block, 7, idempotency_key="click-42").id for _ in range(10)}
    assert len(transactions) == 1
    (transaction_id,) = transactions
    services.approve_transaction(
        services.get_transaction(transaction_id, actor=registry.trader), actor=registry.admin
    )
    entries = db.session.scalar(
        sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.transaction_id == transaction_id)
    )
    print(
        f"T3: 10 replays with one Idempotency-Key → {len(transactions)} transaction, {entries} ledger entry"
    )
    assert entries == 1
    with pytest.raises(RuleViolation) as refused:
        transfer(registry, block, 8, idempotency_key="click-42")
    assert refused.value.code == "idempotency_key_reused"


def test_a_frozen_range_refuses_every_transaction_until_lifted(world, registered, registry, issued):
    block = participant_block(registry)
    pending = transfer(registry, block, 2)
    freeze = services.freeze_range(
        registered,
        actor=registry.admin,
        vintage=block.vintage,
        serial_start=block.serial_start,
        serial_end=block.serial_end + 2,
        reason="Reported stolen",
    )
    for attempt in (
        lambda: transfer(registry, block, 1),
        lambda: services.approve_transaction(pending, actor=registry.trader_colleague),
    ):
        with pytest.raises(RuleViolation) as refused:
            attempt()
        assert refused.value.code == "serial_frozen"
    services.lift_freeze(freeze, actor=registry.admin)
    services.approve_transaction(pending, actor=registry.trader_colleague)
    assert pending.status is TransactionStatus.completed


def test_nothing_moves_while_the_registry_is_suspended(world, registry, issued, make_verified):
    from decimal import Decimal

    waiting = make_verified([Decimal(10), Decimal(12)])
    proposed = transfer(registry, participant_block(registry), 1)
    services.set_suspension(actor=registry.admin, suspended=True, reason="Phishing incident")
    attempts = [
        lambda: transfer(registry, participant_block(registry), 1),
        lambda: services.approve_transaction(proposed, actor=registry.trader_colleague),
        lambda: services.approve_issuance(waiting, actor=registry.admin),
        lambda: services.complete_due_transactions(),
    ]
    refused = 0
    for attempt in attempts:
        with pytest.raises(RuleViolation) as error:
            attempt()
        assert error.value.code == "registry_suspended"
        refused += 1
    print(f"T13: {len(attempts)} transactions tried while suspended, {len(attempts) - refused} processed")
    with pytest.raises(NotAllowed):
        services.set_suspension(actor=registry.trader, suspended=False, reason="mine")
    services.set_suspension(actor=registry.admin, suspended=False, reason="Incident closed")
    services.approve_transaction(proposed, actor=registry.trader_colleague)
    assert proposed.status is TransactionStatus.completed


def test_a_delay_holds_an_approved_transfer_and_the_holder_may_withdraw_it(registry, issued):
    account = services.account_of(registry.participant.id, AccountKind.holding)
    services.set_account_controls(account, actor=registry.admin, transfer_delay_hours=26, transfer_limit=50)
    with pytest.raises(RuleViolation) as refused:
        transfer(registry, participant_block(registry), 51)
    assert refused.value.code == "transfer_limit_exceeded"
    now = utcnow()
    first = transfer(registry, participant_block(registry), 5, now=now)
    services.approve_transaction(first, actor=registry.trader_colleague, now=now)
    assert first.status is TransactionStatus.approved
    with pytest.raises(RuleViolation) as refused:
        services.complete_transaction(first, actor=registry.trader, now=now + timedelta(hours=25))
    assert refused.value.code == "not_yet_executable"
    assert services.complete_due_transactions(now=now + timedelta(hours=25)) == []
    assert services.complete_due_transactions(now=now + timedelta(hours=26)) == [first]
    second = transfer(registry, participant_block(registry), 5, now=now)
    services.approve_transaction(second, actor=registry.trader_colleague, now=now)
    services.withdraw_transaction(second, actor=registry.trader, reason="Not ours: phishing")
    assert second.status is TransactionStatus.withdrawn
    assert services.complete_due_transactions(now=now + timedelta(days=3)) == []
    assert services.reconcile().clean


def test_the_ledger_is_append_only_and_reconciliation_finds_a_tampered_block(registry, issued):
    entry_id = db.session.scalar(sa.select(sa.func.min(LedgerEntry.id)))
    with pytest.raises(sa.exc.DBAPIError):
        with db.session.begin_nested():
            db.session.execute(
                sa.text("UPDATE ledger_entries SET quantity = 1 WHERE id = :id"), {"id": entry_id}
            )
    with pytest.raises(sa.exc.DBAPIError):
        with db.session.begin_nested():
            db.session.execute(sa.text("DELETE FROM ledger_entries WHERE id = :id"), {"id": entry_id})
    assert services.reconcile().clean
    block = participant_block(registry)
    # Someone edits a block behind the services' back: reconciliation reports it (T7).
    db.session.execute(
        sa.text("UPDATE credit_blocks SET account_id = :to WHERE id = :id"),
        {"to": buyer_account(registry).id, "id": block.id},
    )
    db.session.expire_all()
    report = services.reconcile()
    print(f"T7: reconciliation on seed data clean; injected discrepancy found: {not report.clean}")
    assert len(report.discrepancies) == 2  # the participant's account is short, the buyer's over


def test_two_overlapping_blocks_are_refused_by_the_database(registry, issued):
    block = participant_block(registry)
    with pytest.raises(sa.exc.DBAPIError):
        with db.session.begin_nested():
            db.session.execute(
                sa.text(
                    "INSERT INTO credit_blocks (programme_id, site_id, vintage, serial_start, serial_end,"
                    " account_id, status, issuance_id, authorization_status, created_at)"
                    " VALUES (:p, :s, :v, :start, :end, :a, 'active', :i, 'mitigation_outcome', :now)"
                ),
                {
                    "p": block.programme_id,
                    "s": block.site_id,
                    "v": block.vintage,
                    "start": block.serial_start + 1,
                    "end": block.serial_end + 1000,
                    "a": block.account_id,
                    "i": block.issuance_id,
                    "now": utcnow(),
                },
            )


def test_notifications_name_the_serial_range_and_the_transaction(
    registry, issued, login_as, client, api_headers_for
):
    transaction = transfer(registry, participant_block(registry), 6)
    services.approve_transaction(transaction, actor=registry.trader_colleague)
    mine = services.events_for(registry.buyer_user)
    assert [e.kind for e in mine] == ["transfer"]
    payload = mine[0].payload
    assert payload["transaction"] == transaction.label and payload["quantity"] == 6
    assert payload["serial"] == transaction.block.serial
    page = login_as(registry.buyer_user).get("/registry/events").data.decode()
    assert transaction.label in page and transaction.block.serial in page
    api = client.get("/api/v1/registry/events", headers=api_headers_for(registry.admin)).json
    assert {"issuance", "forward", "transfer"} <= {e["kind"] for e in api}
