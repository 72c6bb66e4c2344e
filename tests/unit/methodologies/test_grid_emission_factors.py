"""Viet Nam's published grid emission factors (domain.md §3.1) and programme overrides."""

from decimal import Decimal

import pytest

from poa_manager.methodologies.grid_emission_factors import (
    UnknownGridEmissionFactor,
    combined_margin_emission_factor,
    grid_emission_factor,
    normalise_overrides,
    published_years,
)

# The table of domain.md §3.1, tCO2/MWh.
VIET_NAM = {
    2014: "0.6612",
    2015: "0.8154",
    2016: "0.9185",
    2017: "0.8649",
    2018: "0.9130",
    2019: "0.8458",
    2020: "0.8041",
    2021: "0.7221",
    2022: "0.6766",
    2023: "0.6592",
}


@pytest.mark.parametrize(("year", "ef"), VIET_NAM.items())
def test_viet_nam_factor_is_the_published_value_when_no_override_exists(year, ef):
    assert grid_emission_factor("VN", year) == Decimal(ef)


def test_published_years_are_2014_to_2023_when_asking_for_viet_nam():
    assert published_years("vn") == tuple(range(2014, 2024))
    assert published_years("KH") == ()


def test_country_code_is_case_insensitive_when_looking_up():
    assert grid_emission_factor(" vn ", 2023) == Decimal("0.6592")


def test_programme_override_wins_when_it_covers_the_year():
    assert grid_emission_factor("VN", 2023, {2023: Decimal("0.6000")}) == Decimal("0.6000")
    assert grid_emission_factor("VN", 2022, {2023: Decimal("0.6000")}) == Decimal("0.6766")


def test_override_fills_a_year_with_no_published_value_when_given():
    assert grid_emission_factor("VN", 2024, {2024: Decimal("0.65")}) == Decimal("0.65")


def test_override_works_for_a_country_without_published_data_when_given():
    assert grid_emission_factor("KH", 2022, {2022: Decimal("0.5735")}) == Decimal("0.5735")


def test_json_style_overrides_are_accepted_when_keys_and_values_are_strings():
    assert grid_emission_factor("VN", 2023, {"2023": "0.61"}) == Decimal("0.61")
    assert normalise_overrides({"2024": "0.65", 2025: Decimal("0.64")}) == {
        2024: Decimal("0.65"),
        2025: Decimal("0.64"),
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {2023: 0.61},  # float
        {2023: "-0.1"},  # negative
        {2023: "n/a"},  # not a number
        {"twenty": "0.6"},  # not a year
        {2023: "0.6", "2023": "0.7"},  # the same year twice
    ],
)
def test_bad_override_is_refused_when_any_entry_is_malformed(overrides):
    with pytest.raises(ValueError, match="override"):
        grid_emission_factor("VN", 2020, overrides)


@pytest.mark.parametrize("year", [2013, 2024])
def test_unknown_year_raises_with_no_nearest_year_fallback_when_unpublished(year):
    with pytest.raises(UnknownGridEmissionFactor, match=f"VN in {year}.*override"):
        grid_emission_factor("VN", year)


def test_unknown_country_raises_a_lookup_error_when_nothing_is_published():
    with pytest.raises(LookupError, match="'KH'"):
        grid_emission_factor("KH", 2022)


def test_year_must_be_an_integer_when_looking_up():
    with pytest.raises(TypeError):
        grid_emission_factor("VN", "2023")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("om", "bm", "weights", "expected"),
    [
        ("0.8", "0.6", {}, "0.75"),  # wind/solar default 0.75/0.25 [U]
        ("0.8", "0.6", {"operating_margin_weight": "0.5", "build_margin_weight": "0.5"}, "0.70"),
    ],
)
def test_combined_margin_weights_operating_and_build_margins_when_computed(om, bm, weights, expected):
    weights = {key: Decimal(value) for key, value in weights.items()}
    assert combined_margin_emission_factor(Decimal(om), Decimal(bm), **weights) == Decimal(expected)


def test_combined_margin_refuses_weights_when_they_do_not_add_up_to_one():
    with pytest.raises(ValueError, match="add up to 1"):
        combined_margin_emission_factor(
            Decimal("0.8"),
            Decimal("0.6"),
            operating_margin_weight=Decimal("0.6"),
            build_margin_weight=Decimal("0.6"),
        )
