import json
from datetime import date
from decimal import Decimal

import pytest

from poa_manager.sites.eligibility import (
    PARAMETERS,
    Candidate,
    ConflictKind,
    Criterion,
    CriterionKind,
    Scale,
    assess,
    criteria_from_data,
    criteria_to_data,
    effective_params,
    validate_criteria,
)

K = CriterionKind

PROGRAMME_CRITERIA = (
    Criterion("EC-01", "Inside the programme boundary", K.location_in_boundary),
    Criterion("EC-02", "Solar PV only", K.technology_allowed, {"technologies": ("solar_pv",)}),
    Criterion(
        "EC-03",
        "Small scale, 50 kW to 1 MW",
        K.capacity_range,
        {"min_kw": Decimal("50"), "max_kw": Decimal("1000"), "scale": Scale.small_scale},
    ),
    Criterion(
        "EC-04", "Commissioned after the PoA start", K.commissioning_window, {"not_before": date(2024, 1, 1)}
    ),
    Criterion("EC-05", "Revenue meters", K.meter_accuracy, {"accepted_classes": ("0.2S", "0.5S")}),
    Criterion("EC-06", "EIA screening", K.documents_present, {"document_kinds": ("eia_screening",)}),
    Criterion("EC-07", "AMS-I.D applicability", K.methodology_applicability, {"conditions": ("AMS-I.D-1",)}),
    Criterion(
        "EC-08",
        "Not registered elsewhere",
        K.no_double_counting,
        {"nearby_radius_m": Decimal("50"), "review_kinds": (ConflictKind.nearby_same_technology,)},
    ),
    Criterion("EC-09", "Not a de-bundled part", K.debundling, {"lookback_years": 2}),
    Criterion(
        "EC-10",
        "Public funding declared",
        K.financial_support_declared,
        {"max_support_share": Decimal("0.5")},
    ),
)


def test_every_kind_has_parameters_and_a_check():
    assert set(PARAMETERS) == set(CriterionKind)
    assert {criterion.kind for criterion in PROGRAMME_CRITERIA} == set(CriterionKind)
    report = assess(Candidate("CPA-0001"), PROGRAMME_CRITERIA, boundary=None, checked_on=date(2025, 3, 1))
    assert len(report.results) == len(CriterionKind)
    assert not any("misconfigured" in result.reason for result in report.results)


def test_unconfirmed_rules_are_parameters_with_defaults_flagged_in_their_description():
    unconfirmed = {
        (kind, spec.name) for kind, specs in PARAMETERS.items() for spec in specs if spec.unconfirmed
    }
    assert unconfirmed == {
        (K.capacity_range, "microscale_limit_kw"),
        (K.no_double_counting, "nearby_radius_m"),
        (K.debundling, "radius_m"),
        (K.debundling, "microscale_limit_kw"),
        (K.debundling, "lookback_years"),
        (K.financial_support_declared, "require_oda_confirmation"),
    }
    for kind, specs in PARAMETERS.items():
        for spec in specs:
            assert spec.description.startswith("Unconfirmed [U]") == spec.unconfirmed, (kind, spec.name)
            assert not (spec.unconfirmed and spec.required), (kind, spec.name)


@pytest.mark.parametrize(
    ("kind", "name", "default"),
    [
        (K.capacity_range, "small_scale_limit_kw", Decimal("15000")),  # SSC Type I, domain.md §1.6 [C]
        (K.capacity_range, "microscale_limit_kw", Decimal("5000")),  # [U]
        (K.capacity_range, "scale", Scale.small_scale),
        (K.debundling, "radius_m", Decimal("1000")),  # [U]
        (K.debundling, "lookback_years", None),  # [U], not in domain.md
        (K.no_double_counting, "nearby_radius_m", Decimal("100")),  # [U]
        (K.no_double_counting, "review_kinds", (ConflictKind.nearby_same_technology,)),
        (K.meter_accuracy, "min_meters", 1),
        (K.financial_support_declared, "require_oda_confirmation", True),
    ],
)
def test_documented_defaults(kind, name, default):
    (spec,) = [spec for spec in PARAMETERS[kind] if spec.name == name]
    assert spec.default == default


def test_effective_params_fill_in_defaults_and_keep_explicit_values():
    params = effective_params(PROGRAMME_CRITERIA[2])
    assert params == {
        "min_kw": Decimal("50"),
        "max_kw": Decimal("1000"),
        "scale": Scale.small_scale,
        "small_scale_limit_kw": Decimal("15000"),
        "microscale_limit_kw": Decimal("5000"),
    }


def test_a_valid_set_of_criteria_has_no_problems():
    assert validate_criteria(PROGRAMME_CRITERIA) == {}
    assert validate_criteria(criteria_to_data(PROGRAMME_CRITERIA)) == {}


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (K.technology_allowed, {}, "technologies is required"),
        (K.technology_allowed, {"technologies": "solar_pv"}, "technologies: expected a list of texts"),
        (K.technology_allowed, {"technologies": []}, "technologies: needs at least one item"),
        (K.technology_allowed, {"technologies": ["solar_pv", " "]}, "every item must be a non-empty text"),
        (K.capacity_range, {"max_kw": 15000.0}, "max_kw: expected a number written as text"),
        (K.capacity_range, {"max_kw": "15 MW"}, "max_kw: '15 MW' is not a number"),
        (K.capacity_range, {"min_kw": "-1"}, "min_kw: must be greater than zero"),
        (K.capacity_range, {"min_kw": "500", "max_kw": "100"}, "min_kw 500 is above max_kw 100"),
        (
            K.capacity_range,
            {"scale": "medium"},
            "scale: expected one of small_scale, microscale, large_scale",
        ),
        (K.capacity_range, {"scale": "large_scale"}, "set min_kw, max_kw or both"),
        (K.capacity_range, {"max_kws": "100"}, "unknown parameter 'max_kws'"),
        (K.commissioning_window, {}, "set not_before, not_after or both"),
        (K.commissioning_window, {"not_before": "01/02/2024"}, "expected a date such as 2025-03-31"),
        (
            K.commissioning_window,
            {"not_before": "2025-01-01", "not_after": "2024-01-01"},
            "is after not_after",
        ),
        (
            K.commissioning_window,
            {"not_before": "2024-01-01", "allow_future": "yes"},
            "expected true or false",
        ),
        (K.meter_accuracy, {"accepted_classes": ["0.2S"], "min_meters": 0}, "at least 1"),
        (K.no_double_counting, {"conflict_kinds": ["twin"]}, "unknown conflict kind 'twin'"),
        (K.no_double_counting, {"review_kinds": ["other_registry"]}, "other_registry is in both"),
        (K.no_double_counting, {"conflict_kinds": ["other_registry"]}, "permanent_exclusion must stay"),
        (K.no_double_counting, {"nearby_radius_m": "0"}, "nearby_radius_m: must be greater than zero"),
        (K.debundling, {"scale": "large_scale"}, "scale: expected one of small_scale, microscale"),
        (K.financial_support_declared, {"max_support_share": "50"}, "fraction between 0 and 1"),
    ],
)
def test_invalid_parameters_are_reported_under_the_code(kind, params, expected):
    problems = validate_criteria([Criterion("EC-07", "A criterion", kind, params)])
    assert list(problems) == ["EC-07"]
    assert any(expected in problem for problem in problems["EC-07"]), problems


def test_duplicate_codes_missing_fields_and_unknown_kinds_are_reported():
    problems = validate_criteria(
        [
            {"code": "EC-01", "description": "Boundary", "kind": "location_in_boundary"},
            {"code": "EC-01", "description": "Boundary again", "kind": "location_in_boundary"},
            {"code": "", "description": "No code", "kind": "location_in_boundary"},
            {"code": "EC-04 ", "description": "", "kind": "colour"},
            {"code": "EC-05", "description": "Bad params", "kind": "debundling", "params": ["radius_m"]},
            "EC-06",
        ]
    )
    assert problems == {
        "EC-01": ["the code EC-01 is used by 2 criteria"],
        "#3": ["the code is missing"],
        "EC-04": [
            "the code has spaces at either end",
            "the description is missing",
            f"unknown kind 'colour'; expected one of {', '.join(CriterionKind)}",
        ],
        "EC-05": ["params must be an object of named parameters"],
        "#6": ["not a criterion"],
    }


def test_criterion_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown criterion kind 'colour'"):
        Criterion("EC-01", "Colour", "colour")


def test_criterion_takes_the_typed_form_of_valid_params_and_keeps_invalid_ones_for_validation():
    criterion = Criterion("EC-03", "Size", "capacity_range", {"max_kw": "1000", "min_kw": 12.5})
    assert criterion.kind is K.capacity_range
    assert criterion.params == {"max_kw": Decimal("1000"), "min_kw": 12.5}
    with pytest.raises(TypeError):
        criterion.params["max_kw"] = Decimal("1")  # read-only


def test_criteria_round_trip_through_json():
    stored = json.loads(json.dumps(criteria_to_data(PROGRAMME_CRITERIA)))
    assert criteria_from_data(stored) == PROGRAMME_CRITERIA
    assert criteria_to_data(criteria_from_data(stored)) == stored


def test_stored_form_uses_strings_for_decimals_dates_and_enums():
    stored = criteria_to_data(PROGRAMME_CRITERIA)
    assert stored[2] == {
        "code": "EC-03",
        "description": "Small scale, 50 kW to 1 MW",
        "kind": "capacity_range",
        "params": {"min_kw": "50", "max_kw": "1000", "scale": "small_scale"},
    }
    assert stored[3]["params"] == {"not_before": "2024-01-01"}
    assert stored[7]["params"]["review_kinds"] == ["nearby_same_technology"]


def test_set_valued_params_are_stored_in_a_stable_order():
    criterion = Criterion(
        "EC-02", "Solar or wind", K.technology_allowed, {"technologies": {"wind", "solar_pv"}}
    )
    assert criteria_to_data([criterion])[0]["params"] == {"technologies": ["solar_pv", "wind"]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([{"code": "EC-01", "description": "x", "kind": "colour"}], "unknown criterion kind 'colour'"),
        ([{"code": "EC-01", "kind": "debundling"}], "needs a code and a description"),
        ([{"code": "EC-01", "description": "x", "kind": "debundling", "parms": {}}], "unknown fields: parms"),
        (
            [{"code": "EC-01", "description": "x", "kind": "debundling", "params": []}],
            "params must be an object",
        ),
        (["EC-01"], "is not an object"),
    ],
)
def test_malformed_stored_criteria_are_refused(data, expected):
    with pytest.raises(ValueError, match=expected):
        criteria_from_data(data)


def test_stored_criteria_with_bad_params_still_load_so_the_editor_can_show_them():
    (criterion,) = criteria_from_data(
        [{"code": "EC-03", "description": "Size", "kind": "capacity_range", "params": {"max_kw": "lots"}}]
    )
    assert validate_criteria([criterion]) == {"EC-03": ["max_kw: 'lots' is not a number"]}
