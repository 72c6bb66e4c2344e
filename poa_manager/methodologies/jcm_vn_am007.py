"""JCM VN_AM007 Ver1.0: installation of solar PV systems in Viet Nam (domain.md §3.1).

Same shape as AMS-I.D, with JCM's differences: the reference (not baseline) emissions use a
*conservative* emission factor of the grid or of a diesel generator, set below business-as-usual
so the mechanism yields a net reduction (IGES JCM Methodology Guidebook 2.3.2), and project
emissions are 0 by definition. The symbols EG_p and EF_RE are ours: domain.md names the
quantities, not their symbols. The conservative Viet Nam EF in the methodology spreadsheet is
[U], so it has no default and must be entered. Rounding ER down to whole tCO2 ([U]) is left to
the registry.
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
    exact,
    text_fact,
)

CODE = "JCM_VN_AM007"

PARAMETERS = (
    # Only output consumed on site or sold counts: curtailed or unmetered output earns nothing.
    Parameter(
        name="electricity_supplied_mwh",
        unit="MWh",
        symbol="EG_p",
        description="AC output of the PV system consumed on site or sold to the power company in "
        "the period (the monitoring parameter of VN_AM007)",
        monitored=True,
    ),
    # Required, not defaulted: guessing the spreadsheet's conservative value would be worse than asking.
    Parameter(
        name="reference_emission_factor_tco2_per_mwh",
        unit="tCO2/MWh",
        symbol="EF_RE",
        description="Conservative emission factor of the grid or of a diesel generator, fixed ex ante; "
        "the methodology spreadsheet's Viet Nam value is [U], so no default",
    ),
)


@dataclass(frozen=True)
class Parameters:
    electricity_supplied_mwh: Decimal
    reference_emission_factor_tco2_per_mwh: Decimal

    def __post_init__(self) -> None:
        check_fields(self, PARAMETERS)


@exact
def baseline_emissions(p: Parameters) -> Decimal:
    """VN_AM007 reference emissions: RE_p = EG_p × EF_RE (tCO2e); JCM's name for the baseline."""
    return p.electricity_supplied_mwh * p.reference_emission_factor_tco2_per_mwh


@exact
def project_emissions(p: Parameters) -> Decimal:
    """VN_AM007 project emissions: PE_p = 0 (the PV system burns no fuel) [C]."""
    return ZERO


@exact
def leakage(p: Parameters) -> Decimal:
    """No leakage term: VN_AM007 as summarised in domain.md §3.1 has none, so 0."""
    return ZERO


@exact
def emission_reductions(p: Parameters) -> Decimal:
    """VN_AM007: ER_p = RE_p − PE_p (tCO2e, exact; JCM rounds down to whole tCO2 at issuance)."""
    return baseline_emissions(p) - project_emissions(p) - leakage(p)


def _in_viet_nam(facts: Facts) -> bool:
    # JCM methodologies are approved per partner country: VN_AM007 covers Viet Nam only (§4.2).
    return text_fact(facts, "country_code") == "vn"


APPLICABILITY_CONDITIONS = (
    # Other JCM PV methodologies (TH_AM001, KE_AM002...) have the same shape but their own codes.
    ApplicabilityCondition(
        code="AC-1",
        description="The project installs a solar PV system",
        predicate=lambda facts: text_fact(facts, "technology") == "solar_pv",
        facts=("technology",),
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-2",
        description="The site is in Viet Nam (JCM methodologies are approved per partner country)",
        predicate=_in_viet_nam,
        facts=("country_code",),
        reference="domain.md §3.1, §4.2 [C]",
    ),
    # The displaced supply and the EF's conservativeness are shown in the PDD, hence declarations.
    ApplicabilityCondition(
        code="AC-3",
        description="The PV output displaces grid electricity and/or captive (e.g. diesel) generation",
        reference="domain.md §3.1 [C]",
    ),
    ApplicabilityCondition(
        code="AC-4",
        description="The reference emission factor is the conservative grid or diesel-generator value "
        "of the approved methodology, below business-as-usual",
        reference="domain.md §3.1 [C principle, U value]",
    ),
)

METHODOLOGY: Methodology[Parameters] = Methodology(
    code=CODE,
    version="1.0",
    title="Installation of Solar PV System",
    mechanism="JCM",
    # Sectoral scope 1, as on the methodology's jcm.go.jp page (domain.md §3.1).
    sectoral_scopes=(1,),
    technologies=("solar_pv",),
    parameters=PARAMETERS,
    applicability_conditions=APPLICABILITY_CONDITIONS,
    parameters_type=Parameters,
    baseline_emissions=baseline_emissions,
    project_emissions=project_emissions,
    leakage=leakage,
    emission_reductions=emission_reductions,
    confidence=Confidence.CONFIRMED,
    reference="domain.md §3.1; jcm.go.jp/vn-jp/methodologies/45 [C]; approved 10 Oct 2017",
)
