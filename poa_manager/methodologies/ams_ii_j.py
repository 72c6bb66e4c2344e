"""CDM AMS-II.J style efficient lighting: demand-side replacement with self-ballasted CFLs (§3.3).

domain.md §3.3 gives the formula shape (version not stated):

    ER_y = Σ_i Q_i × (P_BL,i − P_PJ,i) × O_i × 365 × (1 − failure adj.) × NTG × EF / 10^6   (W → MWh)

It gives ER only. Here BE_y and PE_y carry the baseline and project lamp powers through the same
factors, so BE_y − PE_y equals that ER_y exactly; LE_y = 0 because §3.3 states no leakage term.
The default 3.5 h/day, the lamp-failure survey and the net-to-gross factor are [U]: they are
parameters whose defaults (3.5, no failures, NTG 1) reproduce the worked example "before
adjustments" and must be replaced by surveyed values where the design document requires them.
The 365 days of the annual formula are a parameter too, for monitoring periods of another length.
One parameter set is one lamp type i; `Methodology.total` does the Σ_i.
"""

from dataclasses import dataclass
from decimal import Decimal

from .base import (
    ZERO,
    ApplicabilityCondition,
    Confidence,
    Facts,
    Methodology,
    Parameter,
    check_fields,
    decimal_fact,
    exact,
    flag_fact,
    text_fact,
)

CODE = "AMS-II.J"

# W × h gives Wh; the formula's / 10^6 turns it into MWh for a tCO2/MWh factor.
WH_PER_MWH = Decimal(10) ** 6
DEFAULT_OPERATING_HOURS_PER_DAY = Decimal("3.5")
DAYS_PER_YEAR = Decimal(365)

PARAMETERS = (
    # Whole lamps only: a fractional count means a data-entry error, not a partial lamp.
    Parameter(
        name="lamp_count",
        unit="lamps",
        symbol="Q_i",
        description="Number of project lamps of this type distributed and installed",
        integer=True,
    ),
    Parameter(
        name="baseline_lamp_power_w",
        unit="W",
        symbol="P_BL,i",
        description="Rated power of the baseline lamp replaced",
    ),
    Parameter(
        name="project_lamp_power_w",
        unit="W",
        symbol="P_PJ,i",
        description="Rated power of the project lamp (CFL)",
    ),
    Parameter(
        name="operating_hours_per_day_h",
        unit="h/day",
        symbol="O_i",
        description="Daily operating hours; default 3.5 h/day [U], replace with a surveyed value if required",
        default=DEFAULT_OPERATING_HOURS_PER_DAY,
        maximum=Decimal(24),
    ),
    # The literal 365 of §3.3 as a parameter, so a shorter monitoring period is pro-rated.
    Parameter(
        name="operating_days_d",
        unit="days",
        symbol="365",
        description="Days in the period; 365 in the annual formula of domain.md §3.3",
        default=DAYS_PER_YEAR,
    ),
    # Bounded to 0..1 so a survey typo cannot turn the adjustment into a bonus.
    Parameter(
        name="lamp_failure_fraction",
        unit="fraction",
        symbol="failure adj.",
        description="Share of project lamps found failed by the lamp-failure survey; default 0 "
        "(before adjustments) [U]",
        default=ZERO,
        monitored=True,
        maximum=Decimal(1),
    ),
    # NTG above 1 would credit more than the lamps save; the bound keeps it an adjustment down.
    Parameter(
        name="net_to_gross_factor",
        unit="fraction",
        symbol="NTG",
        description="Net-to-gross adjustment; default 1 (before adjustments) [U]",
        default=Decimal(1),
        maximum=Decimal(1),
    ),
    Parameter(
        name="grid_emission_factor_tco2_per_mwh",
        unit="tCO2/MWh",
        symbol="EF",
        description="Grid emission factor from Tool 07",
    ),
)


@dataclass(frozen=True)
class Parameters:
    lamp_count: Decimal
    baseline_lamp_power_w: Decimal
    project_lamp_power_w: Decimal
    grid_emission_factor_tco2_per_mwh: Decimal
    operating_hours_per_day_h: Decimal = DEFAULT_OPERATING_HOURS_PER_DAY
    operating_days_d: Decimal = DAYS_PER_YEAR
    lamp_failure_fraction: Decimal = ZERO
    net_to_gross_factor: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        check_fields(self, PARAMETERS)


def _lamp_energy_mwh(p: Parameters, lamp_power_w: Decimal) -> Decimal:
    """Q_i × P × O_i × 365 × (1 − failure adj.) × NTG / 10^6: adjusted energy of the lamps, in MWh."""
    # Failures and NTG scale BE and PE alike, so BE − PE keeps the single factor of §3.3's ER.
    lamp_hours = p.lamp_count * p.operating_hours_per_day_h * p.operating_days_d
    adjustment = (1 - p.lamp_failure_fraction) * p.net_to_gross_factor
    return lamp_hours * lamp_power_w * adjustment / WH_PER_MWH


@exact
def energy_saved_mwh(p: Parameters) -> Decimal:
    """Q_i × (P_BL,i − P_PJ,i) × O_i × 365 × (1 − failure adj.) × NTG / 10^6, in MWh."""
    return _lamp_energy_mwh(p, p.baseline_lamp_power_w - p.project_lamp_power_w)


@exact
def baseline_emissions(p: Parameters) -> Decimal:
    """BE_y = Q_i × P_BL,i × O_i × 365 × (1 − failure adj.) × NTG × EF / 10^6 (tCO2e)."""
    return _lamp_energy_mwh(p, p.baseline_lamp_power_w) * p.grid_emission_factor_tco2_per_mwh


@exact
def project_emissions(p: Parameters) -> Decimal:
    """PE_y = Q_i × P_PJ,i × O_i × 365 × (1 − failure adj.) × NTG × EF / 10^6 (tCO2e)."""
    return _lamp_energy_mwh(p, p.project_lamp_power_w) * p.grid_emission_factor_tco2_per_mwh


@exact
def leakage(p: Parameters) -> Decimal:
    """No leakage term in domain.md §3.3, so 0."""
    return ZERO


@exact
def emission_reductions(p: Parameters) -> Decimal:
    """ER_y = BE_y − PE_y − LE_y = Σ_i Q_i × (P_BL,i − P_PJ,i) × O_i × 365 × (1 − f) × NTG × EF / 10^6."""
    return baseline_emissions(p) - project_emissions(p) - leakage(p)


def _more_efficient_than_baseline(facts: Facts) -> bool:
    # Higher efficacy (lm/W) than the replaced lamp, cross-multiplied so no division can round.
    project_lm = decimal_fact(facts, "project_lamp_lumens")
    project_w = decimal_fact(facts, "project_lamp_power_w")
    baseline_lm = decimal_fact(facts, "baseline_lamp_lumens")
    baseline_w = decimal_fact(facts, "baseline_lamp_power_w")
    return project_lm * baseline_w > baseline_lm * project_w


def _light_output_at_least_baseline(facts: Facts) -> bool:
    # Equal output passes: "at least that of the baseline lamp" (§3.3).
    return decimal_fact(facts, "project_lamp_lumens") >= decimal_fact(facts, "baseline_lamp_lumens")


APPLICABILITY_CONDITIONS = (
    # LEDs fail AC-1 on purpose: the current AMS-II.J is CFL-focused; LED rules are [U] (§3.3).
    ApplicabilityCondition(
        code="AC-1",
        description="Project lamps are self-ballasted CFLs (LEDs fall under later revisions or "
        "AMS-II.L/AMS-III.AR [U])",
        predicate=lambda facts: text_fact(facts, "project_lamp_type") == "cfl",
        facts=("project_lamp_type",),
        reference="domain.md §3.3 [C]",
    ),
    ApplicabilityCondition(
        code="AC-2",
        description="Project lamps replace less efficient lamps",
        predicate=_more_efficient_than_baseline,
        facts=(
            "project_lamp_lumens",
            "project_lamp_power_w",
            "baseline_lamp_lumens",
            "baseline_lamp_power_w",
        ),
        reference="domain.md §3.3 [C]",
    ),
    ApplicabilityCondition(
        code="AC-3",
        description="Project lamps are new",
        predicate=lambda facts: flag_fact(facts, "project_lamps_new"),
        facts=("project_lamps_new",),
        reference="domain.md §3.3 [C]",
    ),
    ApplicabilityCondition(
        code="AC-4",
        description="Light output is at least that of the baseline lamp (national/international "
        "standards or the methodology's Table 2)",
        predicate=_light_output_at_least_baseline,
        facts=("project_lamp_lumens", "baseline_lamp_lumens"),
        reference="domain.md §3.3 [C]",
    ),
    ApplicabilityCondition(
        code="AC-5",
        description="The grid emission factor is determined with CDM Tool 07",
        reference="domain.md §3.3 [C]",
    ),
)

METHODOLOGY: Methodology[Parameters] = Methodology(
    code=CODE,
    version="unstated",
    title="Demand-side activities for efficient lighting technologies",
    mechanism="CDM",
    # CDM sectoral scope 3 (energy demand); domain.md does not state it.
    sectoral_scopes=(3,),
    technologies=("cfl",),
    parameters=PARAMETERS,
    applicability_conditions=APPLICABILITY_CONDITIONS,
    parameters_type=Parameters,
    baseline_emissions=baseline_emissions,
    project_emissions=project_emissions,
    leakage=leakage,
    emission_reductions=emission_reductions,
    confidence=Confidence.UNCONFIRMED,
    reference="domain.md §3.3: conditions [C]; formula shape only, defaults and adjustments [U]",
)
