"""JCM Viet Nam amorphous (high-efficiency) distribution transformers, expected structure (§3.2).

[U] throughout: domain.md §3.2 gives the *expected* structure of such a JCM methodology, modelled
on MN_AM001 (a reference loss fixed from a national standard, compared with a tested project
value). Number, version and the Viet Nam reference loss table are unconfirmed, hence the
provisional code and `Confidence.UNCONFIRMED`.

    RE_p = Σ_i (NLL_REF,i − NLL_PJ,i) × T_i,p × EF_grid / 1000    (kW × h → kWh; /1000 → MWh)
    PE_p = 0;  ER_p = RE_p − PE_p

One parameter set is a group of `transformer_count` identical units (often one unit, since each
NLL_PJ,i comes from that unit's factory test certificate); `Methodology.total` does the Σ_i.
Load losses are ignored, the conservative option; domain.md's alternative (load losses counted
with the same default load factor for both) gives no formula, so it is not implemented.
A unit whose certified loss exceeds the reference contributes a negative term, deliberately not
clamped: clamping would overstate the fleet total.
"""

from dataclasses import dataclass
from decimal import Decimal

from .base import (
    ZERO,
    ApplicabilityCondition,
    Confidence,
    Methodology,
    Parameter,
    check_fields,
    exact,
    text_fact,
)

CODE = "JCM_VN_AMORPHOUS_TRANSFORMERS"

KWH_PER_MWH = Decimal(1000)
# T_i,p default: a unit energised all year (§3.2, [U]); a leap year's 8,784 h must be entered.
HOURS_PER_YEAR = Decimal(8760)

PARAMETERS = (
    Parameter(
        name="transformer_count",
        unit="units",
        symbol="i",
        description="Number of identical project transformers in this group (the Σ_i of RE_p)",
        default=Decimal(1),
        integer=True,
    ),
    # No default for either loss: the Viet Nam reference table is [U] and the 0.530/0.160 kW of
    # domain.md's example are illustrative, not values from the methodology.
    Parameter(
        name="no_load_loss_reference_kw",
        unit="kW",
        symbol="NLL_REF,i",
        description="Conservative reference no-load loss for the unit's rated capacity (kVA), from a "
        "national/utility specification or a survey of silicon-steel units; table [U], no default",
    ),
    Parameter(
        name="no_load_loss_project_kw",
        unit="kW",
        symbol="NLL_PJ,i",
        description="No-load loss of the amorphous unit from its factory test certificate, fixed ex ante",
    ),
    Parameter(
        name="hours_energised_h",
        unit="h",
        symbol="T_i,p",
        description="Hours the unit was energised in the period; default 8,760 h (one year) [U], "
        "reduce for recorded outages and de-energisation",
        default=HOURS_PER_YEAR,
        monitored=True,
    ),
    Parameter(
        name="grid_emission_factor_tco2_per_mwh",
        unit="tCO2/MWh",
        symbol="EF_grid",
        description="Conservative grid emission factor (domain.md §3.1), fixed ex ante",
    ),
)


@dataclass(frozen=True)
class Parameters:
    no_load_loss_reference_kw: Decimal
    no_load_loss_project_kw: Decimal
    grid_emission_factor_tco2_per_mwh: Decimal
    transformer_count: Decimal = Decimal(1)
    hours_energised_h: Decimal = HOURS_PER_YEAR

    def __post_init__(self) -> None:
        check_fields(self, PARAMETERS)


@exact
def no_load_energy_saved_kwh(p: Parameters) -> Decimal:
    """Σ_i (NLL_REF,i − NLL_PJ,i) × T_i,p for the group, in kWh (domain.md §3.2)."""
    # No-load loss is drawn whenever the unit is energised, whatever the load: hence × hours only.
    loss_reduction_kw = p.no_load_loss_reference_kw - p.no_load_loss_project_kw
    return p.transformer_count * loss_reduction_kw * p.hours_energised_h


@exact
def baseline_emissions(p: Parameters) -> Decimal:
    """Reference emissions RE_p = Σ_i (NLL_REF,i − NLL_PJ,i) × T_i,p × EF_grid / 1000 (tCO2e).

    As domain.md §3.2 writes it, RE_p is already the avoided loss; PE_p is 0. Splitting it into
    reference and project losses would give the same ER_p.
    """
    # kW × h gives kWh; EF_grid is per MWh, hence the / 1000 of the equation.
    return no_load_energy_saved_kwh(p) / KWH_PER_MWH * p.grid_emission_factor_tco2_per_mwh


@exact
def project_emissions(p: Parameters) -> Decimal:
    """PE_p = 0 (domain.md §3.2): the project's own losses are netted inside RE_p."""
    return ZERO


@exact
def leakage(p: Parameters) -> Decimal:
    """No leakage term in domain.md §3.2, so 0."""
    return ZERO


@exact
def emission_reductions(p: Parameters) -> Decimal:
    """ER_p = RE_p − PE_p (tCO2e, exact; domain.md's rounding down happens at issuance)."""
    return baseline_emissions(p) - project_emissions(p) - leakage(p)


APPLICABILITY_CONDITIONS = (
    ApplicabilityCondition(
        code="AC-1",
        description="The site is in Viet Nam",
        predicate=lambda facts: text_fact(facts, "country_code") == "vn",
        facts=("country_code",),
        reference="domain.md §3.2 [U]",
    ),
    # The core material is on the nameplate and the certificate: a fact the site record holds.
    ApplicabilityCondition(
        code="AC-2",
        description="The project units are amorphous-core (high-efficiency) distribution transformers",
        predicate=lambda facts: text_fact(facts, "transformer_core") == "amorphous",
        facts=("transformer_core",),
        reference="domain.md §3.2 [U]",
    ),
    # Certificates and the reference table are documents a verifier reads: declarations.
    ApplicabilityCondition(
        code="AC-3",
        description="Each unit's no-load loss comes from its factory test certificate",
        reference="domain.md §3.2 [U]",
    ),
    ApplicabilityCondition(
        code="AC-4",
        description="The reference no-load loss is a conservative default for the unit's rated kVA, "
        "from a national or utility specification or a survey of conventional silicon-steel units",
        reference="domain.md §3.2 [U]",
    ),
)


METHODOLOGY: Methodology[Parameters] = Methodology(
    code=CODE,
    version="unconfirmed",
    title="Installation of amorphous high-efficiency distribution transformers (expected structure)",
    mechanism="JCM",
    # Energy distribution, as for MN_AM001 (domain.md §3.2); the Viet Nam scope itself is [U].
    sectoral_scopes=(2,),
    technologies=("amorphous_transformer",),
    parameters=PARAMETERS,
    applicability_conditions=APPLICABILITY_CONDITIONS,
    parameters_type=Parameters,
    baseline_emissions=baseline_emissions,
    project_emissions=project_emissions,
    leakage=leakage,
    emission_reductions=emission_reductions,
    confidence=Confidence.UNCONFIRMED,
    reference="domain.md §3.2 [U]: methodology text not checked; structure after MN_AM001 [C]",
)
