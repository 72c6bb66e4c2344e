"""Monitoring reports rolled up from site readings, and the issuance requests made from them.

The roll-up aggregates in SQL, one query per distinct crediting window, walking the readings'
(meter, start) index; Python only sees one row per meter and window (performance.md: never loop
over readings in Python). ERs stay exact `Decimal`s; the only rounding is `claimable_credits`, on
the request (domain.md §3.1, architecture.md §8).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.methodologies import UnknownMethodology, get_methodology
from poa_manager.methodologies.base import exact
from poa_manager.monitoring import data_quality, emission_reductions, policies
from poa_manager.monitoring.models import (
    IssuanceRequest,
    IssuanceRequestLine,
    MonitoringLine,
    MonitoringLineMeter,
    MonitoringReport,
    Reading,
    ReadingUpload,
    ReportStatus,
    RequestStatus,
    UploadStatus,
)
from poa_manager.monitoring.services.readings import (
    any_corrections,
    calibrations_of,
    epoch_range,
    id_list,
    is_current,
    zone_for,
)
from poa_manager.programmes.models import Programme
from poa_manager.sites.models import Meter, Site, SiteStatus

# Sites whose crediting counts in a period. A site under review is still listed (with a flag), so
# the programme's issuance hold, not a silent omission, decides what happens to it (§1.9).
MONITORED_STATUSES = (
    SiteStatus.included,
    SiteStatus.crediting,
    SiteStatus.crediting_ended,
    SiteStatus.under_review,
)

# The [U] rules of domain.md §7, chosen per report and shown with it.
DEFAULT_SETTINGS: dict[str, Any] = {
    "gap_fill": data_quality.GapFill.none.value,
    "completeness_threshold_percent": str(data_quality.COMPLETENESS_THRESHOLD_PERCENT),
    "apply_found_error_beyond_mpe": True,
}
SETTINGS_HELP = {
    "gap_fill": "Missing intervals of export meters: no credit (none) or the lowest observed rate. "
    "Import meters are always filled with the highest observed rate. Unconfirmed rule (domain.md §7).",
    "completeness_threshold_percent": "Lines below this completeness are flagged. Unconfirmed (§7).",
    "apply_found_error_beyond_mpe": "When a delayed calibration found an error beyond the maximum "
    "permissible error, discount by the error found instead. Unconfirmed wording (§7).",
}


# --- reading reports ----------------------------------------------------------------------------


def list_reports(actor: User, *, programme: Programme | None = None) -> sa.Select:
    query = policies.visible_reports(actor).order_by(
        MonitoringReport.programme_id, MonitoringReport.number.desc()
    )
    if programme is not None:
        query = query.where(MonitoringReport.programme_id == programme.id)
    return query


def get_report(report_id: int, *, actor: User) -> MonitoringReport:
    return one_or_not_found(
        policies.visible_reports(actor).where(MonitoringReport.id == report_id),
        f"No monitoring report {report_id}.",
    )


def report_lines(report: MonitoringReport) -> sa.Select[tuple[MonitoringLine]]:
    """The report's lines in site order, for paging through (a report can have 10,000)."""
    return (
        sa.select(MonitoringLine)
        .where(MonitoringLine.report_id == report.id)
        .order_by(MonitoringLine.site_reference, MonitoringLine.window_start)
    )


def request_for(report: MonitoringReport, *, actor: User) -> IssuanceRequest | None:
    return db.session.scalar(
        policies.visible_requests(actor).where(_standing_request(report)).order_by(IssuanceRequest.id.desc())
    )


def _standing_request(report: MonitoringReport) -> sa.ColumnElement[bool]:
    """The report's request that is not withdrawn (at most one: uq_issuance_requests_report_standing)."""
    return sa.and_(IssuanceRequest.report_id == report.id, IssuanceRequest.status != RequestStatus.withdrawn)


def get_line(line_id: int, *, actor: User) -> MonitoringLine:
    line = one_or_not_found(
        sa.select(MonitoringLine).where(MonitoringLine.id == line_id), f"No line {line_id}."
    )
    get_report(line.report_id, actor=actor)
    return line


# --- opening, computing, submitting -------------------------------------------------------------


def open_report(
    programme: Programme,
    *,
    actor: User,
    period_start: date,
    period_end: date,
    today: date,
    settings: dict[str, Any] | None = None,
) -> MonitoringReport:
    """Close a monitoring period: a draft report over every monitored site, computed at once.

    A programme's periods are consecutive, with no gaps and no overlaps, so every site's periods
    are too (domain.md §1.8: a CPA's monitoring periods must be consecutive).
    """
    _require_preparer(actor, programme)
    if programme.current_version is None:
        raise RuleViolation(f"{programme.reference} is not registered.", code="not_registered")
    if period_end < period_start:
        raise InvalidInput(
            "The period ends before it starts.", errors={"period_end": ["On or after the start."]}
        )
    if period_end >= today:
        raise RuleViolation(
            f"The period must have ended: {period_end} is not before today ({today}).",
            code="period_not_ended",
            errors={"period_end": ["Before today."]},
        )
    previous = db.session.scalar(
        sa.select(MonitoringReport)
        .where(MonitoringReport.programme_id == programme.id)
        .order_by(MonitoringReport.number.desc())
        .limit(1)
    )
    if previous is not None:
        if previous.status is ReportStatus.draft:
            raise RuleViolation(
                f"{previous.label} is still a draft: submit or discard it first.", code="draft_open"
            )
        expected = previous.period_end + timedelta(days=1)
        if period_start != expected:
            raise RuleViolation(
                f"Monitoring periods are consecutive: this one must start on {expected}, "
                f"the day after {previous.label} ends.",
                code="periods_not_consecutive",
                errors={"period_start": [f"Start on {expected}."]},
            )
    report = MonitoringReport(
        programme=programme,
        number=(previous.number + 1) if previous else 1,
        period_start=period_start,
        period_end=period_end,
        settings=_settings(settings),
        created_by_id=actor.id,
    )
    db.session.add(report)
    db.session.flush()
    compute_report(report, actor=actor)
    audit.record(
        "monitoring_report.opened",
        actor=actor,
        entity_type="monitoring_report",
        entity_id=report.id,
        after={
            "programme": programme.reference,
            "number": report.number,
            "period": [period_start, period_end],
            "settings": report.settings,
            "total_tco2e": report.total_tco2e,
        },
    )
    return report


def _settings(given: dict[str, Any] | None) -> dict[str, Any]:
    settings = dict(DEFAULT_SETTINGS)
    for key, value in (given or {}).items():
        if key not in DEFAULT_SETTINGS or value is None:
            continue
        settings[key] = value
    try:
        settings["gap_fill"] = data_quality.GapFill(settings["gap_fill"]).value
        threshold = Decimal(str(settings["completeness_threshold_percent"]))
    except ValueError:
        raise InvalidInput(
            "Unknown monitoring settings.", errors={"settings": ["gap_fill or threshold"]}
        ) from None
    if not Decimal(0) <= threshold <= Decimal(100):
        raise InvalidInput("Completeness threshold is a percentage.", errors={"settings": ["0 to 100"]})
    settings["completeness_threshold_percent"] = str(threshold)
    settings["apply_found_error_beyond_mpe"] = bool(settings["apply_found_error_beyond_mpe"])
    return settings


def settings_of(report: MonitoringReport) -> dict[str, Any]:
    return {**DEFAULT_SETTINGS, **(report.settings or {})}


def _require_preparer(actor: User, programme: Programme) -> None:
    if not policies.can_prepare_reports(actor, programme):
        raise NotAllowed("Only the programme's coordinator can prepare monitoring reports and requests.")


def compute_report(report: MonitoringReport, *, actor: User) -> MonitoringReport:
    """(Re)compute a draft's lines from the readings as they are now."""
    _require_preparer(actor, report.programme)
    if report.status is not ReportStatus.draft:
        raise RuleViolation(f"{report.label} is {report.status.value}: it is frozen.", code="report_frozen")
    version = report.programme.current_version
    report.methodology_code = version.methodology_code
    report.methodology_version = version.methodology_version
    report.programme_version_number = version.number
    computed = roll_up(report)
    # Replace the lines in two bulk statements: a report over 10,000 sites must not flush 10,000
    # ORM objects one by one (performance.md).
    line_ids = sa.select(MonitoringLine.id).where(MonitoringLine.report_id == report.id)
    db.session.execute(sa.delete(MonitoringLineMeter).where(MonitoringLineMeter.line_id.in_(line_ids)))
    db.session.execute(sa.delete(MonitoringLine).where(MonitoringLine.report_id == report.id))
    db.session.expire(report, ["lines"])
    if computed:
        # Plain executemany, then the ids by key: RETURNING over 10,000 rows of 25 columns made
        # the driver spend seconds placing parameters (profiled on PostgreSQL).
        db.session.execute(
            sa.insert(MonitoringLine), [line.values | {"report_id": report.id} for line in computed]
        )
        ids = {
            (site_id, window_start): line_id
            for site_id, window_start, line_id in db.session.execute(
                sa.select(MonitoringLine.site_id, MonitoringLine.window_start, MonitoringLine.id).where(
                    MonitoringLine.report_id == report.id
                )
            )
        }
        meters = [
            m | {"line_id": ids[(line.values["site_id"], line.values["window_start"])]}
            for line in computed
            for m in line.meters
        ]
        if meters:
            db.session.execute(sa.insert(MonitoringLineMeter), meters)
    report.total_tco2e = exact_sum(line.er for line in computed)
    report.computed_at = utcnow()
    db.session.flush()
    return report


def submit_report(report: MonitoringReport, *, actor: User, now: datetime | None = None) -> MonitoringReport:
    """Freeze the report as computed from the readings now; later changes show as discrepancies."""
    _require_preparer(actor, report.programme)
    compute_report(report, actor=actor)
    if not report.lines:
        raise RuleViolation(
            f"{report.label} has no site lines: no site credits in the period.", code="empty_report"
        )
    report.status = ReportStatus.submitted
    report.submitted_at = now or utcnow()
    report.submitted_by_id = actor.id
    audit.record(
        "monitoring_report.submitted",
        actor=actor,
        entity_type="monitoring_report",
        entity_id=report.id,
        after={"total_tco2e": report.total_tco2e, "lines": len(report.lines)},
    )
    return report


def reopen_report(report: MonitoringReport, *, actor: User, reason: str) -> MonitoringReport:
    """Take a submitted report back to draft, e.g. after a correction; the audit log keeps the
    submitted numbers. Refused once credits were requested: from then on it is evidence."""
    _require_preparer(actor, report.programme)
    if report.status is not ReportStatus.submitted:
        raise RuleViolation(f"{report.label} is not submitted.", code="report_not_submitted")
    if db.session.scalar(sa.select(IssuanceRequest.id).where(_standing_request(report))):
        raise RuleViolation(
            f"Issuance was requested for {report.label}; it stays as submitted "
            "unless the request is returned and withdrawn.",
            code="requested",
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the report is reopened.", errors={"reason": ["A reason is required."]})
    audit.record(
        "monitoring_report.reopened",
        actor=actor,
        entity_type="monitoring_report",
        entity_id=report.id,
        before={
            "submitted_at": report.submitted_at,
            "total_tco2e": report.total_tco2e,
            "lines": [
                [line.site_reference, line.window_start, line.emission_reductions_tco2e]
                for line in report.lines
            ],
        },
        data={"reason": reason},
    )
    report.status = ReportStatus.draft
    report.submitted_at = None
    report.submitted_by_id = None
    return report


def discard_report(report: MonitoringReport, *, actor: User) -> None:
    _require_preparer(actor, report.programme)
    if report.status is not ReportStatus.draft:
        raise RuleViolation(f"{report.label} is submitted; it cannot be discarded.", code="report_frozen")
    audit.record(
        "monitoring_report.discarded",
        actor=actor,
        entity_type="monitoring_report",
        entity_id=report.id,
        before={"number": report.number, "period": [report.period_start, report.period_end]},
    )
    db.session.delete(report)
    db.session.flush()


@exact
def exact_sum(values) -> Decimal:
    """Σ of exact Decimals; `exact` raises rather than round (the sum of lines equals the total)."""
    return sum(values, Decimal(0))


# --- the roll-up --------------------------------------------------------------------------------


@dataclass
class ComputedLine:
    values: dict[str, Any]
    meters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def er(self) -> Decimal:
        return self.values["emission_reductions_tco2e"]


@dataclass(frozen=True)
class _Window:
    site: Any  # a row of Site columns (id, reference, status, attributes, ...)
    window: emission_reductions.CreditWindow
    window_from: int
    window_until: int
    zone: str | None


def roll_up(report: MonitoringReport) -> list[ComputedLine]:
    """Every monitored site's lines for the report's period, computed from current readings."""
    programme = report.programme
    version = programme.current_version
    try:
        methodology = get_methodology(report.methodology_code or "")
    except UnknownMethodology:
        raise RuleViolation(
            f"{programme.reference} names no known methodology.", code="no_methodology"
        ) from None
    # Plain rows, not ORM objects: a report reads 10,000 sites and their meters and changes none.
    sites = db.session.execute(
        sa.select(
            Site.id,
            Site.reference,
            Site.status,
            Site.attributes,
            Site.timezone,
            Site.crediting_start,
            Site.crediting_end,
        )
        .where(
            Site.programme_id == programme.id,
            Site.status.in_(MONITORED_STATUSES),
            Site.crediting_start.is_not(None),
        )
        .order_by(Site.reference)
    ).all()
    windows: list[_Window] = []
    for site in sites:
        zone = zone_for(site.timezone, programme.host_country)
        for window in emission_reductions.credit_windows(
            report.period_start, report.period_end, site.crediting_start, site.crediting_end
        ):
            window_from, window_until = epoch_range(window.start, window.end, zone)
            windows.append(_Window(site, window, window_from, window_until, zone))
    if not windows:
        return []
    meters_by_site = _meters_of([w.site.id for w in windows])
    totals = _aggregate(windows, meters_by_site)
    gap_fill = data_quality.GapFill(settings_of(report)["gap_fill"])
    needed: dict[tuple[int, int], list[int]] = defaultdict(list)
    for w in windows:
        for meter in meters_by_site.get(w.site.id, []):
            t = totals.get((meter.id, w.window_from, w.window_until))
            if t is None:
                continue  # no readings at all: nothing to take a rate from
            fills = (
                meter.role.value in data_quality.METER_ROLES_DECREASING
                or gap_fill is not data_quality.GapFill.none
            )
            if fills and t.covered_s < _active_seconds(meter, w.window_from, w.window_until):
                needed[(w.window_from, w.window_until)].append(meter.id)
    _fill_rates(needed, totals)
    calibrations = calibrations_of([m for site_meters in meters_by_site.values() for m in site_meters])
    settings = settings_of(report)
    metered = emission_reductions.METERED_PARAMETERS.get(methodology.code)
    lines = []
    for w in windows:
        lines.append(
            _line(
                w,
                meters_by_site.get(w.site.id, []),
                totals,
                calibrations,
                settings,
                methodology,
                metered,
                programme,
                version,
            )
        )
    return lines


def _meters_of(site_ids: list[int]) -> dict[int, list[Any]]:
    """The sites' meters as plain rows with what the roll-up reads, in id order."""
    columns = (
        Meter.id,
        Meter.site_id,
        Meter.serial,
        Meter.role,
        Meter.accuracy_class,
        Meter.max_permissible_error_percent,
        Meter.installed_at,
        Meter.removed_at,
        Meter.calibrated_on,
        Meter.calibration_valid_until,
    )
    by_site: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(site_ids)), 5_000):
        query = sa.select(*columns).where(Meter.site_id.in_(id_list(chunk))).order_by(Meter.id)
        for meter in db.session.execute(query):
            by_site[meter.site_id].append(meter)
    return by_site


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class _MeterTotals:
    reading_count: int
    energy_wh: int
    covered_s: int
    rollovers: int
    lowest_rate_wh_per_h: int | None = None
    highest_rate_wh_per_h: int | None = None


_NO_READINGS = _MeterTotals(0, 0, 0, 0)


def _aggregate(windows: list[_Window], meters_by_site: dict[int, list[Meter]]) -> dict:
    """SUM … GROUP BY meter over the readings of each distinct window, in the database.

    Only what every line needs; the observed rates for gap filling come from `_fill_rates`, for
    the few meters that have gaps (each extra aggregate here costs a pass over every reading).
    """
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for w in windows:
        groups[(w.window_from, w.window_until)].extend(m.id for m in meters_by_site.get(w.site.id, []))
    totals: dict[tuple[int, int, int], _MeterTotals] = {}
    for (window_from, window_until), meter_ids in groups.items():
        for chunk in _chunks(meter_ids, 20_000):
            query = sa.select(
                Reading.meter_id,
                sa.func.count(),
                sa.func.sum(Reading.energy_wh),
                sa.func.sum(Reading.reading_end - Reading.reading_start),
                sa.func.sum(Reading.flags.op("&")(data_quality.READING_FLAG_ROLLOVER)),
            ).group_by(Reading.meter_id)
            query = _in_window(query, chunk, window_from, window_until)
            for meter_id, count, energy, covered, rollovers in db.session.execute(query):
                totals[(meter_id, window_from, window_until)] = _MeterTotals(
                    count, int(energy or 0), int(covered or 0), int(rollovers or 0)
                )
    return totals


def _in_window(query: sa.Select, meter_ids: list[int], window_from: int, window_until: int) -> sa.Select:
    """Current readings of these meters wholly inside [from, until): a range on the (meter, end) index."""
    # Without any correction every reading is current: skip the anti-join (the common case).
    current = [is_current()] if any_corrections() else []
    return query.where(
        Reading.meter_id.in_(id_list(meter_ids)),
        Reading.reading_end > window_from,
        Reading.reading_end <= window_until,
        Reading.reading_start >= window_from,
        *current,
    )


def _fill_rates(needed: dict[tuple[int, int], list[int]], totals: dict) -> None:
    """Lowest and highest observed Wh per hour of meters with gaps, per window, into `totals`.

    Floored for the lowest and rounded up for the highest: each in the conservative direction it
    is used in (data_quality.gap_fill_wh).
    """
    duration = Reading.reading_end - Reading.reading_start
    for (window_from, window_until), meter_ids in needed.items():
        for chunk in _chunks(meter_ids, 20_000):
            query = sa.select(
                Reading.meter_id,
                sa.func.min((Reading.energy_wh * 3600) / sa.func.nullif(duration, 0)),
                sa.func.max((Reading.energy_wh * 3600 + duration - 1) / sa.func.nullif(duration, 0)),
            ).group_by(Reading.meter_id)
            for meter_id, lowest, highest in db.session.execute(
                _in_window(query, chunk, window_from, window_until)
            ):
                t = totals.get((meter_id, window_from, window_until))
                if t is not None:
                    t.lowest_rate_wh_per_h = None if lowest is None else int(lowest)
                    t.highest_rate_wh_per_h = None if highest is None else int(highest)


def _lapsed_energy_wh(meter: Meter, start: int, until: int) -> int:
    """Energy the meter measured in [start, until): the same selection as the roll-up's."""
    energy = sa.select(sa.func.coalesce(sa.func.sum(Reading.energy_wh), 0))
    return int(db.session.scalar(_in_window(energy, [meter.id], start, until)))


def _active_seconds(meter: Meter, window_from: int, window_until: int) -> int:
    """The part of the window the meter was installed: a replaced meter is expected only until then."""
    start = max(window_from, int(meter.installed_at.timestamp())) if meter.installed_at else window_from
    end = min(window_until, int(meter.removed_at.timestamp())) if meter.removed_at else window_until
    return max(0, end - start)


@dataclass
class _MeterPart:
    """One meter's contribution to a line, after the data-quality rules of domain.md §7."""

    activity: emission_reductions.MeterActivity
    row: dict[str, Any]  # a monitoring_line_meters row
    flags: set[str]
    problem: str | None
    covered_s: int
    active_s: int


def _meter_part(meter, t: _MeterTotals, w: _Window, calibrations, settings, active_s: int) -> _MeterPart:
    role = meter.role.value
    flags: set[str] = set()
    problem = None
    # Calibration lapses inside the window: those readings are discounted by the MPE, in the
    # conservative direction for the meter's role (domain.md §7, VVS-PoA v2 para 352).
    lapses = data_quality.lapsed_days(calibrations, w.window.start, w.window.end)
    mpe = data_quality.max_permissible_error_fraction(
        meter.accuracy_class, meter.max_permissible_error_percent
    )
    lapsed_wh, adjustment = 0, Decimal(0)
    for lapse_start, lapse_end in lapses:
        energy = _lapsed_energy_wh(meter, *epoch_range(lapse_start, lapse_end, w.zone))
        lapsed_wh += energy
        adjustment += data_quality.calibration_adjustment_wh(
            energy,
            role,
            mpe,
            error_found_percent=data_quality.delayed_calibration_error_percent(calibrations, lapse_end),
            apply_found_error_beyond_mpe=bool(settings["apply_found_error_beyond_mpe"]),
        )
    if lapsed_wh:
        flags.add(data_quality.QualityFlag.calibration_lapsed.value)
    # Missing intervals: no credit by default; import meters always filled conservatively.
    filled = 0
    gap_s = max(0, active_s - t.covered_s)
    if gap_s:
        fill = data_quality.gap_fill_wh(
            role,
            gap_s,
            method=data_quality.GapFill(settings["gap_fill"]),
            lowest_rate_wh_per_h=t.lowest_rate_wh_per_h,
            highest_rate_wh_per_h=t.highest_rate_wh_per_h,
        )
        if fill is None:
            flags.add(data_quality.QualityFlag.no_import_data.value)
            problem = f"Meter {meter.serial} ({role}) has no readings to fill its gaps from: no credit."
        elif fill:
            filled = fill
            increasing = role in data_quality.METER_ROLES_INCREASING
            flags.add(
                (
                    data_quality.QualityFlag.gap_filled
                    if increasing
                    else data_quality.QualityFlag.import_gap_filled
                ).value
            )
    if t.rollovers:
        flags.add(data_quality.QualityFlag.rollover.value)
    covered_s = min(t.covered_s, active_s)
    return _MeterPart(
        activity=emission_reductions.MeterActivity(
            meter_id=meter.id, role=role, energy_wh=t.energy_wh, adjustment_wh=adjustment, filled_wh=filled
        ),
        row={
            "meter_id": meter.id,
            "role": role,
            "reading_count": t.reading_count,
            "covered_s": t.covered_s,
            "energy_wh": t.energy_wh,
            "lapsed_energy_wh": lapsed_wh,
            "lapsed_days": [[a.isoformat(), b.isoformat()] for a, b in lapses],
            "adjustment_wh": adjustment,
            "filled_wh": filled,
            "completeness_percent": data_quality.completeness_percent(covered_s, active_s),
            "rollovers": t.rollovers,
        },
        flags=flags,
        problem=problem,
        covered_s=covered_s,
        active_s=active_s,
    )


def _line(
    w: _Window, meters, totals, histories, settings, methodology, metered, programme, version
) -> ComputedLine:
    """One site window: its meters' parts, the activity data, then the methodology."""
    parts = []
    for meter in meters:
        active_s = _active_seconds(meter, w.window_from, w.window_until)
        if active_s:  # a meter replaced before the window, or installed after it, takes no part
            t = totals.get((meter.id, w.window_from, w.window_until)) or _NO_READINGS
            parts.append(_meter_part(meter, t, w, histories[meter.id], settings, active_s))
    flags = set().union(*(part.flags for part in parts))
    problem = next((part.problem for part in parts if part.problem), None)
    reading_count = sum(part.row["reading_count"] for part in parts)
    increasing = [part for part in parts if part.activity.role in data_quality.METER_ROLES_INCREASING]
    covered_increasing = sum(part.covered_s for part in increasing)
    active_increasing = sum(part.active_s for part in increasing)
    activities = [part.activity for part in parts]
    meter_rows = [part.row for part in parts]
    threshold = Decimal(str(settings["completeness_threshold_percent"]))
    completeness = data_quality.completeness_percent(covered_increasing, active_increasing)
    if completeness < threshold:
        flags.add(data_quality.QualityFlag.low_completeness.value)
    activity = emission_reductions.site_activity(
        activities, nets_import=bool(metered and metered.nets_import)
    )
    flags.update(activity.flags)
    if w.site.status is SiteStatus.under_review:
        flags.add("under_review")
    values: dict[str, Any] = {
        "site_id": w.site.id,
        "site_reference": w.site.reference,
        "window_start": w.window.start,
        "window_end": w.window.end,
        "vintage": w.window.vintage,
        "window_from": w.window_from,
        "window_until": w.window_until,
        "reading_count": reading_count,
        "export_wh": activity.export_wh,
        "import_wh": activity.import_wh,
        "net_wh": activity.net_wh,
        "counted_wh": activity.counted_wh,
        "completeness_percent": completeness,
    }
    zero = Decimal(0)
    result = None
    if problem is None:
        try:
            result = emission_reductions.compute_line(
                methodology,
                window=w.window,
                activity=activity if metered else None,
                site_facts=w.site.attributes or {},
                plan_values=version.monitoring_plan or {},
                host_country=programme.host_country,
                ef_overrides=version.grid_emission_factor_overrides or {},
            )
        except ValueError as error:  # a missing or out-of-range parameter: the line earns nothing
            problem = str(error)
    values |= {
        "flags": sorted(flags),
        "problem": problem,
        "parameters": result.parameters if result else {},
        "sources": result.sources if result else {},
        "baseline_tco2e": result.baseline_tco2e if result else zero,
        "project_tco2e": result.project_tco2e if result else zero,
        "leakage_tco2e": result.leakage_tco2e if result else zero,
        "emission_reductions_tco2e": result.emission_reductions_tco2e if result else zero,
    }
    return ComputedLine(values, meter_rows)


# --- discrepancies after submission -------------------------------------------------------------


@dataclass(frozen=True)
class Discrepancy:
    site_reference: str
    window_start: date
    field: str
    frozen: Decimal
    current: Decimal


def discrepancies(report: MonitoringReport) -> list[Discrepancy]:
    """Where the readings now give different numbers than the submitted report froze.

    Readings never change in place; what can differ is a correction or a late upload after the
    submission. Both are uploads that finish writing readings, so no such upload in the programme
    since the submission means no discrepancy and no recomputation.
    """
    if report.status is ReportStatus.draft:
        return []
    written_since = db.session.scalar(
        sa.select(ReadingUpload.id)
        .where(
            ReadingUpload.programme_id == report.programme_id,
            ReadingUpload.status == UploadStatus.accepted,
            ReadingUpload.rows_written > 0,
            ReadingUpload.finished_at >= report.submitted_at,
        )
        .limit(1)
    )
    if written_since is None:
        return []
    frozen = {(line.site_id, line.window_start): line for line in report.lines}
    found = []
    for computed in roll_up(report):
        key = (computed.values["site_id"], computed.values["window_start"])
        line = frozen.get(key)
        for name in ("counted_wh", "emission_reductions_tco2e"):
            now_value = Decimal(computed.values[name])
            then_value = Decimal(getattr(line, name)) if line else Decimal(0)
            if now_value != then_value:
                found.append(
                    Discrepancy(computed.values["site_reference"], key[1], name, then_value, now_value)
                )
    return found


# --- issuance requests --------------------------------------------------------------------------


def request_issuance(
    report: MonitoringReport, *, actor: User, now: datetime | None = None
) -> IssuanceRequest:
    """Ask for the report's credits: every site with its monitored period and claimed ERs (§1.8)."""
    programme = report.programme
    _require_preparer(actor, programme)
    if report.status is not ReportStatus.submitted:
        raise RuleViolation(f"Submit {report.label} before requesting issuance.", code="report_not_submitted")
    if programme.issuance_hold:
        raise RuleViolation(
            f"{programme.reference} is on issuance hold: "
            f"{programme.hold_reason or 'a site is under review'}.",
            code="issuance_hold",
        )
    if db.session.scalar(sa.select(IssuanceRequest.id).where(_standing_request(report))):
        raise RuleViolation(f"{report.label} has an issuance request already.", code="already_requested")
    if discrepancies(report):
        raise RuleViolation(
            f"Readings changed after {report.label} was submitted: review the discrepancies first.",
            code="report_discrepancies",
        )
    claimed = exact_sum(line.emission_reductions_tco2e for line in report.lines)
    number = (
        db.session.scalar(
            sa.select(sa.func.max(IssuanceRequest.number)).where(IssuanceRequest.programme_id == programme.id)
        )
        or 0
    ) + 1
    request = IssuanceRequest(
        programme=programme,
        report=report,
        number=number,
        claimed_tco2e=claimed,
        credits_requested=emission_reductions.claimable_credits(claimed),
        requested_by_id=actor.id,
        requested_at=now or utcnow(),
    )
    request.lines = [
        IssuanceRequestLine(
            monitoring_line_id=line.id,
            site_id=line.site_id,
            site_reference=line.site_reference,
            period_start=line.window_start,
            period_end=line.window_end,
            vintage=line.vintage,
            claimed_tco2e=line.emission_reductions_tco2e,
        )
        for line in report.lines
    ]
    db.session.add(request)
    db.session.flush()
    audit.record(
        "issuance.requested",
        actor=actor,
        entity_type="issuance_request",
        entity_id=request.id,
        after={
            "programme": programme.reference,
            "report": report.label,
            "claimed_tco2e": claimed,
            "credits_requested": request.credits_requested,
            "sites": len({line.site_id for line in report.lines}),
        },
    )
    return request


# A request may be withdrawn before a verifier takes it on, or after a negative statement.
WITHDRAWABLE = (RequestStatus.submitted, RequestStatus.returned)


def withdraw_request(request: IssuanceRequest, *, actor: User, reason: str) -> IssuanceRequest:
    """The coordinator withdraws a request, e.g. to correct the report after a negative statement;
    the withdrawn request and its verification stay as evidence."""
    _require_preparer(actor, request.programme)
    lock(request)  # never withdrawn while a verifier is being assigned
    if request.status not in WITHDRAWABLE:
        raise RuleViolation(
            f"{request.label} is {request.status.label}: "
            "only a submitted or returned request can be withdrawn.",
            code="request_not_withdrawable",
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the request is withdrawn.", errors={"reason": ["A reason is required."]})
    before = request.status
    request.status = RequestStatus.withdrawn
    request.withdrawn_reason = reason
    db.session.flush()
    audit.record(
        "issuance.withdrawn",
        actor=actor,
        entity_type="issuance_request",
        entity_id=request.id,
        before={"status": before},
        data={"reason": reason},
    )
    return request


def list_requests(actor: User, *, programme: Programme | None = None) -> sa.Select:
    query = policies.visible_requests(actor).order_by(
        IssuanceRequest.programme_id, IssuanceRequest.number.desc()
    )
    if programme is not None:
        query = query.where(IssuanceRequest.programme_id == programme.id)
    return query


def get_request(request_id: int, *, actor: User) -> IssuanceRequest:
    return one_or_not_found(
        policies.visible_requests(actor).where(IssuanceRequest.id == request_id),
        f"No issuance request {request_id}.",
    )
