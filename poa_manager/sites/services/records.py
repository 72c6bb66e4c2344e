"""Adding, changing and finding sites and their meters."""

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from poa_manager.accounts.models import Organisation, User
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.programmes.models import Programme
from poa_manager.sites import policies
from poa_manager.sites.models import Meter, MeterRole, MeterUnit, ReadingType, Site, SiteStatus

# Facts a coordinator may change while the site is not yet included; the names of form and API fields.
SITE_FIELDS = (
    "name",
    "operator_organisation_id",
    "latitude",
    "longitude",
    "area_code",
    "timezone",
    "technology",
    "capacity_kw",
    "commissioned_on",
    "equipment_serials",
    "documents",
    "financial_support_declared",
    "funding_sources",
    "attributes",
)
EDITABLE_STATUSES = frozenset({SiteStatus.draft, SiteStatus.not_eligible, SiteStatus.eligible})


def list_sites(
    actor: User,
    *,
    programme: Programme | None = None,
    status: SiteStatus | None = None,
    search: str | None = None,
) -> sa.Select[tuple[Site]]:
    """The sites the actor may see, filtered and in reference order."""
    query = policies.visible_sites(actor).order_by(Site.reference)
    if programme is not None:
        query = query.where(Site.programme_id == programme.id)
    if status is not None:
        query = query.where(Site.status == status)
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(Site.reference).like(pattern),
                sa.func.lower(Site.name).like(pattern),
                sa.func.lower(Site.technology).like(pattern),
            )
        )
    return query


def get_site(site_id: int, *, actor: User) -> Site:
    return one_or_not_found(policies.visible_sites(actor).where(Site.id == site_id), f"No site {site_id}.")


def is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def normalise_serial(serial: str) -> str:
    """Serials compare trimmed and upper-case, so 'ab-12 ' and 'AB-12' are the same meter."""
    return " ".join(serial.split()).upper()


def create_site(
    programme: Programme, *, actor: User, reference: str, meters: list[dict] | None = None, **facts: Any
) -> Site:
    """Add a draft site (a CPA, VPA or instance) to a programme."""
    if not policies.can_prepare_sites(actor, programme):
        raise NotAllowed("Only the programme's coordinator can add sites.")
    reference = reference.strip()
    # Case-insensitive: CPA-0007 and cpa-0007 name the same component in the PoA-DD.
    same_reference = sa.func.lower(Site.reference) == reference.lower()
    if db.session.scalar(sa.select(Site.id).where(Site.programme_id == programme.id, same_reference)):
        raise RuleViolation(
            f"{programme.reference} has a site {reference} already.",
            code="duplicate_reference",
            errors={"reference": ["This reference is taken in this programme."]},
        )
    # Linked to its programme only once its facts are accepted: a site in Programme.sites but not
    # yet in the session would be half-flushed by the queries the checks make (autoflush).
    site = Site(reference=reference, created_by_id=actor.id, status=SiteStatus.draft)
    _apply_facts(site, {field: facts.get(field) for field in SITE_FIELDS})
    site.meters = [_meter(values) for values in meters or []]
    _check_meters(site)
    site.programme = programme
    db.session.add(site)
    db.session.flush()
    audit.record(
        "site.created",
        actor=actor,
        entity_type="site",
        entity_id=site.id,
        after={
            "programme": programme.reference,
            "reference": reference,
            **_facts_of(site),
            "meters": [m.serial for m in site.meters],
        },
    )
    return site


def update_site(site: Site, *, actor: User, meters: list[dict] | None = None, **facts: Any) -> Site:
    """Change a site's facts before inclusion; a checked site must be checked again."""
    if not policies.can_prepare_sites(actor, site.programme):
        raise NotAllowed("Only the programme's coordinator can change sites.")
    if site.status not in EDITABLE_STATUSES:
        raise RuleViolation(
            f"{site.reference} is {site.status.label}; its facts are frozen.", code="site_frozen"
        )
    before = _facts_of(site)
    _apply_facts(site, {field: facts[field] for field in SITE_FIELDS if field in facts})
    if meters is not None:
        site.meters = [_meter(values) for values in meters]
        _check_meters(site)
    after = _facts_of(site)
    changed = {key for key in after if after[key] != before[key]} | (
        {"meters"} if meters is not None else set()
    )
    if changed and site.status is not SiteStatus.draft:
        site.status = SiteStatus.draft  # facts changed: the last check no longer speaks for them
    if changed:
        audit.record(
            "site.updated",
            actor=actor,
            entity_type="site",
            entity_id=site.id,
            before={k: before[k] for k in changed if k in before},
            after={k: after[k] for k in changed if k in after}
            | ({"meters": [m.serial for m in site.meters]} if meters is not None else {}),
        )
    return site


DECIMAL_FIELDS = ("latitude", "longitude", "capacity_kw")


def _apply_facts(site: Site, facts: dict[str, Any]) -> None:
    problems: dict[str, list[str]] = {}
    for name in DECIMAL_FIELDS:
        if isinstance(facts.get(name), float):  # binary floats would put rounding noise in the record
            problems[name] = ["Give a decimal number, not a float."]
        elif isinstance(facts.get(name), int):
            facts[name] = Decimal(facts[name])
    if "operator_organisation_id" in facts and facts["operator_organisation_id"] is not None:
        operator = db.session.get(Organisation, facts["operator_organisation_id"])
        if operator is None or not operator.is_active:
            problems["operator_organisation_id"] = ["Choose an active organisation."]
    for name, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        value = facts.get(name)
        if value is not None and not Decimal(low) <= Decimal(value) <= Decimal(high):
            problems[name] = [f"Between {low} and {high} degrees."]
    if facts.get("capacity_kw") is not None and Decimal(facts["capacity_kw"]) < 0:
        problems["capacity_kw"] = ["Capacity cannot be negative."]
    if facts.get("timezone") and not is_timezone(facts["timezone"]):
        problems["timezone"] = ["Use an IANA time zone name, e.g. Asia/Ho_Chi_Minh."]
    if problems:
        raise InvalidInput("Some site facts are not accepted.", errors=problems)
    for name, value in facts.items():
        if name == "equipment_serials":
            value = sorted({normalise_serial(serial) for serial in value or [] if serial.strip()})
        elif name == "documents":
            value = sorted({kind.strip().lower() for kind in value or [] if kind.strip()})
        elif name == "attributes":
            value = dict(value or {})
        elif name == "area_code" and value:
            value = value.strip().upper()
        elif name == "timezone":
            value = (value or "").strip() or None
        setattr(site, name, value)


def _meter(values: dict) -> Meter:
    multiplier = values.get("multiplier")
    mpe = values.get("max_permissible_error_percent")
    return Meter(
        serial=normalise_serial(values["serial"]),
        role=MeterRole(values.get("role") or "generation"),
        accuracy_class=(values.get("accuracy_class") or None),
        calibrated_on=values.get("calibrated_on"),
        calibration_valid_until=values.get("calibration_valid_until"),
        unit=MeterUnit(values.get("unit") or MeterUnit.kWh),
        multiplier=Decimal(str(multiplier)) if multiplier not in (None, "") else Decimal(1),
        reading_type=ReadingType(values.get("reading_type") or ReadingType.interval),
        register_digits=values.get("register_digits") or None,
        max_permissible_error_percent=Decimal(str(mpe)) if mpe not in (None, "") else None,
    )


def _check_meters(site: Site) -> None:
    serials = [meter.serial for meter in site.meters]
    problems = []
    if len(serials) != len(set(serials)):
        problems.append("The same meter serial is listed twice.")
    for meter in site.meters:
        if not meter.serial:
            problems.append("Every meter needs a serial.")
        if meter.multiplier <= 0:
            problems.append(f"Meter {meter.serial}: the multiplier (CT × VT ratio) must be above zero.")
        if meter.register_digits is not None and not 1 <= meter.register_digits <= 12:
            problems.append(f"Meter {meter.serial}: a register has 1 to 12 digits.")
        if (
            meter.calibrated_on
            and meter.calibration_valid_until
            and meter.calibration_valid_until < meter.calibrated_on
        ):
            problems.append(f"Meter {meter.serial}: calibration validity ends before the calibration date.")
    if problems:
        raise InvalidInput("The meters are not accepted.", errors={"meters": problems})


def _facts_of(site: Site) -> dict[str, Any]:
    return {field: getattr(site, field) for field in SITE_FIELDS}
