"""Requests with known dates for the cycle-time tests: the real services make them, then each
milestone's own column is set to a date the test can count from."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from poa_manager.database import db
from poa_manager.monitoring.models import IssuanceRequest
from poa_manager.registry.models import Issuance
from poa_manager.verification.models import Verification, VerificationStatus
from tests.integration.monitoring.conftest import (  # noqa: F401  (fixtures)
    make_crediting_site,
    monitored,
    operator_of,
)
from tests.integration.registry.conftest import (  # noqa: F401  (fixtures)
    allocation,
    issued,
    make_verified,
    registry,
)
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
from tests.integration.verification.conftest import make_request, verifiers  # noqa: F401  (fixtures)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 30, tzinfo=UTC)


def live_verification(request: IssuanceRequest) -> Verification | None:
    return db.session.scalar(
        sa.select(Verification).where(
            Verification.request_id == request.id, Verification.status != VerificationStatus.cancelled
        )
    )


def date_milestones(request: IssuanceRequest, **days: date) -> None:
    """Put known dates where each step records its own: report, verification, issuance."""
    report = request.report
    if "period_end" in days:
        report.period_start = min(report.period_start, days["period_end"])
        report.period_end = days["period_end"]
    if "submitted" in days:
        report.submitted_at = at(days["submitted"])
        request.requested_at = at(days["submitted"])
    verification = live_verification(request)
    if verification is not None:
        if "verifier_assigned" in days:
            verification.assigned_at = at(days["verifier_assigned"])
        if "statement" in days:
            verification.approved_at = at(days["statement"])
    issuance = db.session.scalar(sa.select(Issuance).where(Issuance.request_id == request.id))
    if issuance is not None:
        if "issuance_approved" in days:
            issuance.approved_at = at(days["issuance_approved"])
        if "forwarded" in days:
            issuance.forwarded_at = at(days["forwarded"])
    db.session.flush()


@pytest.fixture
def dated():
    return date_milestones
