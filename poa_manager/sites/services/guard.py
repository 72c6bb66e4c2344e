"""The double-counting guard: has this site's meter, equipment or location been registered already?

domain.md §1.4 (b) and §5.5; quality.md A1 #13 and T10. Checks run against every programme on the
platform and against registrations imported from other registries. The unique claim on each
serial (models.IdentifierClaim) is the race-safe backstop at inclusion time.
"""

import math
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from poa_manager import geo
from poa_manager.database import db, utcnow
from poa_manager.errors import RuleViolation
from poa_manager.programmes.models import Programme
from poa_manager.sites.eligibility import Conflict, ConflictKind, RelatedActivity
from poa_manager.sites.models import (
    CLAIMING_STATUSES,
    ExternalIdentifier,
    ExternalRegistration,
    IdentifierClaim,
    IdentifierKind,
    Meter,
    Site,
    SiteStatus,
)

METRES_PER_DEGREE = 111_195  # of latitude, on the mean Earth radius geo.distance_m uses
DEBUNDLING_RADIUS_M = 1_000  # [U] the usual de-bundling distance (domain.md §1.6)
NEARBY_RADIUS_M = 100  # [U] same-technology sites this close are flagged; criteria may widen it


def find_conflicts(site: Site, *, nearby_radius_m: int = 0) -> list[Conflict]:
    """Every registration elsewhere that shares this site's meters, equipment or location."""
    return (
        _meter_conflicts(site)
        + _claimed_equipment_conflicts(site)
        + _external_identifier_conflicts(site)
        + _nearby_conflicts(site, nearby_radius_m)
    )


def _label(status: SiteStatus, kind: ConflictKind) -> ConflictKind:
    return ConflictKind.permanent_exclusion if status is SiteStatus.excluded else kind


def _meter_conflicts(site: Site) -> list[Conflict]:
    serials = [meter.serial for meter in site.meters]
    if not serials:
        return []
    rows = db.session.execute(
        sa.select(Meter.serial, Site.reference, Site.status, Programme.reference)
        .join(Meter.site)
        .join(Site.programme)
        .where(Meter.serial.in_(serials), Site.id != site.id, Site.status != SiteStatus.withdrawn)
        .order_by(Meter.serial, Site.reference)
    )
    return [
        Conflict(
            _label(status, ConflictKind.duplicate_meter_serial),
            f"meter {serial}",
            other_reference=reference,
            other_registry=programme,
        )
        for serial, reference, status, programme in rows
    ]


def _claimed_equipment_conflicts(site: Site) -> list[Conflict]:
    if not site.equipment_serials:
        return []
    rows = db.session.execute(
        sa.select(IdentifierClaim.value, Site.reference, Site.status, Programme.reference)
        .join(IdentifierClaim.site)
        .join(Site.programme)
        .where(
            IdentifierClaim.kind == IdentifierKind.equipment_serial,
            IdentifierClaim.value.in_(site.equipment_serials),
            Site.id != site.id,
        )
    )
    return [
        Conflict(
            _label(status, ConflictKind.duplicate_equipment_serial),
            f"equipment {serial}",
            other_reference=reference,
            other_registry=programme,
        )
        for serial, reference, status, programme in rows
    ]


def _external_identifier_conflicts(site: Site) -> list[Conflict]:
    wanted = [(IdentifierKind.meter_serial, meter.serial) for meter in site.meters]
    wanted += [(IdentifierKind.equipment_serial, serial) for serial in site.equipment_serials]
    if not wanted:
        return []
    rows = db.session.execute(
        sa.select(
            ExternalIdentifier.kind,
            ExternalIdentifier.value,
            ExternalRegistration.identifier,
            ExternalRegistration.registry_name,
        )
        .join(ExternalIdentifier.registration)
        .where(sa.tuple_(ExternalIdentifier.kind, ExternalIdentifier.value).in_(wanted))
    )
    return [
        Conflict(
            ConflictKind.other_registry,
            f"{kind.value.replace('_', ' ')} {value}",
            other_reference=identifier,
            other_registry=registry,
        )
        for kind, value, identifier, registry in rows
    ]


def _nearby_conflicts(site: Site, threshold_m: int) -> list[Conflict]:
    """Same-technology sites within the threshold: a bounding-box query, then exact distances."""
    if site.latitude is None or site.longitude is None or not site.technology or threshold_m <= 0:
        return []
    here = geo.Point(site.latitude, site.longitude)
    lat_span = Decimal(threshold_m) / METRES_PER_DEGREE
    lon_span = lat_span / Decimal(max(math.cos(math.radians(float(site.latitude))), 0.01))

    def box(latitude, longitude):
        return sa.and_(
            latitude.between(site.latitude - lat_span, site.latitude + lat_span),
            longitude.between(site.longitude - lon_span, site.longitude + lon_span),
        )

    conflicts = []
    nearby_sites = db.session.execute(
        sa.select(Site.reference, Site.status, Site.latitude, Site.longitude, Programme.reference)
        .join(Site.programme)
        .where(
            box(Site.latitude, Site.longitude),
            Site.technology == site.technology,
            Site.id != site.id,
            Site.status != SiteStatus.withdrawn,
        )
    )
    for reference, status, latitude, longitude, programme in nearby_sites:
        distance = geo.distance_m(here, geo.Point(latitude, longitude))
        if distance <= threshold_m:
            conflicts.append(
                Conflict(
                    _label(status, ConflictKind.nearby_same_technology),
                    f"{site.technology} site {reference}",
                    other_reference=reference,
                    other_registry=programme,
                    distance_m=distance,
                )
            )
    external = db.session.execute(
        sa.select(ExternalRegistration).where(
            box(ExternalRegistration.latitude, ExternalRegistration.longitude),
            sa.or_(
                ExternalRegistration.technology.is_(None), ExternalRegistration.technology == site.technology
            ),
        )
    ).scalars()
    for registration in external:
        distance = geo.distance_m(here, geo.Point(registration.latitude, registration.longitude))
        if distance <= threshold_m:
            conflicts.append(
                Conflict(
                    ConflictKind.other_registry,
                    f"location of {registration.name or 'a site'}",
                    other_reference=registration.identifier,
                    other_registry=registration.registry_name,
                    distance_m=distance,
                )
            )
    return conflicts


def related_activities(site: Site, *, radius_m: int = DEBUNDLING_RADIUS_M) -> list[RelatedActivity]:
    """Registered or included activities near the site, for the de-bundling criterion (domain.md §1.6)."""
    if site.latitude is None or site.longitude is None:
        return []
    here = geo.Point(site.latitude, site.longitude)
    lat_span = Decimal(radius_m) / METRES_PER_DEGREE
    lon_span = lat_span / Decimal(max(math.cos(math.radians(float(site.latitude))), 0.01))
    rows = db.session.execute(
        sa.select(Site, Programme.reference, Programme.coordinating_entity_id)
        .join(Site.programme)
        .where(
            Site.latitude.between(site.latitude - lat_span, site.latitude + lat_span),
            Site.longitude.between(site.longitude - lon_span, site.longitude + lon_span),
            Site.id != site.id,
            Site.status.in_(CLAIMING_STATUSES),
        )
    )
    activities = []
    for other, programme_reference, entity_id in rows:
        distance = geo.distance_m(here, geo.Point(other.latitude, other.longitude))
        if distance <= radius_m:
            activities.append(
                RelatedActivity(
                    reference=other.reference,
                    registry=programme_reference,
                    same_participant=entity_id == site.programme.coordinating_entity_id,
                    technology=other.technology,
                    distance_m=distance,
                    capacity_kw=other.capacity_kw,
                    registered_on=other.included_on,
                )
            )
    return activities


def claim_identifiers(site: Site) -> None:
    """Hold the site's serials platform-wide; a concurrent inclusion of the same serial fails here."""
    now = utcnow()
    claims = [
        IdentifierClaim(kind=IdentifierKind.meter_serial, value=meter.serial, site_id=site.id, claimed_at=now)
        for meter in site.meters
    ]
    claims += [
        IdentifierClaim(kind=IdentifierKind.equipment_serial, value=serial, site_id=site.id, claimed_at=now)
        for serial in site.equipment_serials
    ]
    try:
        with db.session.begin_nested():
            db.session.add_all(claims)
            db.session.flush()
    except IntegrityError as error:
        raise RuleViolation(
            f"{site.reference}: a meter or equipment serial was claimed by another site a moment ago.",
            code="double_counting",
        ) from error


def claim_meter_serial(site: Site, serial: str) -> None:
    """A replacement meter of a claiming site is held like the meters it had at inclusion."""
    claimed_by = db.session.scalar(
        sa.select(IdentifierClaim.site_id).where(
            IdentifierClaim.kind == IdentifierKind.meter_serial, IdentifierClaim.value == serial
        )
    )
    if claimed_by is not None and claimed_by != site.id:
        raise RuleViolation(f"Meter {serial} is held by another site.", code="double_counting")
    if claimed_by is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    IdentifierClaim(
                        kind=IdentifierKind.meter_serial, value=serial, site_id=site.id, claimed_at=utcnow()
                    )
                )
                db.session.flush()
        except IntegrityError as error:
            raise RuleViolation(
                f"Meter {serial} was claimed by another site a moment ago.", code="double_counting"
            ) from error


def release_identifiers(site: Site) -> None:
    """A withdrawn site gives its serials back; an excluded one never does (domain.md §1.9)."""
    db.session.execute(sa.delete(IdentifierClaim).where(IdentifierClaim.site_id == site.id))
