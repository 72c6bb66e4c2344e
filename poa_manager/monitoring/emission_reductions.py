"""Per-site monitoring lines: crediting windows, metered activity, parameters and ER (domain.md §3).

Pure: no Flask, no database. A line is one site over one crediting window of the monitoring
period, split per calendar year because grid emission factors and credit vintages are per year.
Every input and intermediate value is kept in the result, since verifiers trace each figure
(domain.md §7). Everything is exact and unrounded until `claimable_credits`, the one rounding.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from poa_manager.methodologies import ams_i_d, jcm_vn_am007
from poa_manager.methodologies.base import (
    EMPTY_BREAKDOWN,
    ZERO,
    EmissionBreakdown,
    Methodology,
    ParameterError,
    exact,
    to_decimal,
)
from poa_manager.methodologies.grid_emission_factors import (
    Overrides,
    UnknownGridEmissionFactor,
    grid_emission_factor,
    normalise_overrides,
)
from poa_manager.monitoring.data_quality import QualityFlag, ordered_flags

WH_PER_MWH = 1_000_000
HOURS_PER_DAY = 24

# --- Crediting windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditWindow:
    """Days of one vintage year in which a site earns credits; both ends inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        # One EF and one vintage per window: a window across New Year would need two of each.
        if self.start.year != self.end.year:
            raise ValueError(f"window {self.start}..{self.end} spans two calendar years")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def vintage(self) -> int:
        return self.start.year


def credit_windows(
    period_start: date, period_end: date, crediting_start: date | None, crediting_end: date | None
) -> list[CreditWindow]:
    """The monitoring period (inclusive) ∩ the site's crediting period, split at each 1 January.

    `crediting_end` None means still open. CDM PoA: a CPA's crediting starts no earlier than its
    inclusion (domain.md §1.7 [C]), so a site that joined or left mid-period is pro-rated by its
    crediting dates here. No crediting start (not yet included) or no overlap gives no window.
    """
    if period_end < period_start:
        raise ValueError(f"monitoring period ends ({period_end}) before it starts ({period_start})")
    if crediting_start is None:
        return []
    start = max(period_start, crediting_start)
    end = period_end if crediting_end is None else min(period_end, crediting_end)
    if start > end:
        return []
    return [
        CreditWindow(max(start, date(year, 1, 1)), min(end, date(year, 12, 31)))
        for year in range(start.year, end.year + 1)
    ]


# --- Metered activity ----------------------------------------------------------------------------


class MeteredParameter(NamedTuple):
    """The methodology parameter fed by meters, and whether imports are deducted from it."""

    name: str
    nets_import: bool


# Methodologies driven by meter readings. Transformers and lighting have no metered parameter:
# their activity is hours, counts and surveys, so they are absent.
METERED_PARAMETERS: Mapping[str, MeteredParameter] = MappingProxyType(
    {
        # EG_PJ,y: net electricity supplied to the grid = export − import (domain.md §3.1).
        ams_i_d.CODE: MeteredParameter("net_electricity_mwh", nets_import=True),
        # EG_p: AC output consumed on site or sold (§3.1); grid imports feed the building, not it.
        jcm_vn_am007.CODE: MeteredParameter("electricity_supplied_mwh", nets_import=False),
    }
)


@dataclass(frozen=True)
class MeterActivity:
    """One meter's energy in a window, with its calibration discount and gap fill (data_quality)."""

    meter_id: int
    role: str
    energy_wh: int
    adjustment_wh: Decimal  # signed, from data_quality.calibration_adjustment_wh
    filled_wh: int  # from data_quality.gap_fill_wh

    @property
    def adjusted_wh(self) -> Decimal:
        return self.energy_wh + self.adjustment_wh + self.filled_wh


@dataclass(frozen=True)
class SiteActivity:
    """A site's metered energy in a window; `counted_wh` (≥ 0) is what feeds the methodology."""

    export_wh: Decimal
    import_wh: Decimal
    net_wh: Decimal
    counted_wh: Decimal
    flags: tuple[str, ...]


@exact
def _total_wh(meters: Iterable[MeterActivity]) -> Decimal:
    return sum((meter.adjusted_wh for meter in meters), ZERO)


def site_activity(meters: Sequence[MeterActivity], *, nets_import: bool) -> SiteActivity:
    """Export side, import side, net and counted energy of one site in one window.

    The export side is read from one role only, so a check meter never doubles the output: for a
    net-export parameter (AMS-I.D) the export meters, else the generation meters; for an output
    parameter (VN_AM007) the generation meters, else the export meters (which miss on-site use:
    an under-count, the conservative way). Consumption meters measure the site's load, which
    neither parameter is defined on, so they are ignored. A negative net counts as zero.
    """
    preference = ("export", "generation") if nets_import else ("generation", "export")
    role = next((r for r in preference if any(m.role == r for m in meters)), None)
    export_meters = [m for m in meters if m.role == role]
    import_meters = [m for m in meters if m.role == "import"] if nets_import else []
    export_wh = _total_wh(export_meters)
    import_wh = _total_wh(import_meters)
    net_wh = export_wh - import_wh
    flags: list[str] = []
    if any(m.adjustment_wh for m in export_meters + import_meters):
        flags.append(QualityFlag.calibration_lapsed)
    if any(m.filled_wh for m in export_meters):
        flags.append(QualityFlag.gap_filled)
    if any(m.filled_wh for m in import_meters):
        flags.append(QualityFlag.import_gap_filled)
    if nets_import and not import_meters:
        # Not deducted: night-time imports of a plant without an import meter stay unknown.
        flags.append(QualityFlag.no_import_data)
    if net_wh < 0:
        flags.append(QualityFlag.net_import)
    return SiteActivity(export_wh, import_wh, net_wh, max(net_wh, ZERO), ordered_flags(flags))


@exact
def wh_to_mwh(energy_wh: Decimal | int) -> Decimal:
    """Exact Wh → MWh (the methodologies take MWh)."""
    return Decimal(energy_wh) / WH_PER_MWH


# --- Parameters ----------------------------------------------------------------------------------


class MissingParameter(ParameterError):
    """A parameter that no source (meters, site, plan, EF table, window, default) supplies."""

    def __init__(self, name: str, description: str):
        super().__init__(name, f"missing ({description})")
        self.name = name
        self.description = description


# Per-period time quantities whose methodology default is a whole year: a window of fewer days
# must not be credited for a year. Calendar days × 24 h, in site-local dates.
WINDOW_LENGTH_PARAMETERS: Mapping[str, Callable[[CreditWindow], Decimal]] = MappingProxyType(
    {
        # T_i,p of the transformers (domain.md §3.2): hours energised, default 8,760 h.
        "hours_energised_h": lambda window: Decimal(window.days * HOURS_PER_DAY),
        # The "365" of AMS-II.J (§3.3), a parameter so that shorter periods are pro-rated.
        "operating_days_d": lambda window: Decimal(window.days),
    }
)

# Only *grid* factors come from the published table. VN_AM007's reference_emission_factor is a
# conservative value below the grid's (§3.1): filling it with the grid EF would overstate.
GRID_EMISSION_FACTOR_PREFIX = "grid_emission_factor"


def resolve_parameters(
    methodology: Methodology[Any],
    *,
    window: CreditWindow,
    metered_mwh: Decimal | None,
    site_facts: Mapping[str, Any],
    plan_values: Mapping[str, Any],
    host_country: str,
    ef_overrides: Overrides | None,
) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Raw parameter values for one line and where each came from.

    Precedence: meter readings (the metered parameter only, never from another source: an ex-ante
    estimate must not stand in for measurements); the site record; the monitoring plan; the grid
    EF for the window's vintage (programme override, else published); the window length for
    per-period times; the methodology default. Raises MissingParameter when nothing supplies a
    value, and ParameterError (a ValueError) for a value that is not an exact number or a time
    longer than the window.
    """
    metered = METERED_PARAMETERS.get(methodology.code)
    values: dict[str, Decimal] = {}
    sources: dict[str, str] = {}
    for parameter in methodology.parameters:
        name = parameter.name
        if metered is not None and name == metered.name:
            if metered_mwh is None:
                raise MissingParameter(name, "no meter readings for the window")
            values[name], sources[name] = metered_mwh, "meter readings"
        elif site_facts.get(name) is not None:
            values[name], sources[name] = to_decimal(name, site_facts[name]), "site record"
        elif plan_values.get(name) is not None:
            values[name], sources[name] = to_decimal(name, plan_values[name]), "monitoring plan"
        elif name.startswith(GRID_EMISSION_FACTOR_PREFIX):
            values[name], sources[name] = _grid_factor(name, window, host_country, ef_overrides)
        elif name in WINDOW_LENGTH_PARAMETERS:
            values[name], sources[name] = WINDOW_LENGTH_PARAMETERS[name](window), "window length"
        elif parameter.default is not None:
            values[name], sources[name] = parameter.default, "methodology default"
        else:
            raise MissingParameter(name, f"{parameter.unit}: {parameter.description}")
        if name in WINDOW_LENGTH_PARAMETERS:
            # A yearly figure on the site record would otherwise credit a partial window for a year.
            limit = WINDOW_LENGTH_PARAMETERS[name](window)
            if values[name] > limit:
                raise ParameterError(name, f"{values[name]} exceeds the window's {limit} ({sources[name]})")
    return values, sources


def _grid_factor(
    name: str, window: CreditWindow, host_country: str, ef_overrides: Overrides | None
) -> tuple[Decimal, str]:
    try:
        value = grid_emission_factor(host_country, window.vintage, ef_overrides)
    except UnknownGridEmissionFactor as unknown:
        raise MissingParameter(name, str(unknown)) from None
    origin = "programme override" if window.vintage in normalise_overrides(ef_overrides) else "published"
    return value, f"grid emission factor {host_country.strip().upper()} {window.vintage} ({origin})"


# --- Lines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineResult:
    """One site over one window: activity, parameters (as str for JSON), their sources and BE/PE/LE/ER."""

    window: CreditWindow
    activity: SiteActivity | None
    parameters: dict[str, str]
    sources: dict[str, str]
    baseline_tco2e: Decimal
    project_tco2e: Decimal
    leakage_tco2e: Decimal
    emission_reductions_tco2e: Decimal

    @property
    def breakdown(self) -> EmissionBreakdown:
        return EmissionBreakdown(
            self.baseline_tco2e, self.project_tco2e, self.leakage_tco2e, self.emission_reductions_tco2e
        )


def compute_line(
    methodology: Methodology[Any],
    *,
    window: CreditWindow,
    activity: SiteActivity | None,
    site_facts: Mapping[str, Any],
    plan_values: Mapping[str, Any],
    host_country: str,
    ef_overrides: Overrides | None,
) -> LineResult:
    """Resolve the parameters of one line and run them through the methodology, exactly.

    For a metered methodology `activity` is required (MissingParameter otherwise); for the others
    it is ignored by the formulas and only kept in the result.
    """
    metered_mwh = None if activity is None else wh_to_mwh(activity.counted_wh)
    raw, sources = resolve_parameters(
        methodology,
        window=window,
        metered_mwh=metered_mwh,
        site_facts=site_facts,
        plan_values=plan_values,
        host_country=host_country,
        ef_overrides=ef_overrides,
    )
    parsed = methodology.parse_parameters(raw)
    breakdown = methodology.breakdown(parsed)
    return LineResult(
        window=window,
        activity=activity,
        # The parsed values, defaults included, so the stored line shows every input used.
        parameters={p.name: str(getattr(parsed, p.name)) for p in methodology.parameters},
        sources=sources,
        baseline_tco2e=breakdown.baseline_tco2e,
        project_tco2e=breakdown.project_tco2e,
        leakage_tco2e=breakdown.leakage_tco2e,
        emission_reductions_tco2e=breakdown.emission_reductions_tco2e,
    )


def report_total(results: Iterable[LineResult]) -> EmissionBreakdown:
    """BE, PE, LE and ER summed over lines, exactly; a negative line (a worse unit) is not clamped."""
    total = EMPTY_BREAKDOWN
    for result in results:
        total = total + result.breakdown
    return total


def sum_lines(results: Iterable[LineResult]) -> Decimal:
    """Exact ER total over lines (tCO2e), unrounded."""
    return report_total(results).emission_reductions_tco2e


def claimable_credits(total_tco2e: Decimal) -> int:
    """Whole credits for an ER total: the one rounding, down (domain.md §3.1 [U], conservative).

    Rounded on the total, not per line, so small lines are not each robbed of a fraction. A
    negative total claims nothing.
    """
    if not isinstance(total_tco2e, Decimal):
        raise TypeError(f"expected a Decimal total, got {type(total_tco2e).__name__}")
    if total_tco2e <= 0:
        return 0
    return int(total_tco2e.to_integral_value(rounding=ROUND_FLOOR))
