"""Published grid emission factors (tCO2/MWh) by country and year, and programme overrides."""

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from .base import ParameterError, RawValue, exact, to_decimal

# Viet Nam, announced by the Department of Climate Change (MONRE), computed with CDM Tool 07
# (domain.md §3.1). Values [C]: climatechange.vn "Viet Nam's 2023 updated grid emission factor";
# 2022 also in official letter No. 327/BĐKH-PTCBT. Whether each is the combined margin is [U].
# 2014 is the base year of Viet Nam's NDC; no 2024 value was known when domain.md was written.
_VIET_NAM: dict[int, Decimal] = {
    2014: Decimal("0.6612"),
    2015: Decimal("0.8154"),
    2016: Decimal("0.9185"),
    2017: Decimal("0.8649"),
    2018: Decimal("0.9130"),
    2019: Decimal("0.8458"),
    2020: Decimal("0.8041"),
    2021: Decimal("0.7221"),
    2022: Decimal("0.6766"),
    2023: Decimal("0.6592"),
}

PUBLISHED_GRID_EMISSION_FACTORS: Mapping[str, Mapping[int, Decimal]] = MappingProxyType(
    {"VN": MappingProxyType(_VIET_NAM)}
)

# Tool 07 combined-margin weights for wind and solar, all crediting periods (domain.md §3.1, [U]).
WIND_AND_SOLAR_OPERATING_MARGIN_WEIGHT = Decimal("0.75")
WIND_AND_SOLAR_BUILD_MARGIN_WEIGHT = Decimal("0.25")


# A programme's own factors by year; string keys and values as stored in JSON are accepted too.
Overrides = Mapping[int, RawValue] | Mapping[str, RawValue]


class UnknownGridEmissionFactor(LookupError):
    """No published value and no programme override for this country and year."""


def _country(country_code: str) -> str:
    return country_code.strip().upper()


def published_years(country_code: str) -> tuple[int, ...]:
    """Years with a published factor for an ISO 3166-1 alpha-2 country code (empty if none)."""
    return tuple(sorted(PUBLISHED_GRID_EMISSION_FACTORS.get(_country(country_code), {})))


def _override_year(key: object) -> int:
    # JSON object keys are always strings, so {"2024": "0.65"} must mean the year 2024.
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise ParameterError("grid emission factor override", f"{key!r} is not a year")


def normalise_overrides(overrides: Overrides | None) -> dict[int, Decimal]:
    """Programme overrides as {year: Decimal}, accepting the string keys and values JSON stores.

    Every entry is checked, so a malformed override fails loudly instead of being skipped in favour
    of the published value. Raises ParameterError (a ValueError) for a float, negative or bad entry.
    """
    normalised: dict[int, Decimal] = {}
    for key, raw in (overrides or {}).items():
        year = _override_year(key)
        name = f"grid emission factor override for {year}"
        if year in normalised:
            raise ParameterError(name, "given twice")
        value = to_decimal(name, raw)
        if value < 0:
            raise ParameterError(name, f"{value} is negative")
        normalised[year] = value
    return normalised


def grid_emission_factor(country_code: str, year: int, overrides: Overrides | None = None) -> Decimal:
    """EF_grid in tCO2/MWh for a country and year; a programme's own override for that year wins.

    There is deliberately no nearest-year fallback: domain.md §3.1 states no such rule, and a
    missing vintage (e.g. Viet Nam 2024) must be supplied as an override, fixed ex ante in the
    programme's design document.

    Raises UnknownGridEmissionFactor for a country/year with neither; ParameterError (a ValueError)
    for an override that is a float, negative or not a number.
    """
    # bool is an int subclass; True would silently mean year 1.
    if isinstance(year, bool) or not isinstance(year, int):
        raise TypeError(f"year must be an int, got {year!r}")
    programme_values = normalise_overrides(overrides)
    if year in programme_values:
        return programme_values[year]
    country = _country(country_code)
    table = PUBLISHED_GRID_EMISSION_FACTORS.get(country)
    if table is None:
        known = ", ".join(sorted(PUBLISHED_GRID_EMISSION_FACTORS))
        raise UnknownGridEmissionFactor(
            f"no published grid emission factors for country {country!r} (known: {known}); "
            f"give the programme an override for {year}"
        )
    if year not in table:
        raise UnknownGridEmissionFactor(
            f"no published grid emission factor for {country} in {year} "
            f"(published: {min(table)}-{max(table)}); give the programme an override for {year}"
        )
    return table[year]


@exact
def combined_margin_emission_factor(
    operating_margin_tco2_per_mwh: Decimal,
    build_margin_tco2_per_mwh: Decimal,
    *,
    operating_margin_weight: Decimal = WIND_AND_SOLAR_OPERATING_MARGIN_WEIGHT,
    build_margin_weight: Decimal = WIND_AND_SOLAR_BUILD_MARGIN_WEIGHT,
) -> Decimal:
    """Tool 07 step 6: EF_CM = w_OM × EF_OM + w_BM × EF_BM, in tCO2/MWh.

    The default weights 0.75/0.25 are those for wind and solar in all crediting periods; other
    sources use 0.5/0.5 in the first crediting period. Both are [U] in domain.md §3.1, hence
    parameters. The weights must add up to 1.
    """
    om = to_decimal("operating_margin_tco2_per_mwh", operating_margin_tco2_per_mwh)
    bm = to_decimal("build_margin_tco2_per_mwh", build_margin_tco2_per_mwh)
    w_om = to_decimal("operating_margin_weight", operating_margin_weight)
    w_bm = to_decimal("build_margin_weight", build_margin_weight)
    for name, value in (("operating_margin_tco2_per_mwh", om), ("build_margin_tco2_per_mwh", bm)):
        if value < 0:
            raise ParameterError(name, f"{value} is negative")
    for name, weight in (("operating_margin_weight", w_om), ("build_margin_weight", w_bm)):
        if not 0 <= weight <= 1:
            raise ParameterError(name, f"{weight} is outside 0..1")
    if w_om + w_bm != 1:
        raise ParameterError("build_margin_weight", f"weights {w_om} + {w_bm} do not add up to 1")
    return w_om * om + w_bm * bm
