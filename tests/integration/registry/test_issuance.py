"""Issuance: four-eyes approval, serial blocks per site and vintage, forwarding by the allocation
table, and replays (T3, T5)."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from poa_manager.accounts.roles import Role
from poa_manager.database import db
from poa_manager.errors import NotAllowed, RuleViolation
from poa_manager.monitoring.models import RequestStatus
from poa_manager.registry import services
from poa_manager.registry.models import AccountKind, BlockStatus, CreditBlock, IssuanceStatus, LedgerEntry
from tests.factories import MembershipFactory


def test_approval_issues_blocks_per_site_into_the_pending_account(world, registry, make_verified):
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])
    issuance = services.approve_issuance(request, actor=registry.admin)
    assert issuance.credits == 361 and request.status is RequestStatus.issued
    assert issuance.approved_by_id == registry.admin.id and issuance.requested_by_id == world.coordinator.id
    # Hand: quotas 361·100.5/361.5 = 100.361, 361·120.5/361.5 = 120.333, 361·140.5/361.5 = 140.306;
    # floors 100 + 120 + 140 = 360, and the one left goes to the largest remainder (.361, the first).
    assert [(b.serial_start, b.serial_end) for b in issuance.blocks] == [(1, 101), (102, 221), (222, 361)]
    assert len({b.site_id for b in issuance.blocks}) == 3
    assert {b.account.kind for b in issuance.blocks} == {AccountKind.pending}
    assert services.ledger_balance(issuance.pending_account_id) == 361
    assert services.serial_of(issuance.blocks[0]).endswith(".CPA-0001.2025.000000001-000000101")


def test_the_requester_never_approves_and_only_the_registry_administrator_does(
    world, registry, make_verified
):
    request = make_verified([Decimal(50), Decimal(50)])
    with pytest.raises(NotAllowed):
        services.approve_issuance(request, actor=world.verifier)
    # Even holding the registry role, the person who requested never approves (T5).
    MembershipFactory(user=world.coordinator, programme=request.programme, role=Role.registry_administrator)
    db.session.expire(world.coordinator)
    with pytest.raises(RuleViolation) as refused:
        services.approve_issuance(request, actor=world.coordinator)
    assert refused.value.code == "self_approval"


def test_a_replayed_approval_returns_the_same_issuance_and_one_set_of_entries(registry, make_verified):
    request = make_verified([Decimal("10"), Decimal("20")])
    first = services.approve_issuance(request, actor=registry.admin)
    again = [services.approve_issuance(request, actor=registry.second_admin) for _ in range(5)]
    assert all(i.id == first.id for i in again)
    entries = db.session.scalar(
        sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.issuance_id == first.id)
    )
    print(f"T3: 6 approvals of one request → {entries} ledger entries for its 2 blocks")
    assert entries == 2


def test_forwarding_follows_the_allocation_table(registry, issued):
    assert issued.status is IssuanceStatus.forwarded
    japan = services.held_quantity(services.account_of(registry.japan.id, AccountKind.holding).id)
    host = services.held_quantity(services.account_of(registry.host.id, AccountKind.holding).id)
    participant = services.held_quantity(services.account_of(registry.participant.id, AccountKind.holding).id)
    # 361 at 50/10/40 %: 180.5 / 36.1 / 144.4 → 180/36/144 and the one left to the largest remainder (Japan).
    assert (japan, host, participant) == (181, 36, 144)
    assert services.held_quantity(issued.pending_account_id) == 0
    assert services.reconcile().clean, services.reconcile().discrepancies


def test_forwarding_needs_an_allocation_table_adding_to_100(world, registered, registry, make_verified):
    with pytest.raises(RuleViolation) as refused:
        services.set_allocation_table(
            registered,
            actor=world.coordinator,
            shares=[{"organisation_id": registry.japan.id, "share_percent": Decimal(60)}],
        )
    assert refused.value.code == "allocation_invalid"
    issuance = services.approve_issuance(make_verified([Decimal(2), Decimal(3)]), actor=registry.admin)
    with pytest.raises(RuleViolation) as refused:
        services.forward_issuance(issuance, actor=registry.admin)
    assert refused.value.code == "no_allocation_table"


def test_a_jcm_model_project_gives_japan_at_least_half(world, registered, registry):
    registered.mechanism = registered.mechanism.__class__("jcm")
    shares = [
        {"organisation_id": registry.japan.id, "share_percent": Decimal(40)},
        {"organisation_id": registry.participant.id, "share_percent": Decimal(60)},
    ]
    with pytest.raises(RuleViolation) as refused:
        services.set_allocation_table(
            registered, actor=world.coordinator, shares=shares, jcm_model_project=True
        )
    assert "at least 50" in refused.value.message
    shares[0]["share_percent"], shares[1]["share_percent"] = Decimal(50), Decimal(50)
    assert (
        len(
            services.set_allocation_table(
                registered, actor=world.coordinator, shares=shares, jcm_model_project=True
            )
        )
        == 2
    )


def test_blocks_of_a_share_of_proceeds_are_cancelled_on_forwarding(
    world, registered, registry, make_verified
):
    services.set_allocation_table(
        registered,
        actor=world.coordinator,
        shares=[
            {"organisation_id": registry.participant.id, "share_percent": Decimal(98)},
            {"organisation_id": registry.host.id, "share_percent": Decimal(2), "destination": "cancellation"},
        ],
    )
    issuance = services.approve_issuance(make_verified([Decimal(50), Decimal(50)]), actor=registry.admin)
    services.forward_issuance(issuance, actor=registry.admin)
    cancelled = db.session.scalars(
        sa.select(CreditBlock).where(CreditBlock.status == BlockStatus.cancelled)
    ).all()
    assert [(b.quantity, b.account.kind) for b in cancelled] == [(2, AccountKind.cancellation)]
