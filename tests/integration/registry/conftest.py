"""A registered programme with a verified issuance request, a registry administrator, the
participants' organisations and an allocation table: what every registry test starts from."""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from poa_manager.accounts.models import Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.registry import services
from poa_manager.registry.models import Issuance
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
from tests.integration.verification.conftest import verifiers  # noqa: F401  (a fixture)
from tests.verification_support import verified_request


@dataclass
class Registry:
    """Who takes part: the registry administrator (world.registry_administrator), a second one,
    the governments and the participant with two people (for four-eyes transfers)."""

    admin: User
    second_admin: User
    japan: Organisation
    host: Organisation
    participant: Organisation
    trader: User
    trader_colleague: User
    buyer: Organisation
    buyer_user: User


@pytest.fixture
def registry(world, registered) -> Registry:  # noqa: F811
    second_admin = UserFactory(organisation=world.registry_administrator.organisation)
    MembershipFactory(user=second_admin, programme=registered, role=Role.registry_administrator)
    japan = OrganisationFactory(
        kind=OrganisationKind.host_government, country_code="JP", name="Government of Japan"
    )
    host = OrganisationFactory(
        kind=OrganisationKind.host_government, country_code="VN", name="Government of Viet Nam"
    )
    buyer = OrganisationFactory(kind=OrganisationKind.coordinating_entity, name="Buyer Co")
    participant = world.coordinator.organisation
    return Registry(
        admin=world.registry_administrator,
        second_admin=second_admin,
        japan=japan,
        host=host,
        participant=participant,
        trader=world.coordinator,
        trader_colleague=UserFactory(organisation=participant),
        buyer=buyer,
        buyer_user=UserFactory(organisation=buyer),
    )


@pytest.fixture
def make_verified(world, registered, verifiers):  # noqa: F811
    def make(claims: list[Decimal]):
        return verified_request(registered, world.coordinator, verifiers.auditor, verifiers.reviewer, claims)

    return make


@pytest.fixture
def allocation(world, registered, registry):  # noqa: F811
    """JCM-style: half to Japan, 10 % to Viet Nam, 40 % to the participant (domain.md §4.4)."""
    return services.set_allocation_table(
        registered,
        actor=world.coordinator,
        shares=[
            {"organisation_id": registry.japan.id, "share_percent": Decimal(50)},
            {"organisation_id": registry.host.id, "share_percent": Decimal(10)},
            {"organisation_id": registry.participant.id, "share_percent": Decimal(40)},
        ],
    )


@pytest.fixture
def issued(registry, make_verified, allocation) -> Issuance:
    """A forwarded issuance of three sites' credits (100.5 + 120.5 + 140.5 → 361 credits)."""
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])
    issuance = services.approve_issuance(request, actor=registry.admin)
    services.forward_issuance(issuance, actor=registry.admin)
    return issuance
