"""Amorphous distribution transformers: the worked example of domain.md §3.2 and its conventions."""

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import pytest

from poa_manager.methodologies import jcm_vn_amorphous_transformers as transformers
from poa_manager.methodologies.base import ConditionStatus

# domain.md §3.2 (illustrative numbers): 250 kVA units, NLL_REF 0.530 kW, NLL_PJ 0.160 kW,
# energised all year (8,760 h), EF 0.6592 (Viet Nam 2023).
EXAMPLE = {
    "no_load_loss_reference_kw": "0.530",
    "no_load_loss_project_kw": "0.160",
    "grid_emission_factor_tco2_per_mwh": "0.6592",
}


def _parameters(**changes: str | int) -> transformers.Parameters:
    return transformers.METHODOLOGY.parse_parameters(EXAMPLE | changes)


@pytest.mark.parametrize(
    ("count", "saved_kwh"),
    [
        (1, "3241.2"),  # 0.370 kW × 8,760 h per unit
        (200, "648240"),  # 648.24 MWh for the fleet
    ],
)
def test_no_load_energy_saved_matches_the_worked_example_when_energised_all_year(count, saved_kwh):
    assert transformers.no_load_energy_saved_kwh(_parameters(transformer_count=count)) == Decimal(saved_kwh)


def test_fleet_emission_reductions_are_427_3_tco2_when_200_units_run_all_year():
    er = transformers.emission_reductions(_parameters(transformer_count=200))
    assert er == Decimal("427.319808")  # 648.24 MWh × 0.6592, exact
    assert er.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN) == Decimal("427.3")
    assert er.to_integral_value(rounding=ROUND_FLOOR) == 427  # rounded down at issuance, not here


def test_summing_200_single_units_equals_one_group_of_200_when_units_are_identical():
    single = _parameters()
    assert transformers.METHODOLOGY.total([single] * 200).emission_reductions_tco2e == Decimal("427.319808")


def test_hours_energised_default_to_a_full_year_when_not_given():
    assert _parameters().hours_energised_h == Decimal(8760)


def test_outage_hours_reduce_reductions_proportionally_when_the_unit_was_de_energised():
    full, half = _parameters(), _parameters(hours_energised_h="4380")
    assert transformers.emission_reductions(half) * 2 == transformers.emission_reductions(full)


def test_project_emissions_are_zero_and_reference_emissions_carry_the_saving_as_domain_md_writes_it():
    breakdown = transformers.METHODOLOGY.breakdown(_parameters(transformer_count=200))
    assert breakdown.project_tco2e == 0 and breakdown.leakage_tco2e == 0
    assert breakdown.baseline_tco2e == breakdown.emission_reductions_tco2e


def test_a_unit_worse_than_the_reference_counts_negatively_when_summed_not_clamped():
    worse = _parameters(no_load_loss_project_kw="0.600")
    assert transformers.emission_reductions(worse) < 0


def test_transformer_count_must_be_whole_when_given_as_a_fraction():
    with pytest.raises(ValueError, match="transformer_count"):
        _parameters(transformer_count="2.5")


def test_transformer_applicability_needs_amorphous_cores_in_viet_nam():
    facts = {"country_code": "VN", "transformer_core": "silicon_steel"}
    results = {r.code: r.status for r in transformers.METHODOLOGY.assess_applicability(facts).results}
    assert results == {
        "AC-1": ConditionStatus.MET,
        "AC-2": ConditionStatus.NOT_MET,
        "AC-3": ConditionStatus.TO_DECLARE,
        "AC-4": ConditionStatus.TO_DECLARE,
    }
