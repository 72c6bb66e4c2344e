"""T1: a hypothesis state machine drives the real registry services through issue, forward,
transfer, split, retire, cancel and freeze steps. After every step no two blocks overlap, every
unit is in exactly one account, the ledger and the blocks agree, issued = held + retired +
cancelled, and retired or cancelled units never move."""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.errors import InvalidInput, RuleViolation
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    BlockStatus,
    CreditBlock,
    LedgerEntry,
    LedgerKind,
    TransactionKind,
)
from tests.factories import OrganisationFactory, UserFactory

SEQUENCES = 200
STEPS = 12


@pytest.fixture
def pool(world, registered, registry, make_verified, allocation):  # noqa: ARG001
    """Verified requests every generated sequence may issue (each sequence runs in a savepoint and
    is rolled back, so the pool is fresh for the next)."""
    return [make_verified([Decimal("10.5") * (i + 1), Decimal("7.25") * (i + 2)]) for i in range(4)]


def test_serial_blocks_keep_their_invariants_over_generated_sequences(registered, registry, pool):
    holders = {
        registry.participant.id: (registry.trader, registry.trader_colleague),
        registry.japan.id: (
            UserFactory(organisation=registry.japan),
            UserFactory(organisation=registry.japan),
        ),
        registry.host.id: (UserFactory(organisation=registry.host), UserFactory(organisation=registry.host)),
        registry.buyer.id: (registry.buyer_user, UserFactory(organisation=registry.buyer)),
    }
    OrganisationFactory(kind=OrganisationKind.coordinating_entity)  # an organisation with no account
    counts = {"sequences": 0, "steps": 0, "refused": 0}

    class Registry(RuleBasedStateMachine):
        @initialize()
        def begin(self):
            self.savepoint = db.session.begin_nested()
            self.terminal: dict[tuple[int, int], tuple[int, BlockStatus]] = {}  # (vintage, serial) → held
            counts["sequences"] += 1
            # Every sequence starts from one forwarded issuance, so moves have units to move.
            services.forward_issuance(
                services.approve_issuance(pool[0], actor=registry.admin), actor=registry.admin
            )

        def teardown(self):
            self.savepoint.rollback()
            db.session.expire_all()

        def _blocks(self, *, active_only=True):
            query = sa.select(CreditBlock).order_by(CreditBlock.id)
            if active_only:
                query = query.where(
                    CreditBlock.status == BlockStatus.active, CreditBlock.reserved_by_id.is_(None)
                )
            return db.session.scalars(query).all()

        def _refused(self, action):
            counts["steps"] += 1
            try:
                with db.session.begin_nested():
                    return action()
            except (RuleViolation, InvalidInput):
                counts["refused"] += 1
                return None

        @rule(index=st.integers(0, len(pool) - 1), forward=st.booleans())
        def issue(self, index, forward):
            issuance = self._refused(lambda: services.approve_issuance(pool[index], actor=registry.admin))
            if issuance is not None and forward:
                self._refused(lambda: services.forward_issuance(issuance, actor=registry.admin))

        def _move(self, data, kind, *, withdraw=False):
            holding = [b for b in self._blocks() if b.account.kind is AccountKind.holding]
            if not holding:
                return
            block = data.draw(st.sampled_from(holding))
            quantity = data.draw(st.integers(1, block.quantity))
            initiator, approver = holders[block.account.organisation_id]
            destination = data.draw(
                st.sampled_from([o for o in holders if o != block.account.organisation_id])
            )

            def act():
                transaction = services.initiate_transaction(
                    block,
                    actor=initiator,
                    kind=kind,
                    quantity=quantity,
                    to_account_id=services.account_of(destination, AccountKind.holding).id,
                    beneficiary="City of Da Nang",
                    purpose="Voluntary claim",
                    using_entity="Da Nang PC",
                )
                if withdraw:  # a split with no movement: the units stay where they were
                    services.withdraw_transaction(transaction, actor=initiator, reason="Changed mind")
                else:
                    services.approve_transaction(transaction, actor=approver)
                return transaction

            transaction = self._refused(act)
            if transaction is not None and kind is not TransactionKind.transfer and not withdraw:
                moved = transaction.block
                for serial in (moved.serial_start, moved.serial_end):
                    self.terminal[(moved.vintage, serial)] = (moved.account_id, moved.status)

        @rule(data=st.data())
        def transfer(self, data):
            self._move(data, TransactionKind.transfer)

        @rule(data=st.data())
        def split(self, data):
            self._move(data, TransactionKind.transfer, withdraw=True)

        @rule(data=st.data())
        def retire(self, data):
            self._move(data, TransactionKind.retirement)

        @rule(data=st.data())
        def cancel(self, data):
            self._move(data, TransactionKind.cancellation)

        @rule(data=st.data(), lift=st.booleans())
        def freeze(self, data, lift):
            blocks = self._blocks(active_only=False)
            if not blocks:
                return
            block = data.draw(st.sampled_from(blocks))
            freeze = self._refused(
                lambda: services.freeze_range(
                    registered,
                    actor=registry.admin,
                    vintage=block.vintage,
                    serial_start=block.serial_start,
                    serial_end=block.serial_end,
                    reason="Suspected theft",
                )
            )
            if freeze is not None and lift:
                self._refused(lambda: services.lift_freeze(freeze, actor=registry.admin))

        @rule(data=st.data())
        def move_a_terminal_block(self, data):
            """T4 inside the machine: retired and cancelled units are refused, whoever asks."""
            done = [b for b in self._blocks(active_only=False) if b.status is not BlockStatus.active]
            if not done:
                return
            block = data.draw(st.sampled_from(done))
            with pytest.raises(RuleViolation):
                services.initiate_transaction(
                    block,
                    actor=registry.trader,
                    kind=TransactionKind.transfer,
                    quantity=1,
                    to_account_id=None,
                )

        @invariant()
        def the_registry_reconciles(self):
            report = services.reconcile()
            assert report.clean, report.discrepancies

        @invariant()
        def issued_equals_held_plus_retired_plus_cancelled(self):
            issued = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0)).where(
                    LedgerEntry.kind == LedgerKind.issuance
                )
            )
            by_status = dict(
                db.session.execute(
                    sa.select(
                        CreditBlock.status, sa.func.sum(CreditBlock.serial_end - CreditBlock.serial_start + 1)
                    ).group_by(CreditBlock.status)
                ).all()
            )
            assert issued == sum(int(v) for v in by_status.values())

        @invariant()
        def retired_and_cancelled_units_stay_put(self):
            for (vintage, serial), (account_id, status) in self.terminal.items():
                holder = db.session.execute(
                    sa.select(CreditBlock.account_id, CreditBlock.status).where(
                        CreditBlock.vintage == vintage,
                        CreditBlock.serial_start <= serial,
                        CreditBlock.serial_end >= serial,
                    )
                ).one()
                assert tuple(holder) == (account_id, status)

    run_state_machine_as_test(
        Registry,
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(
        f"T1: {counts['steps']} steps ({counts['refused']} refused as the rules require) over "
        f"{counts['sequences']} generated sequences: 0 overlapping blocks, 0 conservation violations"
    )
    assert counts["sequences"] >= SEQUENCES
