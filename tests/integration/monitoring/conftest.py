"""A registered AMS-I.D programme in Viet Nam with crediting sites and their meters."""

from datetime import date
from decimal import Decimal

import pytest

from poa_manager.database import db as _db
from poa_manager.sites.models import Meter, MeterRole, MeterUnit, ReadingType, SiteStatus
from tests.factories import SiteFactory
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)

# No 2024+ Viet Nam grid factor is published (domain.md §3.1): the programme overrides 2025 with
# the 2023 value, so the worked example's numbers hold: 1,350 MWh × 0.6592 = 889.92 tCO2e.
EF_2025 = "0.6592"
CREDITING_START = date(2025, 1, 1)


@pytest.fixture
def monitored(registered, world):  # noqa: F811
    """The world's programme registered, with a 2025 grid factor; returns the programme."""
    registered.current_version.grid_emission_factor_overrides = {"2025": EF_2025}
    _db.session.flush()
    return registered


@pytest.fixture
def make_crediting_site(monitored, world):
    """A crediting 1 MW site with an export meter (kWh intervals), calibrated for 2025–2029."""

    def make(n: int, *, meters=None, crediting_start=CREDITING_START, crediting_end=None, **facts):
        site = SiteFactory(
            programme=monitored,
            reference=f"CPA-{n:04d}",
            status=SiteStatus.crediting,
            capacity_kw=Decimal(1000),
            technology="solar_pv",
            included_on=crediting_start,
            crediting_start=crediting_start,
            crediting_end=crediting_end,
            **facts,
        )
        for spec in meters or [{"serial": f"EXP-{n:04d}"}]:
            site.meters.append(
                Meter(
                    serial=spec["serial"],
                    role=spec.get("role", MeterRole.export),
                    accuracy_class=spec.get("accuracy_class", "0.2S"),
                    calibrated_on=spec.get("calibrated_on", date(2024, 12, 1)),
                    calibration_valid_until=spec.get("calibration_valid_until", date(2029, 12, 1)),
                    unit=spec.get("unit", MeterUnit.kWh),
                    multiplier=spec.get("multiplier", Decimal(1)),
                    reading_type=spec.get("reading_type", ReadingType.interval),
                    register_digits=spec.get("register_digits"),
                )
            )
        _db.session.flush()
        return site

    return make


@pytest.fixture
def operator_of(world):
    """Make the world's site operator the operator of another site."""
    from poa_manager.accounts.models import Membership
    from poa_manager.accounts.roles import Role

    def grant(site):
        membership = Membership(
            user=world.site_operator, programme_id=site.programme_id, site_id=site.id, role=Role.site_operator
        )
        _db.session.add(membership)
        _db.session.flush()
        return world.site_operator

    return grant
