"""CDM AMS-I.D v18: grid-connected renewable electricity generation (domain.md §3.1).

ER_y = BE_y − PE_y − LE_y with BE_y = EG_PJ,y × EF_grid,y. PE_y = LE_y = 0 for PV and wind; other
technologies (hydro reservoirs, geothermal, biomass) must supply PE_y/LE_y computed per the
methodology, which domain.md does not reproduce. ACM0002 (large scale) has the same shape with
EF_grid,CM,y; it is not registered here because domain.md gives none of its conditions.
Equations [S] (public code quoting AMS-I.D), Tool 07 reference [C] (Guardian AMS-I.D v18 document).
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

CODE = "AMS-I.D"

# SSC Type I: up to 15 MW(e) maximum output, installed or rated capacity (domain.md §1.6, [C]).
SMALL_SCALE_TYPE_I_LIMIT_MW = Decimal(15)

# The renewable sources and activity types domain.md §3.1 lists for AMS-I.D [C].
TECHNOLOGIES = ("solar_pv", "hydro", "wind", "geothermal", "biomass")
ACTIVITY_TYPES = ("greenfield", "capacity_addition", "retrofit", "replacement")

PARAMETERS = (
    # Net of import, so a plant that draws from the grid at night is not credited for it (§3.1).
    Parameter(
        name="net_electricity_mwh",
        unit="MWh",
        symbol="EG_PJ,y",
        description="Net electricity supplied to the grid by the project plant in the period "
        "(export − import), monitored",
        monitored=True,
    ),
    # Fixed ex ante by default; which vintage (e.g. Viet Nam 2023) is the design document's choice.
    Parameter(
        name="grid_emission_factor_tco2_per_mwh",
        unit="tCO2/MWh",
        symbol="EF_grid,y",
        description="Grid emission factor from Tool 07, fixed at validation (or monitored ex post "
        "if the design document chooses so)",
    ),
    # Entered rather than computed: domain.md gives PE/LE only as zero for PV and wind (§3.1, [S]).
    Parameter(
        name="project_emissions_tco2e",
        unit="tCO2e",
        symbol="PE_y",
        description="Project emissions; 0 for PV and wind, otherwise computed per AMS-I.D "
        "(not modelled here) and entered",
        default=ZERO,
        monitored=True,
    ),
    Parameter(
        name="leakage_tco2e",
        unit="tCO2e",
        symbol="LE_y",
        description="Leakage; 0 for PV and wind, otherwise computed per AMS-I.D (not modelled here)",
        default=ZERO,
        monitored=True,
    ),
)


@dataclass(frozen=True)
class Parameters:
    net_electricity_mwh: Decimal
    grid_emission_factor_tco2_per_mwh: Decimal
    project_emissions_tco2e: Decimal = ZERO
    leakage_tco2e: Decimal = ZERO

    def __post_init__(self) -> None:
        check_fields(self, PARAMETERS)


@exact
def baseline_emissions(p: Parameters) -> Decimal:
    """AMS-I.D v18 baseline: BE_y = EG_PJ,y × EF_grid,y (tCO2e)."""
    return p.net_electricity_mwh * p.grid_emission_factor_tco2_per_mwh


@exact
def project_emissions(p: Parameters) -> Decimal:
    """AMS-I.D v18 project emissions PE_y (tCO2e): 0 for PV and wind, else the value entered."""
    return p.project_emissions_tco2e


@exact
def leakage(p: Parameters) -> Decimal:
    """AMS-I.D v18 leakage LE_y (tCO2e): 0 for PV and wind, else the value entered."""
    return p.leakage_tco2e


@exact
def emission_reductions(p: Parameters) -> Decimal:
    """AMS-I.D v18: ER_y = BE_y − PE_y − LE_y (tCO2e, exact; rounded down only at issuance)."""
    return baseline_emissions(p) - project_emissions(p) - leakage(p)


def _is_supported_technology(facts: Facts) -> bool:
    return text_fact(facts, "technology") in TECHNOLOGIES


def _is_supported_activity(facts: Facts) -> bool:
    return text_fact(facts, "activity_type") in ACTIVITY_TYPES


def _within_small_scale_limit(facts: Facts) -> bool | None:
    # "Up to 15 MW": at most, inclusive (§1.6). Capacity additions are limited by what they add (AC-6).
    if text_fact(facts, "activity_type") == "capacity_addition":
        return None
    return decimal_fact(facts, "installed_capacity_mw") <= SMALL_SCALE_TYPE_I_LIMIT_MW


def _capacity_addition_below_limit(facts: Facts) -> bool | None:
    # "< 15 MW" for the added units (§3.1): strictly below, unlike the SSC limit of AC-5.
    if text_fact(facts, "activity_type") != "capacity_addition":
        return None
    return decimal_fact(facts, "added_capacity_mw") < SMALL_SCALE_TYPE_I_LIMIT_MW


APPLICABILITY_CONDITIONS = (
    ApplicabilityCondition(
        code="AC-1",
        description="The plant uses a renewable source: PV, hydro, wind, geothermal or biomass",
        predicate=_is_supported_technology,
        facts=("technology",),
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-2",
        description="The plant supplies electricity to the grid",
        predicate=lambda facts: flag_fact(facts, "supplies_grid"),
        facts=("supplies_grid",),
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-3",
        description="The activity is a new (greenfield) plant, a capacity addition, a retrofit or "
        "a replacement",
        predicate=_is_supported_activity,
        facts=("activity_type",),
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-4",
        description="The plant is not a combined heat and power (CHP) system",
        predicate=lambda facts: not flag_fact(facts, "combined_heat_and_power"),
        facts=("combined_heat_and_power",),
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-5",
        description="SSC Type I: installed/rated capacity is at most 15 MW(e) for the whole "
        "crediting period (capacity additions: see AC-6)",
        predicate=_within_small_scale_limit,
        facts=("activity_type", "installed_capacity_mw"),
        reference="domain.md §1.6 [C], §1.4 k",
    ),
    ApplicabilityCondition(
        code="AC-6",
        description="A capacity addition adds less than 15 MW",
        predicate=_capacity_addition_below_limit,
        facts=("activity_type", "added_capacity_mw"),
        reference="domain.md §3.1 [C]",
    ),
    # Judgements with documentary evidence rather than facts a site record can hold: declared.
    ApplicabilityCondition(
        code="AC-7",
        description="A capacity addition is physically distinct from the existing units "
        "(confirm 'not applicable' for other activity types)",
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-8",
        description="The grid emission factor is determined with CDM Tool 07 (e.g. the host "
        "country's published Tool 07 value)",
        reference="domain.md §3.1 [C]",
    ),
)

METHODOLOGY: Methodology[Parameters] = Methodology(
    code=CODE,
    version="18.0",
    title="Grid connected renewable electricity generation",
    mechanism="CDM",
    sectoral_scopes=(1,),
    technologies=TECHNOLOGIES,
    parameters=PARAMETERS,
    applicability_conditions=APPLICABILITY_CONDITIONS,
    parameters_type=Parameters,
    baseline_emissions=baseline_emissions,
    project_emissions=project_emissions,
    leakage=leakage,
    emission_reductions=emission_reductions,
    confidence=Confidence.SECONDARY,
    reference="domain.md §3.1; equations [S], scope and Tool 07 reference [C]",
)
