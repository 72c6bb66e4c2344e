"""The verifier's sample map: every site of the frozen frame, sampled or not, with its finding state."""

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.database import db
from poa_manager.sites.models import Site
from poa_manager.verification.models import FrameEntry, Verification

NOT_SAMPLED = "not_sampled"
TO_DO = "to_do"  # sampled, no finding yet


@dataclass(frozen=True)
class SamplePoint:
    site_id: int
    reference: str
    name: str
    stratum: str
    sampled: bool
    state: str  # not_sampled, to_do, or the finding's outcome (conforming, error, non_conformity)
    latitude: Decimal
    longitude: Decimal


@dataclass(frozen=True)
class SamplePoints:
    points: list[SamplePoint]
    unlocated: int


def sample_points(verification: Verification) -> SamplePoints:
    """The frame's sites with coordinates; the caller has the verification through the verification
    policies (services.get_verification), which is what lets it see the frame."""
    rows = db.session.execute(
        sa.select(
            FrameEntry.site_id,
            FrameEntry.site_reference,
            Site.name,
            FrameEntry.stratum,
            FrameEntry.draw_order,
            FrameEntry.outcome,
            Site.latitude,
            Site.longitude,
        )
        .join(Site, Site.id == FrameEntry.site_id)
        .where(FrameEntry.verification_id == verification.id)
        .order_by(FrameEntry.site_reference)
    ).all()
    points = []
    for site_id, reference, name, stratum, draw_order, outcome, latitude, longitude in rows:
        if latitude is None or longitude is None:
            continue
        sampled = draw_order is not None
        state = outcome.value if outcome is not None else (TO_DO if sampled else NOT_SAMPLED)
        points.append(SamplePoint(site_id, reference, name, stratum, sampled, state, latitude, longitude))
    points.sort(key=lambda point: point.sampled)  # stable: sampled sites are drawn last, on top
    return SamplePoints(points=points, unlocated=len(rows) - len(points))
