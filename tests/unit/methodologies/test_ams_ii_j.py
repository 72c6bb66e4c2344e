"""Efficient lighting (AMS-II.J style): the worked example of domain.md §3.3 and its adjustments."""

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from poa_manager.methodologies import ams_ii_j
from poa_manager.methodologies.base import ConditionStatus

# domain.md §3.3 (illustrative): 10,000 lamps, 60 W → 9 W, 3.5 h/day, EF 0.6592, before adjustments.
EXAMPLE = {
    "lamp_count": 10_000,
    "baseline_lamp_power_w": "60",
    "project_lamp_power_w": "9",
    "grid_emission_factor_tco2_per_mwh": "0.6592",
}


def _parameters(**changes: str | int) -> ams_ii_j.Parameters:
    return ams_ii_j.METHODOLOGY.parse_parameters(EXAMPLE | changes)


def _half_even(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


def test_energy_saved_per_lamp_is_65_15_kwh_when_defaults_apply():
    saved_kwh = ams_ii_j.energy_saved_mwh(_parameters(lamp_count=1)) * 1000
    assert saved_kwh == Decimal("65.1525")  # 51 W × 3.5 h × 365 d
    assert _half_even(saved_kwh, "0.01") == Decimal("65.15")


def test_energy_saved_by_the_fleet_is_651_5_mwh_when_defaults_apply():
    saved_mwh = ams_ii_j.energy_saved_mwh(_parameters())
    assert saved_mwh == Decimal("651.525")
    assert _half_even(saved_mwh, "0.1") == Decimal("651.5")


def test_emission_reductions_are_429_5_tco2_when_no_adjustments_apply():
    er = ams_ii_j.emission_reductions(_parameters())
    assert er == Decimal("429.48528")  # 651.525 MWh × 0.6592, exact
    assert _half_even(er, "0.1") == Decimal("429.5")


def test_baseline_minus_project_emissions_equal_the_domain_md_formula_when_split():
    breakdown = ams_ii_j.METHODOLOGY.breakdown(_parameters())
    assert breakdown.baseline_tco2e == Decimal("505.2768")  # 766.5 MWh × 0.6592
    assert breakdown.project_tco2e == Decimal("75.79152")  # 114.975 MWh × 0.6592
    assert breakdown.baseline_tco2e - breakdown.project_tco2e == breakdown.emission_reductions_tco2e


def test_defaults_are_the_unconfirmed_before_adjustment_values_when_not_given():
    p = _parameters()
    assert (p.operating_hours_per_day_h, p.operating_days_d) == (Decimal("3.5"), Decimal(365))
    assert (p.lamp_failure_fraction, p.net_to_gross_factor) == (Decimal(0), Decimal(1))


@pytest.mark.parametrize(
    ("changes", "expected_er"),
    [
        ({"lamp_failure_fraction": "0.1"}, "386.536752"),  # × 0.9
        ({"net_to_gross_factor": "0.95"}, "408.011016"),  # × 0.95
        ({"lamp_failure_fraction": "0.1", "net_to_gross_factor": "0.95"}, "367.2099144"),
        ({"operating_hours_per_day_h": "7"}, "858.97056"),  # twice the hours
        ({"operating_days_d": "182.5"}, "214.74264"),  # half a year
    ],
)
def test_adjustments_scale_reductions_when_surveyed_values_replace_defaults(changes, expected_er):
    assert ams_ii_j.emission_reductions(_parameters(**changes)) == Decimal(expected_er)


def test_lamp_types_sum_exactly_when_a_programme_distributes_several():
    other = _parameters(lamp_count=500, baseline_lamp_power_w="100", project_lamp_power_w="20")
    total = ams_ii_j.METHODOLOGY.total([_parameters(), other])
    assert total.emission_reductions_tco2e == Decimal("429.48528") + Decimal("33.68512")  # 51.1 MWh × 0.6592


@pytest.mark.parametrize(
    ("field", "value"),
    [("lamp_failure_fraction", "1.01"), ("net_to_gross_factor", "1.2"), ("operating_hours_per_day_h", "25")],
)
def test_fractions_and_daily_hours_are_refused_when_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        _parameters(**{field: value})


LAMP_FACTS = {
    "project_lamp_type": "CFL",
    "project_lamps_new": True,
    "project_lamp_lumens": "900",
    "project_lamp_power_w": "15",
    "baseline_lamp_lumens": "710",
    "baseline_lamp_power_w": "60",
}


@pytest.mark.parametrize(
    ("changes", "code", "status"),
    [
        ({}, "AC-1", ConditionStatus.MET),
        ({"project_lamp_type": "led"}, "AC-1", ConditionStatus.NOT_MET),
        ({}, "AC-2", ConditionStatus.MET),
        ({"project_lamp_power_w": "80"}, "AC-2", ConditionStatus.NOT_MET),
        ({"project_lamps_new": False}, "AC-3", ConditionStatus.NOT_MET),
        ({"project_lamp_lumens": "700"}, "AC-4", ConditionStatus.NOT_MET),
        ({"project_lamp_lumens": "710"}, "AC-4", ConditionStatus.MET),
        ({}, "AC-5", ConditionStatus.TO_DECLARE),
    ],
)
def test_lighting_applicability_when_lamp_facts_change(changes, code, status):
    report = ams_ii_j.METHODOLOGY.assess_applicability(LAMP_FACTS | changes)
    assert {r.code: r.status for r in report.results}[code] is status
