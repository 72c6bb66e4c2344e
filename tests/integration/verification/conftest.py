"""A registered programme with an issuance request of many sites (see `tests.verification_support`),
and a verifier organisation of three."""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.monitoring.models import IssuanceRequest
from tests.factories import OrganisationFactory, UserFactory
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
from tests.verification_support import submitted_request


@dataclass
class Verifiers:
    """The world's verifier (who validated the programme) and two colleagues who did not."""

    validator: User
    auditor: User
    reviewer: User
    other_firm: User  # of another verifier organisation


@pytest.fixture
def verifiers(world, registered) -> Verifiers:  # noqa: F811
    organisation = world.verifier.organisation
    other = OrganisationFactory(kind=OrganisationKind.verifier, name="Other Verifier Ltd")
    return Verifiers(
        validator=world.verifier,
        auditor=UserFactory(organisation=organisation, full_name="Ana Auditor"),
        reviewer=UserFactory(organisation=organisation, full_name="Rui Reviewer"),
        other_firm=UserFactory(organisation=other),
    )


@pytest.fixture
def make_request(registered, world):  # noqa: F811
    """Requests on the world's registered programme (see `submitted_request`)."""

    def make(claims: list[Decimal], *, facts: list[dict] | None = None) -> IssuanceRequest:
        return submitted_request(registered, world.coordinator, claims, facts=facts)

    return make
