"""A registered programme with located sites imported from CSV, and an empty programme of the same
coordinator to import its map files into."""

import pytest

from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.sites.services import bulk
from tests.factories import MembershipFactory, OrganisationFactory, ProgrammeFactory
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
from tests.integration.sites.test_bulk_import import csv_file, site_row
from tests.integration.verification.conftest import make_request, verifiers  # noqa: F401  (fixtures)

SITES = 12


@pytest.fixture
def operator(db):
    return OrganisationFactory(name="Mekong Rooftop Operations", kind=OrganisationKind.site_operator)


@pytest.fixture
def source(world, registered, operator):  # noqa: F811
    """The registered programme with SITES more sites: every other one operated, one not located."""
    rows = [site_row(n, operator=operator.name if n % 2 else "") for n in range(SITES)]
    rows[5] |= {"latitude": "", "longitude": ""}
    rows[3] |= {
        "meter_2_serial": "MTR-EXTRA-3",
        "meter_2_role": "export",
        "funding_sources": "Bank <loan> & co",
    }
    bulk.import_sites(registered, actor=world.coordinator, filename="sites.csv", data=csv_file(rows))
    return registered


@pytest.fixture
def target(world):
    """A draft programme of the same coordinating entity, without sites."""
    programme = ProgrammeFactory(coordinating_entity=world.coordinator.organisation)
    MembershipFactory(user=world.coordinator, programme=programme, role=Role.coordinator)
    return programme
