"""A registered programme with an issuance request of many sites, and a verifier organisation of three.

The request is made by the real `request_issuance` from a submitted monitoring report whose lines
are written directly: verification reads the request's lines, not the readings behind them (the
monitoring tests cover those), and a 1,000-site request would otherwise need a million readings.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db as _db
from poa_manager.database import utcnow
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import IssuanceRequest, MonitoringLine, MonitoringReport, ReportStatus
from poa_manager.sites.models import Site, SiteStatus
from tests.factories import OrganisationFactory, UserFactory
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)

PERIOD = (date(2025, 1, 1), date(2025, 6, 30))


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


def submitted_request(
    programme, coordinator, claims: list[Decimal], *, facts: list[dict] | None = None
) -> IssuanceRequest:
    """An issuance request over new sites claiming `claims` (tCO2e), with `facts[i]` per site."""
    number = 1 + len(
        _db.session.scalars(
            _db.select(MonitoringReport.id).where(MonitoringReport.programme_id == programme.id)
        ).all()
    )
    report = MonitoringReport(
        programme=programme,
        number=number,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        status=ReportStatus.submitted,
        submitted_at=utcnow(),
        submitted_by_id=coordinator.id,
    )
    defaults = {
        "status": SiteStatus.crediting,
        "technology": "solar_pv",
        "capacity_kw": Decimal(500),
        "documents": ["cpa_dd", "grid_connection_certificate"],
        "crediting_start": PERIOD[0],
    }
    first = sum(1 for site in programme.sites if site.reference.startswith("CPA-"))  # CPA-0001 on
    sites = [
        Site(
            programme=programme,
            reference=f"CPA-{first + i + 1:04d}",
            name=f"Rooftop {first + i + 1}",
            **{**defaults, **(facts[i] if facts else {})},
        )
        for i in range(len(claims))
    ]
    _db.session.add_all(sites)
    _db.session.flush()
    report.lines = [
        MonitoringLine(
            site_id=site.id,
            site_reference=site.reference,
            window_start=PERIOD[0],
            window_end=PERIOD[1],
            vintage=2025,
            window_from=0,
            window_until=1,
            emission_reductions_tco2e=claim,
        )
        for site, claim in zip(sites, claims, strict=True)
    ]
    report.total_tco2e = sum(claims, Decimal(0))
    _db.session.add(report)
    _db.session.flush()
    return monitoring_services.request_issuance(report, actor=coordinator)


@pytest.fixture
def make_request(registered, world):  # noqa: F811
    """Requests on the world's registered programme (see `submitted_request`)."""

    def make(claims: list[Decimal], *, facts: list[dict] | None = None) -> IssuanceRequest:
        return submitted_request(registered, world.coordinator, claims, facts=facts)

    return make
