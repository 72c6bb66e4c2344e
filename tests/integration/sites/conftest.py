"""A registered programme with a full set of criteria, and a way to make sites for it."""

from datetime import date
from decimal import Decimal

import pytest

from poa_manager.database import utcnow
from poa_manager.programmes import services as programme_services
from poa_manager.sites import services

CRITERIA = [
    {
        "code": "EC-01",
        "description": "Inside the programme boundary",
        "kind": "location_in_boundary",
        "params": {"require_coordinates": True},
    },
    {
        "code": "EC-02",
        "description": "Rooftop solar PV only",
        "kind": "technology_allowed",
        "params": {"technologies": ["solar_pv"]},
    },
    {"code": "EC-03", "description": "Small scale", "kind": "capacity_range", "params": {"max_kw": "15000"}},
    {
        "code": "EC-04",
        "description": "Commissioned after the programme start",
        "kind": "commissioning_window",
        "params": {"not_before": "2024-01-01"},
    },
    {
        "code": "EC-05",
        "description": "Class 0.5S or better, calibrated",
        "kind": "meter_accuracy",
        "params": {"accepted_classes": ["0.2S", "0.5S"]},
    },
    {
        "code": "EC-06",
        "description": "CPA-DD present",
        "kind": "documents_present",
        "params": {"document_kinds": ["cpa_dd"]},
    },
    {
        "code": "EC-07",
        "description": "Not registered anywhere else",
        "kind": "no_double_counting",
        "params": {},
    },
]
BOUNDARY = {
    "geojson": {
        "type": "Polygon",
        "coordinates": [[[106.0, 10.5], [107.5, 10.5], [107.5, 11.5], [106.0, 11.5], [106.0, 10.5]]],
    }
}


@pytest.fixture
def registered(world):
    """The world's programme, registered with the criteria above (an AMS-I.D solar programme)."""
    programme = world.programme
    programme_services.update_programme(
        programme,
        actor=world.coordinator,
        title=programme.title,
        host_country="VN",
        partner_country="JP",
        methodology_code="AMS-I.D",
        boundary=BOUNDARY,
        start_date=date(2024, 1, 1),
        duration_years=28,
    )
    services.update_criteria(programme, actor=world.coordinator, criteria=CRITERIA)
    programme_services.submit_for_validation(programme, actor=world.coordinator, now=utcnow())
    programme_services.validate(programme, actor=world.verifier, now=utcnow())
    programme_services.register(programme, actor=world.registry_administrator, now=utcnow())
    return programme


def site_facts(n: int, **overrides) -> dict:
    """Facts of an eligible rooftop PV site, about 1 km apart for different n."""
    return {
        "reference": f"CPA-9{n:03d}",
        "name": f"Factory rooftop {n}",
        "latitude": Decimal("10.9") + Decimal(n) / 100,
        "longitude": Decimal("106.8"),
        "technology": "solar_pv",
        "capacity_kw": Decimal("850"),
        "commissioned_on": date(2025, 3, 1),
        "documents": ["cpa_dd"],
        "equipment_serials": [f"INV-{n:05d}"],
        "meters": [
            {
                "serial": f"MTR-{n:05d}",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2025, 2, 1),
                "calibration_valid_until": date(2030, 2, 1),
            }
        ],
    } | overrides


@pytest.fixture
def make_site(world):
    def make(programme, n: int, actor=None, **overrides):
        return services.create_site(programme, actor=actor or world.coordinator, **site_facts(n, **overrides))

    return make
