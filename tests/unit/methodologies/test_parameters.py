"""Parameter parsing and validation shared by every methodology (methodologies/base.py)."""

from dataclasses import FrozenInstanceError
from decimal import Decimal, localcontext

import pytest

from poa_manager.methodologies import ams_i_d, get_methodology
from poa_manager.methodologies.base import (
    ApplicabilityCondition,
    ConditionStatus,
    Parameter,
    ParameterError,
    decimal_fact,
    parse_parameters,
)

PV = get_methodology("AMS-I.D")
VALID = {"net_electricity_mwh": "1350", "grid_emission_factor_tco2_per_mwh": "0.6592"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1350", Decimal("1350")),
        (" 1350.250 ", Decimal("1350.250")),
        (1350, Decimal(1350)),
        (Decimal("1350.5"), Decimal("1350.5")),
    ],
)
def test_str_int_and_decimal_values_are_accepted_exactly_when_parsing(raw, expected):
    p = PV.parse_parameters(VALID | {"net_electricity_mwh": raw})
    assert p.net_electricity_mwh == expected
    assert isinstance(p.net_electricity_mwh, Decimal)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (1350.0, "floats are refused"),
        (0.1, "floats are refused"),
        ("-1", "below the minimum"),
        (-5, "below the minimum"),
        ("abc", "not a decimal number"),
        ("1,350", "not a decimal number"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        (True, "boolean"),
        ([1350], "expected str, int or Decimal"),
    ],
)
def test_value_is_refused_with_the_parameter_named_when_not_an_exact_non_negative_decimal(raw, message):
    with pytest.raises(ParameterError, match=message) as refused:
        PV.parse_parameters(VALID | {"net_electricity_mwh": raw})
    assert refused.value.parameter == "net_electricity_mwh"
    assert "net_electricity_mwh" in str(refused.value)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("missing", ["net_electricity_mwh", "grid_emission_factor_tco2_per_mwh"])
def test_missing_required_parameter_is_named_when_parsing(missing):
    raw = {name: value for name, value in VALID.items() if name != missing}
    with pytest.raises(ValueError, match=f"'{missing}': missing"):
        PV.parse_parameters(raw)


def test_none_counts_as_missing_when_a_form_leaves_a_field_empty():
    with pytest.raises(ValueError, match="'net_electricity_mwh': missing"):
        PV.parse_parameters(VALID | {"net_electricity_mwh": None})


def test_unknown_parameter_is_refused_when_a_name_is_misspelt():
    with pytest.raises(ValueError, match="'net_electricity_kwh': unknown for AMS-I.D"):
        PV.parse_parameters(VALID | {"net_electricity_kwh": "1"})


def test_defaults_fill_optional_parameters_when_not_given():
    p = parse_parameters(PV, VALID)
    assert p.project_emissions_tco2e == 0 and p.leakage_tco2e == 0


def test_parameters_are_frozen_when_built():
    p = PV.parse_parameters(VALID)
    with pytest.raises(FrozenInstanceError):
        p.net_electricity_mwh = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize("value", [1350.0, 1350, "1350"])
def test_direct_construction_refuses_non_decimals_when_bypassing_the_parser(value):
    with pytest.raises(ParameterError, match="expected Decimal"):
        ams_i_d.Parameters(net_electricity_mwh=value, grid_emission_factor_tco2_per_mwh=Decimal("0.6592"))


def test_direct_construction_refuses_negative_values_when_bypassing_the_parser():
    with pytest.raises(ParameterError, match="grid_emission_factor_tco2_per_mwh"):
        ams_i_d.Parameters(net_electricity_mwh=Decimal(1), grid_emission_factor_tco2_per_mwh=Decimal("-0.1"))


def test_parameter_refuses_a_default_when_it_breaks_its_own_bounds():
    with pytest.raises(ParameterError, match="above the maximum"):
        Parameter(
            name="share_fraction", unit="fraction", description="x", default=Decimal(2), maximum=Decimal(1)
        )


def test_results_are_exact_even_when_the_callers_decimal_context_is_coarse():
    with localcontext(prec=3):
        er = ams_i_d.emission_reductions(PV.parse_parameters(VALID))
    assert er == Decimal("889.92")


def test_declaration_is_pending_until_the_coordinator_confirms_its_code():
    condition = ApplicabilityCondition(code="AC-9", description="Declared by the coordinator")
    assert not condition.machine_checkable
    assert condition.evaluate({}).status is ConditionStatus.TO_DECLARE
    assert condition.evaluate({}, confirmed={"AC-9"}).status is ConditionStatus.DECLARED


def test_machine_checked_condition_reports_the_missing_fact_when_it_is_absent():
    condition = ApplicabilityCondition(
        code="AC-1",
        description="At most 15 MW",
        predicate=lambda facts: decimal_fact(facts, "installed_capacity_mw") <= 15,
        facts=("installed_capacity_mw",),
    )
    result = condition.evaluate({})
    assert result.status is ConditionStatus.UNKNOWN
    assert "installed_capacity_mw" in result.detail
    assert not result.passed


def test_float_site_facts_are_refused_when_a_condition_reads_them():
    with pytest.raises(ValueError, match="floats are refused"):
        decimal_fact({"installed_capacity_mw": 1.5}, "installed_capacity_mw")


def test_yes_no_facts_must_be_booleans_when_a_condition_reads_them():
    with pytest.raises(ValueError, match="boolean"):
        ams_i_d.METHODOLOGY.assess_applicability({"supplies_grid": "no"})
