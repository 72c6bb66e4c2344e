"""Meter data quality rules of domain.md §7, with hand-computed numbers."""

from datetime import date
from decimal import Decimal

import pytest

from poa_manager.monitoring import data_quality as dq
from poa_manager.monitoring.data_quality import Calibration, GapFill, QualityFlag, RegisterDelta

D = Decimal


def test_role_sets_are_disjoint_and_cover_the_four_meter_roles():
    assert not dq.METER_ROLES_INCREASING & dq.METER_ROLES_DECREASING
    assert dq.METER_ROLES_INCREASING | dq.METER_ROLES_DECREASING == {
        "export",
        "generation",
        "import",
        "consumption",
    }


def test_reading_rollover_flag_is_a_single_bit_of_the_flags_column():
    assert dq.READING_FLAG_ROLLOVER == 1


# --- Maximum permissible error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracy_class", "override_percent", "fraction"),
    [
        ("0.2S", None, D("0.002")),  # domain.md §7: 0.2 % for class 0.2S
        ("0.2s", None, D("0.002")),  # class written in lower case on a form
        (" 0.5S ", None, D("0.005")),
        ("0.5", None, D("0.005")),
        ("1", None, D("0.01")),
        ("2.0", None, D("0.02")),
        ("0.2S", D("0.5"), D("0.005")),  # the meter's own MPE wins over its class
        (None, D("1"), D("0.01")),
        ("3", None, None),  # not in the table: unknown
        (None, None, None),
    ],
)
def test_max_permissible_error_fraction_by_class_or_override(accuracy_class, override_percent, fraction):
    assert dq.max_permissible_error_fraction(accuracy_class, override_percent) == fraction


def test_max_permissible_error_override_refuses_a_negative_percentage():
    with pytest.raises(ValueError, match="negative"):
        dq.max_permissible_error_fraction("0.2S", D("-0.2"))


# --- Registers and rollover ----------------------------------------------------------------------

# A 6-digit kWh register: modulus 10^6 kWh = 10^9 Wh.
SIX_DIGIT_KWH_MODULUS_WH = 10**6 * 1000


@pytest.mark.parametrize(
    ("previous", "current", "modulus", "max_plausible", "expected"),
    [
        (1_000, 1_500, None, None, RegisterDelta(500, False)),  # forward: no modulus needed
        (1_000, 1_000, None, None, RegisterDelta(0, False)),
        # 999,990 kWh → 000,010 kWh: 10 + 1,000,000 − 999,990 = 20 kWh = 20,000 Wh;
        # a 100 kW site can deliver 100 kWh in one hour, so it is plausible.
        (999_990_000, 10_000, SIX_DIGIT_KWH_MODULUS_WH, 100_000, RegisterDelta(20_000, True)),
        (999_990_000, 10_000, SIX_DIGIT_KWH_MODULUS_WH, 20_000, RegisterDelta(20_000, True)),  # bound is ≤
        # A 1 kW site delivers at most 1 kWh = 1,000 Wh in an hour: 20 kWh is a fault, not a wrap.
        (999_990_000, 10_000, SIX_DIGIT_KWH_MODULUS_WH, 1_000, None),
        (999_990_000, 10_000, SIX_DIGIT_KWH_MODULUS_WH, None, None),  # plausibility unknown: refused
        (5_000, 4_000, None, 100_000, None),  # backwards without a modulus: refused
        # A previous reading above 10^digits: the digits on record are wrong, not a wrap.
        (SIX_DIGIT_KWH_MODULUS_WH + 5, 10, SIX_DIGIT_KWH_MODULUS_WH, 10**12, None),
    ],
)
def test_register_delta(previous, current, modulus, max_plausible, expected):
    result = dq.register_delta(previous, current, modulus_wh=modulus, max_plausible_wh=max_plausible)
    assert result == expected


def test_register_delta_unpacks_as_energy_and_rollover():
    energy_wh, rolled_over = dq.register_delta(
        999_990_000, 10_000, modulus_wh=SIX_DIGIT_KWH_MODULUS_WH, max_plausible_wh=100_000
    )
    assert (energy_wh, rolled_over) == (20_000, True)


def test_register_delta_refuses_negative_readings():
    with pytest.raises(ValueError, match="negative"):
        dq.register_delta(-1, 10, modulus_wh=None, max_plausible_wh=None)


@pytest.mark.parametrize(
    ("capacity_kw", "duration_s", "tolerance", "expected_wh"),
    [
        (D(100), 3600, D(1), 100_000),  # 100 kW × 1 h
        (D(1), 3600, D(1), 1_000),  # 1 kW × 1 h
        (D("0.5"), 900, D(1), 125),  # 0.5 kW × 0.25 h = 0.125 kWh
        (D("1.5"), 7, D(1), 2),  # 1,500 W × 7/3600 h = 2.916… Wh → 2 (down)
        (D(100), 3600, D("1.1"), 110_000),  # 10 % headroom over the nameplate
        (D(0), 3600, D(1), 0),
        (None, 3600, D(1), None),  # capacity unknown: no bound
    ],
)
def test_max_interval_energy_wh(capacity_kw, duration_s, tolerance, expected_wh):
    assert dq.max_interval_energy_wh(capacity_kw, duration_s, tolerance) == expected_wh


def test_max_interval_energy_is_the_plausibility_bound_of_a_rollover():
    # 100 kW site, hourly readings: bound 100,000 Wh, so the 20,000 Wh wrap is accepted.
    bound = dq.max_interval_energy_wh(D(100), 3600)
    delta = dq.register_delta(
        999_990_000, 10_000, modulus_wh=SIX_DIGIT_KWH_MODULUS_WH, max_plausible_wh=bound
    )
    assert delta == RegisterDelta(20_000, True)


# --- Calibration ---------------------------------------------------------------------------------


def _cal(first: str, last: str, error: str | None = None) -> Calibration:
    return Calibration(
        date.fromisoformat(first), date.fromisoformat(last), None if error is None else D(error)
    )


def _days(*pairs: tuple[str, str]) -> list[tuple[date, date]]:
    return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in pairs]


YEAR_2023 = (date(2023, 1, 1), date(2023, 12, 31))


@pytest.mark.parametrize(
    ("calibrations", "expected"),
    [
        ([], _days(("2023-01-01", "2023-12-31"))),  # never calibrated: all lapsed
        ([_cal("2022-06-01", "2024-05-31")], []),  # fully covered
        # Expired 31 March, recalibrated late on 10 May: 1 April..9 May lapsed.
        (
            [_cal("2022-04-01", "2023-03-31"), _cal("2023-05-10", "2024-05-09")],
            _days(("2023-04-01", "2023-05-09")),
        ),
        # Same, given in reverse order: sorted before use.
        (
            [_cal("2023-05-10", "2024-05-09"), _cal("2022-04-01", "2023-03-31")],
            _days(("2023-04-01", "2023-05-09")),
        ),
        # Overlapping certificates merge; the lapse starts after the later expiry.
        (
            [_cal("2022-07-01", "2023-06-30"), _cal("2023-03-01", "2023-08-31")],
            _days(("2023-09-01", "2023-12-31")),
        ),
        # Back-to-back certificates leave no gap.
        ([_cal("2022-07-01", "2023-06-30"), _cal("2023-07-01", "2024-06-30")], []),
        # First calibrated in mid-February: January and early February are lapsed.
        ([_cal("2023-02-15", "2024-02-14")], _days(("2023-01-01", "2023-02-14"))),
        # Two gaps.
        (
            [_cal("2023-01-01", "2023-01-31"), _cal("2023-03-01", "2023-03-31")],
            _days(("2023-02-01", "2023-02-28"), ("2023-04-01", "2023-12-31")),
        ),
        # Certificates wholly before or after the window do not count.
        (
            [_cal("2021-01-01", "2022-06-30"), _cal("2024-01-01", "2024-12-31")],
            _days(("2023-01-01", "2023-12-31")),
        ),
        # Recalibrated only in March of the next year: the lapse still stops at the window's end.
        ([_cal("2024-03-01", "2025-02-28")], _days(("2023-01-01", "2023-12-31"))),
        # A certificate nested inside another changes nothing.
        (
            [_cal("2022-12-01", "2023-11-30"), _cal("2023-02-01", "2023-03-01")],
            _days(("2023-12-01", "2023-12-31")),
        ),
    ],
)
def test_lapsed_days_over_a_year(calibrations, expected):
    assert dq.lapsed_days(calibrations, *YEAR_2023) == expected


@pytest.mark.parametrize(
    ("calibrations", "expected"),
    [
        ([_cal("2023-06-15", "2023-06-15")], []),  # valid on its only day: ends are inclusive
        ([_cal("2023-06-16", "2024-06-15")], _days(("2023-06-15", "2023-06-15"))),
        ([_cal("2022-06-15", "2023-06-14")], _days(("2023-06-15", "2023-06-15"))),
    ],
)
def test_lapsed_days_of_a_single_day_window(calibrations, expected):
    assert dq.lapsed_days(calibrations, date(2023, 6, 15), date(2023, 6, 15)) == expected


def test_lapsed_days_refuses_a_window_that_ends_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        dq.lapsed_days([], date(2023, 2, 1), date(2023, 1, 31))


def test_calibration_refuses_a_validity_that_ends_before_the_calibration():
    with pytest.raises(ValueError, match="before"):
        _cal("2023-05-10", "2023-05-09")


HISTORY = [
    _cal("2022-04-01", "2023-03-31"),
    _cal("2023-05-10", "2024-05-09", "0.35"),  # the delayed calibration ending the 2023 lapse
    _cal("2024-06-01", "2025-05-31", "-0.1"),
]


@pytest.mark.parametrize(
    ("lapse_end", "expected"),
    [
        (date(2023, 5, 9), D("0.35")),
        (date(2024, 5, 31), D("-0.1")),
        (date(2025, 12, 31), None),  # not recalibrated yet
        (date(2022, 3, 31), None),  # the next calibration recorded no error
    ],
)
def test_delayed_calibration_error_is_the_first_calibration_after_the_lapse(lapse_end, expected):
    assert dq.delayed_calibration_error_percent(HISTORY, lapse_end) == expected


# 1,350 MWh (domain.md §3.1 worked example) measured while a class 0.2S meter was out of calibration.
LAPSED_WH = 1_350_000_000


@pytest.mark.parametrize(
    ("energy_wh", "role", "mpe", "found", "beyond", "expected"),
    [
        # 1,350,000,000 Wh × 0.002 = 2,700,000 Wh off the export side.
        (LAPSED_WH, "export", D("0.002"), None, True, D(-2_700_000)),
        (LAPSED_WH, "generation", D("0.002"), None, True, D(-2_700_000)),
        # Import under-reading would overstate net export: 1,000,000,000 × 0.002 = +2,000,000 Wh.
        (1_000_000_000, "import", D("0.002"), None, True, D(2_000_000)),
        (1_000_000_000, "consumption", D("0.002"), None, True, D(2_000_000)),
        # Found 0.5 % at the delayed calibration, beyond the MPE: 1,350,000,000 × 0.005 = 6,750,000.
        (LAPSED_WH, "export", D("0.002"), D("0.5"), True, D(-6_750_000)),
        (LAPSED_WH, "export", D("0.002"), D("-0.5"), True, D(-6_750_000)),  # sign ignored: conservative
        (1_000_000_000, "import", D("0.002"), D("-0.5"), True, D(5_000_000)),
        # Found 0.1 %, within the MPE: the MPE applies.
        (LAPSED_WH, "export", D("0.002"), D("0.1"), True, D(-2_700_000)),
        # Rule switched off: the MPE applies whatever was found.
        (LAPSED_WH, "export", D("0.002"), D("0.5"), False, D(-2_700_000)),
        # Unknown class: the 2 % fallback, 1,350,000,000 × 0.02 = 27,000,000.
        (LAPSED_WH, "export", None, None, True, D(-27_000_000)),
        # Unknown class and 3 % found: 1,350,000,000 × 0.03 = 40,500,000.
        (LAPSED_WH, "export", None, D("3"), True, D(-40_500_000)),
        # Exact, never rounded: 1,234,567 × 0.002 = 2,469.134.
        (1_234_567, "export", D("0.002"), None, True, D("-2469.134")),
        (0, "export", D("0.002"), None, True, D(0)),
    ],
)
def test_calibration_adjustment_wh(energy_wh, role, mpe, found, beyond, expected):
    adjustment = dq.calibration_adjustment_wh(
        energy_wh, role, mpe, error_found_percent=found, apply_found_error_beyond_mpe=beyond
    )
    assert adjustment == expected
    assert isinstance(adjustment, Decimal)


def test_calibration_adjustment_of_a_0_2s_meter_uses_its_class_mpe():
    mpe = dq.max_permissible_error_fraction("0.2S")
    assert dq.calibration_adjustment_wh(LAPSED_WH, "export", mpe) == D(-2_700_000)


@pytest.mark.parametrize(("energy_wh", "role"), [(100, "backup"), (-1, "export")])
def test_calibration_adjustment_refuses_unknown_roles_and_negative_energy(energy_wh, role):
    with pytest.raises(ValueError):
        dq.calibration_adjustment_wh(energy_wh, role, D("0.002"))


# --- Completeness --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("covered_s", "window_s", "percent"),
    [
        (0, 86_400, D("0.00")),
        (86_400, 86_400, D("100.00")),
        (43_200, 86_400, D("50.00")),
        (1, 3, D("33.33")),
        (2, 3, D("66.66")),  # 66.666… truncated, not rounded to 66.67
        (94_999, 100_000, D("94.99")),  # stays below a 95 % threshold
        (0, 0, D(100)),  # empty window: nothing missing
    ],
)
def test_completeness_percent(covered_s, window_s, percent):
    result = dq.completeness_percent(covered_s, window_s)
    assert result == percent
    assert result.as_tuple().exponent == percent.as_tuple().exponent


def test_completeness_below_the_default_threshold_when_one_day_in_twenty_is_missing():
    # 19 of 20 days covered = 95.00 %: exactly at the threshold; one hour less falls below.
    assert dq.completeness_percent(19 * 86_400, 20 * 86_400) == dq.COMPLETENESS_THRESHOLD_PERCENT
    assert dq.completeness_percent(19 * 86_400 - 3_600, 20 * 86_400) < dq.COMPLETENESS_THRESHOLD_PERCENT


@pytest.mark.parametrize(("covered_s", "window_s"), [(86_401, 86_400), (-1, 10), (0, -1)])
def test_completeness_refuses_inconsistent_durations(covered_s, window_s):
    with pytest.raises(ValueError):
        dq.completeness_percent(covered_s, window_s)


# --- Gap filling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "gap_s", "method", "lowest", "highest", "expected_wh"),
    [
        ("export", 3_600, GapFill.none, 500, 900, 0),  # the gap earns nothing
        ("export", 3_600, GapFill.lowest_rate, 500, 900, 500),  # 1 h × 500 Wh/h
        ("generation", 5_400, GapFill.lowest_rate, 333, 900, 499),  # 1.5 h × 333 = 499.5 → 499 (down)
        ("export", 3_600, GapFill.lowest_rate, None, 900, 0),  # no rate known: nothing
        ("export", 0, GapFill.lowest_rate, 500, 900, 0),
        # Import is charged at the highest rate whatever the method: 1 h × 900 Wh/h.
        ("import", 3_600, GapFill.none, 500, 900, 900),
        ("import", 5_400, GapFill.lowest_rate, 100, 333, 500),  # 1.5 h × 333 = 499.5 → 500 (up)
        ("consumption", 5_400, GapFill.none, 100, 333, 500),
        ("import", 3_600, GapFill.none, 500, None, None),  # cannot fill: the line must earn nothing
        ("import", 0, GapFill.none, None, None, 0),  # no gap, nothing to fill
    ],
)
def test_gap_fill_wh(role, gap_s, method, lowest, highest, expected_wh):
    filled = dq.gap_fill_wh(
        role, gap_s, method=method, lowest_rate_wh_per_h=lowest, highest_rate_wh_per_h=highest
    )
    assert filled == expected_wh


@pytest.mark.parametrize(
    ("role", "gap_s", "lowest"), [("spare", 60, 1), ("export", -1, 1), ("export", 60, -1)]
)
def test_gap_fill_refuses_unknown_roles_and_negative_figures(role, gap_s, lowest):
    with pytest.raises(ValueError):
        dq.gap_fill_wh(
            role, gap_s, method=GapFill.lowest_rate, lowest_rate_wh_per_h=lowest, highest_rate_wh_per_h=1
        )


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        # 1,000 Wh/h; 250 Wh in 15 min = 1,000 Wh/h; 1 Wh in 7 s = 514.28… Wh/h → 514 down, 515 up.
        ([(1_000, 3_600), (250, 900), (1, 7)], (514, 1_000)),
        ([(1, 7)], (514, 515)),
        ([(2_000, 3_600), (0, 3_600)], (0, 2_000)),
        ([(5, 0)], None),  # zero-length intervals carry no rate
        ([], None),
    ],
)
def test_observed_rates_round_lowest_down_and_highest_up(intervals, expected):
    assert dq.observed_rates_wh_per_h(intervals) == expected


# --- Flags ---------------------------------------------------------------------------------------


def test_quality_flag_codes_are_the_stored_values():
    assert [flag.value for flag in QualityFlag] == [
        "low_completeness",
        "calibration_lapsed",
        "rollover",
        "gap_filled",
        "import_gap_filled",
        "no_import_data",
        "net_import",
        "discrepancy",
    ]


@pytest.mark.parametrize("flag", list(QualityFlag))
def test_every_quality_flag_has_a_short_sentence_as_label(flag):
    assert flag.label.endswith(".") and flag.label[0].isupper()
    assert len(flag.label) <= 80


def test_ordered_flags_removes_duplicates_and_follows_the_enum_order():
    merged = dq.ordered_flags(["net_import", QualityFlag.rollover, "low_completeness", "rollover"])
    assert merged == ("low_completeness", "rollover", "net_import")
    assert all(type(flag) is str for flag in merged)


def test_ordered_flags_refuses_an_unknown_flag():
    with pytest.raises(ValueError, match="typo"):
        dq.ordered_flags(["typo"])
