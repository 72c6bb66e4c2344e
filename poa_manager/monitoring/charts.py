"""Chart series of monitoring, as pure functions: a meter's energy per local day with its gaps and
flagged days, ERs per site of a report (the largest sites and "others") and per monitoring period
stacked by vintage, each turned into a Chart.js configuration (docs/charts.md).

No Flask, no database: the chart service feeds these with totals the database summed. Energy is
integer watt-hours and ERs exact Decimals; the configurations carry Decimals as plain decimal text,
which Chart.js reads as numbers, so nothing here rounds through a float.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

SECONDS_PER_DAY = 86_400
WH_PER_KWH = 1000
TOP_SITES = 50  # beyond this many sites a bar per site is unreadable: the rest become "others"
MAX_WINDOW_DAYS = 1096  # three years of days: the most one chart shows

# Colour-blind-safe (Okabe–Ito); the flagged points use the vermilion, far from the blue line.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
LINE_COLOUR = "#0072B2"
FLAG_COLOUR = "#D55E00"
GAP_COLOUR = "rgba(213, 94, 0, 0.08)"
OTHERS_COLOUR = "#999999"


def plain(value: Decimal) -> str:
    """A Decimal as plain decimal text (no exponent, no trailing zeros): exact, and a number to
    Chart.js, which parses data values with unary plus."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def base_options(*, unit: str, y_title: str, stacked: bool = False) -> dict:
    """What every chart shares: the figure's box sets the height (maintainAspectRatio off), no
    animation (browser tests and printouts see the final state) and the `poa` presets that
    static/js/charts.js turns into tick and tooltip callbacks (JSON carries no functions)."""
    return {
        "responsive": True,
        "maintainAspectRatio": False,
        "animation": False,
        "interaction": {"mode": "index", "intersect": False},
        "scales": {
            "x": {"stacked": stacked, "ticks": {"autoSkip": True, "maxTicksLimit": 14}},
            "y": {"stacked": stacked, "beginAtZero": True, "title": {"display": True, "text": y_title}},
        },
        "plugins": {"legend": {"position": "bottom"}, "poa": {"unit": unit, "yTicks": "thousands"}},
    }


# --- a meter's energy per day ---------------------------------------------------------------------


@dataclass(frozen=True)
class DaySegment:
    """Consecutive local days read with one SQL expression. A uniform segment's days are all 86,400 s
    long, so a reading's day is first_day + (reading_end − 1 − start) // 86,400; a day of a clock
    change (23 or 25 h) is a segment of its own that maps every reading to first_day."""

    first_day: int  # index of its first day in the window
    start: int  # epoch seconds of that day's local midnight
    until: int  # epoch seconds of the local midnight that ends the segment
    uniform: bool


def day_segments(midnights: Sequence[int]) -> list[DaySegment]:
    """Split n local days, given as their n + 1 midnights (epoch seconds), into segments."""
    segments: list[DaySegment] = []
    day, count = 0, len(midnights) - 1
    while day < count:
        if midnights[day + 1] - midnights[day] != SECONDS_PER_DAY:
            segments.append(DaySegment(day, midnights[day], midnights[day + 1], uniform=False))
            day += 1
            continue
        last = day
        while last < count and midnights[last + 1] - midnights[last] == SECONDS_PER_DAY:
            last += 1
        segments.append(DaySegment(day, midnights[day], midnights[last], uniform=True))
        day = last
    return segments


@dataclass(frozen=True)
class DayTotal:
    """What the database summed for one local day: energy, readings, and readings carrying a flag."""

    energy_wh: int
    readings: int
    flagged: int


@dataclass(frozen=True)
class DayEnergy:
    day: date
    energy_kwh: Decimal | None  # None: no reading ends in this day (a gap)
    readings: int
    flagged: int


def daily_energy(first_day: date, day_count: int, totals: dict[int, DayTotal]) -> list[DayEnergy]:
    """Every day of the window, in order; days without readings are gaps (None), not zero: a
    meter that sent nothing is not a meter that measured nothing (domain.md §7)."""
    days = []
    for index in range(day_count):
        total = totals.get(index)
        day = first_day + timedelta(days=index)
        if total is None or total.readings == 0:
            days.append(DayEnergy(day, None, 0, 0))
        else:
            kwh = Decimal(total.energy_wh) / WH_PER_KWH
            days.append(DayEnergy(day, kwh, total.readings, total.flagged))
    return days


def daily_energy_chart(days: Sequence[DayEnergy], *, label: str) -> dict:
    """A line of kWh per day broken at gaps (spanGaps off), with the days that hold flagged
    readings as a second, highlighted dataset on the same points."""
    energy = [None if d.energy_kwh is None else plain(d.energy_kwh) for d in days]
    flagged = [plain(d.energy_kwh) if d.flagged and d.energy_kwh is not None else None for d in days]
    options = base_options(unit="kWh", y_title="kWh per day")
    options["plugins"]["poa"]["gapColour"] = GAP_COLOUR
    return {
        "type": "line",
        "data": {
            "labels": [d.day.isoformat() for d in days],
            "datasets": [
                {
                    "label": label,
                    "data": energy,
                    "spanGaps": False,
                    "borderColor": LINE_COLOUR,
                    "backgroundColor": LINE_COLOUR,
                    "borderWidth": 1.5,
                    "pointRadius": 1,
                },
                {
                    "label": "Days with flagged readings",
                    "data": flagged,
                    "showLine": False,
                    "spanGaps": False,
                    "borderColor": FLAG_COLOUR,
                    "backgroundColor": FLAG_COLOUR,
                    "pointRadius": 4,
                    "pointStyle": "triangle",
                },
            ],
        },
        "options": options,
    }


# --- emission reductions --------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteReduction:
    site_id: int
    site_reference: str
    emission_reductions_tco2e: Decimal


def per_site(lines: Iterable[tuple[int, str, Decimal]]) -> list[SiteReduction]:
    """(site id, reference, ER) of each line → one total per site (a site has a line per vintage
    window), largest first, then by reference; exact sums."""
    totals: dict[int, Decimal] = {}
    references: dict[int, str] = {}
    for site_id, reference, er in lines:
        totals[site_id] = totals.get(site_id, Decimal(0)) + er
        references[site_id] = reference
    rows = [SiteReduction(site_id, references[site_id], total) for site_id, total in totals.items()]
    return sorted(rows, key=lambda r: (-r.emission_reductions_tco2e, r.site_reference))


def top_with_others(rows: Sequence[SiteReduction], limit: int = TOP_SITES) -> list[tuple[str, Decimal]]:
    """The `limit` largest sites by name, then one "others (n sites)" bar with the rest's sum."""
    shown = [(r.site_reference, r.emission_reductions_tco2e) for r in rows[:limit]]
    rest = rows[limit:]
    if rest:
        total = sum((r.emission_reductions_tco2e for r in rest), Decimal(0))
        shown.append((f"others ({len(rest)} sites)", total))
    return shown


def site_reductions_chart(rows: Sequence[SiteReduction], *, limit: int = TOP_SITES) -> dict:
    bars = top_with_others(rows, limit)
    colours = [LINE_COLOUR] * len(bars)
    if len(rows) > limit:
        colours[-1] = OTHERS_COLOUR
    return {
        "type": "bar",
        "data": {
            "labels": [name for name, _ in bars],
            "datasets": [
                {
                    "label": "Emission reductions (tCO2e)",
                    "data": [plain(value) for _, value in bars],
                    "backgroundColor": colours,
                }
            ],
        },
        "options": base_options(unit="tCO2e", y_title="tCO2e"),
    }


@dataclass(frozen=True)
class PeriodReductions:
    """One monitoring report: its label and period, and its ERs per vintage."""

    report_id: int
    label: str
    period_start: date
    period_end: date
    status: str
    by_vintage: dict[int, Decimal]

    @property
    def total_tco2e(self) -> Decimal:
        return sum(self.by_vintage.values(), Decimal(0))


def per_period(
    reports: Sequence[tuple[int, str, date, date, str]], lines: Iterable[tuple[int, int, Decimal]]
) -> list[PeriodReductions]:
    """Reports (id, label, start, end, status) in period order and their lines (report id,
    vintage, ER) → each report's exact ER per vintage."""
    sums: dict[int, dict[int, Decimal]] = {report[0]: {} for report in reports}
    for report_id, vintage, er in lines:
        by_vintage = sums[report_id]
        by_vintage[vintage] = by_vintage.get(vintage, Decimal(0)) + er
    return [
        PeriodReductions(rid, label, start, end, status, dict(sorted(sums[rid].items())))
        for rid, label, start, end, status in reports
    ]


def period_reductions_chart(periods: Sequence[PeriodReductions]) -> dict:
    """A bar per monitoring period, stacked by vintage (a period across a year end splits in two)."""
    vintages = sorted({v for p in periods for v in p.by_vintage})
    datasets = [
        {
            "label": str(vintage),
            "data": [plain(p.by_vintage.get(vintage, Decimal(0))) for p in periods],
            "backgroundColor": PALETTE[i % len(PALETTE)],
        }
        for i, vintage in enumerate(vintages)
    ]
    labels = [
        f"{p.label} {p.period_start.isoformat()}–{p.period_end.isoformat()}"
        + ("" if p.status == "submitted" else f" ({p.status})")
        for p in periods
    ]
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": base_options(unit="tCO2e", y_title="tCO2e", stacked=True),
    }
