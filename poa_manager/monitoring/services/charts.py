"""The data behind monitoring's charts: a meter's energy per local day, ERs per site of a report
and per monitoring period of a programme. Queries here, series shapes in monitoring/charts.py.

Every function finds its subject through the same scoped lookup as the page it serves
(get_meter, get_report, get_programme), so a chart shows nothing its page would not.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.database import db
from poa_manager.errors import InvalidInput
from poa_manager.monitoring import charts
from poa_manager.monitoring.models import MeterReadingStatus, MonitoringLine, MonitoringReport, Reading
from poa_manager.monitoring.services.readings import (
    any_corrections,
    get_meter,
    is_current,
    local_midnight,
    site_timezone,
)
from poa_manager.monitoring.services.reports import get_report, list_reports
from poa_manager.programmes import services as programme_services
from poa_manager.sites.models import Meter

DEFAULT_WINDOW_DAYS = 365


@dataclass(frozen=True)
class MeterDailyEnergy:
    meter: Meter
    timezone: str  # the site's zone whose midnights bound the days ("UTC" when none is known)
    first_day: date | None  # None: the meter has no readings yet
    last_day: date | None
    days: list[charts.DayEnergy]


def meter_daily_energy(
    meter_id: int, *, actor: User, first_day: date | None = None, last_day: date | None = None
) -> MeterDailyEnergy:
    """Energy per site-local day of one meter over [first_day, last_day]; by default the last 365
    days up to its latest reading, from its first reading at the earliest. Current versions only:
    a corrected reading counts once, as corrected (the totals the monitoring report uses)."""
    meter = get_meter(meter_id, actor=actor)
    zone = site_timezone(meter.site)
    if first_day is not None and last_day is not None and last_day < first_day:
        raise InvalidInput("The window ends before it starts.", errors={"to": ["On or after the start."]})
    # The meter's first and latest reading from its status row, kept by every import: no scan.
    status = db.session.get(MeterReadingStatus, meter.id)
    if status is None and (first_day is None or last_day is None):
        first_day, last_day = first_day or last_day, last_day or first_day
        if first_day is None:
            return MeterDailyEnergy(meter, zone or "UTC", None, None, [])
    if last_day is None:
        last_day = _local_day(status.last_reading_end - 1, zone)
    if first_day is None:
        # The last 365 days of data: not before the first reading, where there is nothing to miss.
        first_day = max(
            last_day - timedelta(days=DEFAULT_WINDOW_DAYS - 1),
            min(_local_day(status.first_reading_end - 1, zone), last_day),
        )
    day_count = (last_day - first_day).days + 1
    if day_count > charts.MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"Show at most {charts.MAX_WINDOW_DAYS} days at once.",
            errors={"from": [f"At most {charts.MAX_WINDOW_DAYS} days before the end."]},
        )
    midnights = [local_midnight(first_day + timedelta(days=i), zone) for i in range(day_count + 1)]
    totals = _day_totals(meter.id, charts.day_segments(midnights))
    return MeterDailyEnergy(
        meter, zone or "UTC", first_day, last_day, charts.daily_energy(first_day, day_count, totals)
    )


def _local_day(instant: int, zone: str | None) -> date:
    return datetime.fromtimestamp(instant, ZoneInfo(zone) if zone else UTC).date()


def _day_totals(meter_id: int, segments: list[charts.DaySegment]) -> dict[int, charts.DayTotal]:
    """SUM … GROUP BY local day, in the database, over one range of the readings' primary key
    (meter, reading_end). A reading belongs to the day its interval ends in (an interval ending
    at midnight to the day before), as in the monitoring report's windows."""
    if not segments:
        return {}
    end = Reading.reading_end
    whens = []
    for s in segments:
        index = (
            s.first_day + (end - 1 - s.start) // charts.SECONDS_PER_DAY
            if s.uniform
            else sa.literal(s.first_day)
        )
        whens.append((end <= s.until, index))
    day = sa.case(*whens, else_=sa.literal(-1)).label("day")
    flagged = sa.func.sum(sa.case((Reading.flags != 0, 1), else_=0))
    # Without any correction every reading is current: skip the anti-join (as the roll-up does).
    current = [is_current()] if any_corrections() else []
    query = (
        sa.select(day, sa.func.sum(Reading.energy_wh), sa.func.count(), flagged)
        .where(
            Reading.meter_id == meter_id,
            end > segments[0].start,
            end <= segments[-1].until,
            *current,
        )
        .group_by(day)
    )
    return {
        int(index): charts.DayTotal(int(energy or 0), int(count), int(flags or 0))
        for index, energy, count, flags in db.session.execute(query)
        if index is not None and index >= 0
    }


def report_site_reductions(
    report_id: int, *, actor: User
) -> tuple[MonitoringReport, list[charts.SiteReduction]]:
    """A report's ERs per site (its lines summed over vintage windows), largest first. Summed in
    Python: ER columns are exact decimals that SQLite keeps as text (database.ExactDecimal)."""
    report = get_report(report_id, actor=actor)
    lines = db.session.execute(
        sa.select(
            MonitoringLine.site_id, MonitoringLine.site_reference, MonitoringLine.emission_reductions_tco2e
        ).where(MonitoringLine.report_id == report.id)
    )
    return report, charts.per_site(lines)


def programme_period_reductions(programme_id: int, *, actor: User) -> list[charts.PeriodReductions]:
    """ERs of each monitoring report of the programme the actor may see, per vintage, in period order."""
    programme = programme_services.get_programme(programme_id, actor=actor)
    reports = (
        list_reports(actor, programme=programme)
        .with_only_columns(
            MonitoringReport.id,
            MonitoringReport.number,
            MonitoringReport.period_start,
            MonitoringReport.period_end,
            MonitoringReport.status,
        )
        .order_by(None)
        .order_by(MonitoringReport.period_start, MonitoringReport.number)
    )
    rows = [
        (rid, f"MR-{number:03d}", start, end, status.value)
        for rid, number, start, end, status in db.session.execute(reports)
    ]
    if not rows:
        return []
    lines = db.session.execute(
        sa.select(
            MonitoringLine.report_id, MonitoringLine.vintage, MonitoringLine.emission_reductions_tco2e
        ).where(MonitoringLine.report_id.in_([r[0] for r in rows]))
    )
    return charts.per_period(rows, lines)
