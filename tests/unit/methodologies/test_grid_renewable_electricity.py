"""AMS-I.D and JCM VN_AM007: the worked PV examples of domain.md §3.1 and their applicability."""

from decimal import ROUND_FLOOR, Decimal

import pytest

from poa_manager.methodologies import ams_i_d, get_methodology, jcm_vn_am007
from poa_manager.methodologies.base import ConditionStatus
from poa_manager.methodologies.grid_emission_factors import grid_emission_factor

# domain.md §3.1 worked example: a 1 MWp rooftop PV site exporting or consuming 1,350 MWh a year.
PV_WORKED_EXAMPLES = [
    # (EF year, EF tCO2/MWh, exact ER tCO2e, whole credits if rounded down)
    (2023, "0.6592", "889.92", 889),
    (2022, "0.6766", "913.41", 913),
]


def _pv_parameters(code: str, electricity_mwh: str, ef: str):
    names = {
        "AMS-I.D": ("net_electricity_mwh", "grid_emission_factor_tco2_per_mwh"),
        "JCM_VN_AM007": ("electricity_supplied_mwh", "reference_emission_factor_tco2_per_mwh"),
    }[code]
    return get_methodology(code).parse_parameters(dict(zip(names, (electricity_mwh, ef), strict=True)))


@pytest.mark.parametrize("code", ["AMS-I.D", "JCM_VN_AM007"])
@pytest.mark.parametrize(("year", "ef", "exact_er", "whole_credits"), PV_WORKED_EXAMPLES)
def test_pv_emission_reductions_equal_the_worked_example_when_ef_is_the_published_one(
    code, year, ef, exact_er, whole_credits
):
    assert grid_emission_factor("VN", year) == Decimal(ef)
    methodology = get_methodology(code)
    er = methodology.emission_reductions(_pv_parameters(code, "1350", ef))
    assert er == Decimal(exact_er)
    # The example's "→ 889" is the registry's rounding down; the methodology itself never rounds.
    assert er.to_integral_value(rounding=ROUND_FLOOR) == whole_credits
    assert er != er.to_integral_value()


@pytest.mark.parametrize("code", ["AMS-I.D", "JCM_VN_AM007"])
def test_pv_project_emissions_and_leakage_are_zero_when_nothing_else_is_entered(code):
    breakdown = get_methodology(code).breakdown(_pv_parameters(code, "1350", "0.6592"))
    assert breakdown.project_tco2e == breakdown.leakage_tco2e == 0
    assert breakdown.baseline_tco2e == breakdown.emission_reductions_tco2e == Decimal("889.92")


def test_ams_i_d_deducts_entered_project_emissions_and_leakage_when_the_technology_has_them():
    p = ams_i_d.Parameters(
        net_electricity_mwh=Decimal("1350"),
        grid_emission_factor_tco2_per_mwh=Decimal("0.6592"),
        project_emissions_tco2e=Decimal("12.5"),
        leakage_tco2e=Decimal("0.42"),
    )
    assert ams_i_d.baseline_emissions(p) == Decimal("889.92")
    assert ams_i_d.emission_reductions(p) == Decimal("877.00")


def test_jcm_vn_am007_requires_the_reference_emission_factor_when_it_is_missing():
    with pytest.raises(ValueError, match="reference_emission_factor_tco2_per_mwh"):
        get_methodology("JCM_VN_AM007").parse_parameters({"electricity_supplied_mwh": "1350"})


def test_site_total_sums_sites_exactly_when_several_meters_report():
    methodology = get_methodology("AMS-I.D")
    sites = [_pv_parameters("AMS-I.D", mwh, "0.6592") for mwh in ("1350", "0.001", "675.5")]
    total = methodology.total(sites)
    assert total.emission_reductions_tco2e == Decimal("889.92") + Decimal("0.0006592") + Decimal("445.2896")


PV_SITE = {
    "technology": "solar_pv",
    "supplies_grid": True,
    "activity_type": "greenfield",
    "combined_heat_and_power": False,
    "installed_capacity_mw": Decimal("1"),
}


@pytest.mark.parametrize(
    ("changes", "code", "status"),
    [
        ({}, "AC-5", ConditionStatus.MET),
        ({"installed_capacity_mw": "15"}, "AC-5", ConditionStatus.MET),  # "up to 15 MW" (§1.6)
        ({"installed_capacity_mw": "15.001"}, "AC-5", ConditionStatus.NOT_MET),
        ({}, "AC-6", ConditionStatus.NOT_APPLICABLE),
        ({"activity_type": "capacity_addition", "added_capacity_mw": "14.9"}, "AC-6", ConditionStatus.MET),
        ({"activity_type": "capacity_addition", "added_capacity_mw": 15}, "AC-6", ConditionStatus.NOT_MET),
        ({"activity_type": "capacity_addition"}, "AC-6", ConditionStatus.UNKNOWN),
        # A capacity addition is limited by what it adds (AC-6), not by the existing plant's size.
        (
            {"activity_type": "capacity_addition", "installed_capacity_mw": "40"},
            "AC-5",
            ConditionStatus.NOT_APPLICABLE,
        ),
        ({"technology": "diesel"}, "AC-1", ConditionStatus.NOT_MET),
        ({"combined_heat_and_power": True}, "AC-4", ConditionStatus.NOT_MET),
        ({"supplies_grid": False}, "AC-2", ConditionStatus.NOT_MET),
        ({"activity_type": "relocation"}, "AC-3", ConditionStatus.NOT_MET),
    ],
)
def test_ams_i_d_applicability_follows_the_15_mw_and_technology_rules_when_facts_change(
    changes, code, status
):
    report = ams_i_d.METHODOLOGY.assess_applicability(PV_SITE | changes)
    assert {r.code: r.status for r in report.results}[code] is status


def test_ams_i_d_is_applicable_only_when_declarations_are_confirmed_too():
    methodology = ams_i_d.METHODOLOGY
    pending = methodology.assess_applicability(PV_SITE)
    assert not pending.applicable
    assert pending.outstanding == ("AC-7", "AC-8")
    assert methodology.assess_applicability(PV_SITE, confirmed={"AC-7", "AC-8"}).applicable


def test_jcm_vn_am007_is_not_applicable_when_the_site_is_outside_viet_nam():
    report = jcm_vn_am007.METHODOLOGY.assess_applicability(
        {"technology": "solar_pv", "country_code": "TH"}, confirmed={"AC-3", "AC-4"}
    )
    assert report.not_met == ("AC-2",)
    assert not report.applicable
