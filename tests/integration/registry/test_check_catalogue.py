"""T8: every refusal code in the registry's check catalogue is triggered by at least one test, and
the refusals that are not yet covered elsewhere are exercised here."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from poa_manager.errors import RuleViolation
from poa_manager.registry import services
from poa_manager.registry.checks import CHECKS
from poa_manager.registry.models import AccountKind, TransactionKind
from poa_manager.registry.services.controls import RegistryRefusal
from tests.verification_support import submitted_request

TESTS = Path(__file__).resolve().parents[2]


def test_every_check_code_is_asserted_by_a_test():
    text = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    asserted = {code for code in CHECKS if re.search(rf"""(code|error)["\]]? ?== ?["']{code}["']""", text)}
    missing = sorted(set(CHECKS) - asserted)
    print(f"T8: {len(CHECKS)} registry check codes defined, {len(asserted)} asserted by tests")
    assert not missing, f"check codes no test asserts: {missing}"


def test_an_unknown_code_cannot_be_raised():
    with pytest.raises(ValueError):
        RegistryRefusal("?", code="made_up")


def test_an_unverified_request_is_not_issued(world, registered, registry):
    request = submitted_request(registered, world.coordinator, [Decimal(10), Decimal(20)])
    with pytest.raises(RuleViolation) as refused:
        services.approve_issuance(request, actor=registry.admin)
    assert refused.value.code == "request_not_verified"


def test_forwarding_twice_and_moving_pending_units_are_refused(registry, issued, make_verified):
    with pytest.raises(RuleViolation) as refused:
        services.forward_issuance(issued, actor=registry.admin)
    assert refused.value.code == "already_forwarded"
    pending = services.approve_issuance(make_verified([Decimal(30), Decimal(40)]), actor=registry.admin)
    block = pending.blocks[0]
    with pytest.raises(RuleViolation) as refused:
        services.initiate_transaction(
            block,
            actor=registry.admin,
            kind=TransactionKind.transfer,
            quantity=1,
            to_account_id=services.account_of(registry.buyer.id, AccountKind.holding).id,
        )
    assert refused.value.code == "not_transferable"


def test_authorizing_more_units_than_exist_is_refused(registered, registry, issued):
    from datetime import date

    from poa_manager.registry.models import FirstTransferDefinition
    from tests.factories import UserFactory

    government = UserFactory(organisation=registry.host)
    authorization = services.record_authorization(
        registered,
        actor=government,
        reference="LoA-big",
        cooperative_approach="CA0002",
        purposes=["ndc"],
        first_transfer_definition=FirstTransferDefinition.first_international_transfer,
        quantity_tco2e=10_000,
        vintage_first=2025,
        vintage_last=2025,
        sector="Energy",
        activity_type="Solar PV",
        authorized_on=date(2025, 12, 1),
    )
    with pytest.raises(RuleViolation) as refused:
        services.authorize_units(authorization, actor=government, quantity=5_000)
    assert refused.value.code == "not_enough_units"
