"""Sites on a map and in map files: compact points, the programme boundary, full GeoJSON/KML records."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import Organisation, User
from poa_manager.database import db
from poa_manager.programmes.models import Programme
from poa_manager.sites import importer
from poa_manager.sites.models import Meter, Site, SiteStatus
from poa_manager.sites.services.records import list_sites

# Site columns of the export that are columns of the Site table under the same name.
_EXPORTED = tuple(
    column.name for column in importer.SITE_COLUMNS if column.name not in ("operator", "reference")
)


@dataclass(frozen=True)
class MapPoint:
    """What the map needs of a site, and nothing more: 100,000 of them must stay a few MB."""

    id: int
    reference: str
    name: str
    status: str
    capacity_kw: Decimal | None
    latitude: str  # exact decimal text as the database prints it, e.g. "10.980123"
    longitude: str


@dataclass(frozen=True)
class MapPoints:
    points: list[MapPoint]
    unlocated: int  # visible sites without coordinates, which the map cannot show


def map_points(
    actor: User,
    *,
    programme: Programme | None = None,
    site_id: int | None = None,
    status: SiteStatus | None = None,
) -> MapPoints:
    """The located sites the actor may see (sites policies), as plain rows rather than ORM objects."""
    query = list_sites(actor, programme=programme, status=status)
    if site_id is not None:
        query = query.where(Site.id == site_id)
    # Status and coordinates as text from the database: at 100,000 rows the enum and Decimal
    # conversions were most of the time (bench/bench_map.py), and the map only prints them.
    # SiteStatus stores names, which equal its values.
    rows = db.session.execute(
        query.with_only_columns(
            Site.id,
            Site.reference,
            Site.name,
            sa.cast(Site.status, sa.String),
            Site.capacity_kw,
            sa.cast(Site.latitude, sa.String),
            sa.cast(Site.longitude, sa.String),
        )
    ).all()
    points = [MapPoint(*row) for row in rows if row[5] is not None and row[6] is not None]
    return MapPoints(points=points, unlocated=len(rows) - len(points))


def boundary_geojson(programme: Programme) -> dict[str, Any]:
    """The boundary of the design in force (else the latest draft) as a FeatureCollection.

    A boundary given as ISO 3166 codes has no shape on the platform: the collection is empty and
    carries the codes, which the map shows as text.
    """
    version = programme.current_version or (programme.latest_version if programme.versions else None)
    boundary = (version.boundary if version else None) or {}
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    if "geojson" in boundary:
        collection["features"].append(
            {
                "type": "Feature",
                "geometry": boundary["geojson"],
                "properties": {"programme": programme.reference, "version": version.number},
            }
        )
    elif "codes" in boundary:
        collection["codes"] = list(boundary["codes"])
    return collection


def export_records(programme: Programme, *, actor: User) -> Iterator[dict[str, Any]]:
    """Every site of the programme the actor may see, as import columns (and id, status) in reference order.

    Two queries, not one per site: the sites with their operator's name, then all their meters.
    """
    sites = list_sites(actor, programme=programme)
    columns = [getattr(Site, name) for name in _EXPORTED]
    rows = db.session.execute(
        sites.with_only_columns(Site.id, Site.reference, Site.status, Organisation.name, *columns).outerjoin(
            Organisation, Organisation.id == Site.operator_organisation_id
        )
    ).all()
    meters: dict[int, list[Any]] = defaultdict(list)
    visible_ids = sites.with_only_columns(Site.id).order_by(None).scalar_subquery()
    for meter in db.session.execute(
        sa.select(
            Meter.site_id,
            Meter.serial,
            Meter.role,
            Meter.accuracy_class,
            Meter.calibrated_on,
            Meter.calibration_valid_until,
        )
        .where(Meter.site_id.in_(visible_ids))
        .order_by(Meter.site_id, Meter.serial)
    ):
        meters[meter[0]].append(meter)
    for row in rows:
        site_id, reference, status, operator, *values = row
        record: dict[str, Any] = {"id": site_id, "status": status.value, "reference": reference}
        record["operator"] = operator
        record.update(zip(_EXPORTED, values, strict=True))
        # The file holds MAX_METERS meters per site, as the import template does.
        for n, meter in enumerate(meters.get(site_id, [])[: importer.MAX_METERS], start=1):
            _, serial, role, accuracy_class, calibrated_on, valid_until = meter
            record[f"meter_{n}_serial"] = serial
            record[f"meter_{n}_role"] = role.value
            record[f"meter_{n}_accuracy_class"] = accuracy_class
            record[f"meter_{n}_calibrated_on"] = calibrated_on
            record[f"meter_{n}_calibration_valid_until"] = valid_until
        yield record
