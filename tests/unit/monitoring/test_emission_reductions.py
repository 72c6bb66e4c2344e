"""Monitoring lines: crediting windows, site activity, parameter sources and ER (domain.md §3, §7)."""

from datetime import date
from decimal import Decimal

import pytest

from poa_manager.methodologies import get_methodology
from poa_manager.methodologies.base import ParameterError
from poa_manager.monitoring import emission_reductions as er
from poa_manager.monitoring.emission_reductions import CreditWindow, MeterActivity, MissingParameter

D = Decimal
AMS_I_D = get_methodology("AMS-I.D")
VN_AM007 = get_methodology("JCM_VN_AM007")
TRANSFORMERS = get_methodology("JCM_VN_AMORPHOUS_TRANSFORMERS")
LIGHTING = get_methodology("AMS-II.J")

YEAR_2023 = CreditWindow(date(2023, 1, 1), date(2023, 12, 31))
YEAR_2022 = CreditWindow(date(2022, 1, 1), date(2022, 12, 31))


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _windows(*pairs: tuple[str, str]) -> list[CreditWindow]:
    return [CreditWindow(_d(a), _d(b)) for a, b in pairs]


# --- Crediting windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "crediting", "expected"),
    [
        # Crediting since 2020, still open: the whole period.
        (("2023-01-01", "2023-12-31"), ("2020-01-01", None), _windows(("2023-01-01", "2023-12-31"))),
        # Joined mid-period: credited from its crediting start only.
        (("2023-01-01", "2023-12-31"), ("2023-04-15", None), _windows(("2023-04-15", "2023-12-31"))),
        # Left mid-period (crediting ended 30 June, inclusive).
        (("2023-01-01", "2023-12-31"), ("2020-01-01", "2023-06-30"), _windows(("2023-01-01", "2023-06-30"))),
        # Joined and left inside the period.
        (("2023-01-01", "2023-12-31"), ("2023-03-01", "2023-03-31"), _windows(("2023-03-01", "2023-03-31"))),
        # A period across New Year: one window per vintage.
        (
            ("2023-07-01", "2024-06-30"),
            ("2020-01-01", None),
            _windows(("2023-07-01", "2023-12-31"), ("2024-01-01", "2024-06-30")),
        ),
        (
            ("2022-12-01", "2024-01-31"),
            ("2022-12-15", None),
            _windows(
                ("2022-12-15", "2022-12-31"), ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-01-31")
            ),
        ),
        # Crediting ends on the period's first day: a one-day window.
        (("2023-01-01", "2023-12-31"), ("2020-01-01", "2023-01-01"), _windows(("2023-01-01", "2023-01-01"))),
        # No overlap: starts after, or ended before, the period.
        (("2023-01-01", "2023-12-31"), ("2024-01-01", None), []),
        (("2023-01-01", "2023-12-31"), ("2020-01-01", "2022-12-31"), []),
        (("2023-01-01", "2023-06-30"), ("2023-09-01", "2023-10-31"), []),  # same year, after the period
        # Not included yet: no crediting start, no credits.
        (("2023-01-01", "2023-12-31"), (None, None), []),
    ],
)
def test_credit_windows(period, crediting, expected):
    start, end = crediting
    windows = er.credit_windows(_d(period[0]), _d(period[1]), start and _d(start), end and _d(end))
    assert windows == expected


@pytest.mark.parametrize(
    ("window", "days", "vintage"),
    [
        (YEAR_2023, 365, 2023),
        (CreditWindow(_d("2024-01-01"), _d("2024-12-31")), 366, 2024),  # leap year
        (CreditWindow(_d("2023-04-15"), _d("2023-12-31")), 261, 2023),  # 365 − (31 + 28 + 31 + 14)
        (CreditWindow(_d("2023-07-01"), _d("2023-12-31")), 184, 2023),
        (CreditWindow(_d("2023-06-15"), _d("2023-06-15")), 1, 2023),
    ],
)
def test_credit_window_days_and_vintage(window, days, vintage):
    assert (window.days, window.vintage) == (days, vintage)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2023-02-01", "2023-01-31", "before it starts"), ("2023-12-01", "2024-01-31", "two calendar years")],
)
def test_credit_window_refuses_inverted_or_multi_year_ranges(start, end, message):
    with pytest.raises(ValueError, match=message):
        CreditWindow(_d(start), _d(end))


def test_credit_windows_refuse_an_inverted_monitoring_period():
    with pytest.raises(ValueError, match="before it starts"):
        er.credit_windows(_d("2023-12-31"), _d("2023-01-01"), _d("2020-01-01"), None)


# --- Metered activity ----------------------------------------------------------------------------


def test_metered_parameters_name_monitored_parameters_of_their_methodologies():
    assert dict(er.METERED_PARAMETERS) == {
        "AMS-I.D": ("net_electricity_mwh", True),
        "JCM_VN_AM007": ("electricity_supplied_mwh", False),
    }
    for code, metered in er.METERED_PARAMETERS.items():
        assert get_methodology(code).parameter(metered.name).monitored


@pytest.mark.parametrize(
    ("name", "methodology"), [("hours_energised_h", TRANSFORMERS), ("operating_days_d", LIGHTING)]
)
def test_window_length_parameters_exist_in_their_methodologies(name, methodology):
    assert name in er.WINDOW_LENGTH_PARAMETERS
    assert methodology.parameter(name).default is not None  # the yearly default the window replaces


def _meter(role: str, energy_wh: int, adjustment_wh: str = "0", filled_wh: int = 0, meter_id: int = 1):
    return MeterActivity(meter_id, role, energy_wh, D(adjustment_wh), filled_wh)


@pytest.mark.parametrize(
    ("meters", "nets_import", "export_wh", "import_wh", "net_wh", "counted_wh", "flags"),
    [
        # domain.md §3.1: 1,350 MWh exported, no import meter: not deducted, and flagged.
        (
            [_meter("export", 1_350_000_000)],
            True,
            1_350_000_000,
            0,
            1_350_000_000,
            1_350_000_000,
            ("no_import_data",),
        ),
        # 1,400 MWh exported − 50 MWh imported = 1,350 MWh net.
        (
            [_meter("export", 1_400_000_000), _meter("import", 50_000_000, meter_id=2)],
            True,
            1_400_000_000,
            50_000_000,
            1_350_000_000,
            1_350_000_000,
            (),
        ),
        # Imported more than exported: 10,000 − 30,000 = −20,000 Wh, counted as 0.
        (
            [_meter("export", 10_000), _meter("import", 30_000, meter_id=2)],
            True,
            10_000,
            30_000,
            -20_000,
            0,
            ("net_import",),
        ),
        # Lapsed 0.2S export meter: 1,350,000,000 − 2,700,000 = 1,347,300,000 Wh; import +2,000 Wh.
        (
            [_meter("export", 1_350_000_000, "-2700000"), _meter("import", 1_000_000, "2000", meter_id=2)],
            True,
            1_347_300_000,
            1_002_000,
            1_346_298_000,
            1_346_298_000,
            ("calibration_lapsed",),
        ),
        # Gaps filled on both sides: export 1,000 + 100 filled; import 200 + 50 filled (at the highest rate).
        (
            [_meter("export", 1_000, filled_wh=100), _meter("import", 200, filled_wh=50, meter_id=2)],
            True,
            1_100,
            250,
            850,
            850,
            ("gap_filled", "import_gap_filled"),
        ),
        # Two export meters add up: 600 + 400.
        (
            [_meter("export", 600), _meter("export", 400, meter_id=2), _meter("import", 0, meter_id=3)],
            True,
            1_000,
            0,
            1_000,
            1_000,
            (),
        ),
        # Net export (AMS-I.D) reads the export meter; a generation check meter is not added on top.
        (
            [
                _meter("export", 900),
                _meter("generation", 1_000, meter_id=2),
                _meter("import", 100, meter_id=3),
            ],
            True,
            900,
            100,
            800,
            800,
            (),
        ),
        # Without an export meter, generation stands in for it.
        ([_meter("generation", 1_000), _meter("import", 100, meter_id=2)], True, 1_000, 100, 900, 900, ()),
        # Output (VN_AM007) reads the generation meter; imports and the export meter are not counted.
        (
            [
                _meter("export", 900),
                _meter("generation", 1_000, meter_id=2),
                _meter("import", 100, meter_id=3),
            ],
            False,
            1_000,
            0,
            1_000,
            1_000,
            (),
        ),
        # Output without a generation meter: the export meter alone (misses on-site use: conservative).
        ([_meter("export", 900), _meter("import", 100, meter_id=2)], False, 900, 0, 900, 900, ()),
        # Consumption meters measure the load: ignored.
        (
            [_meter("export", 900), _meter("consumption", 5_000, meter_id=2)],
            True,
            900,
            0,
            900,
            900,
            ("no_import_data",),
        ),
        # No meters at all.
        ([], True, 0, 0, 0, 0, ("no_import_data",)),
        ([], False, 0, 0, 0, 0, ()),
    ],
)
def test_site_activity(meters, nets_import, export_wh, import_wh, net_wh, counted_wh, flags):
    activity = er.site_activity(meters, nets_import=nets_import)
    assert (activity.export_wh, activity.import_wh, activity.net_wh, activity.counted_wh) == (
        export_wh,
        import_wh,
        net_wh,
        counted_wh,
    )
    assert activity.flags == flags


@pytest.mark.parametrize(
    ("energy_wh", "mwh"),
    [(1, D("0.000001")), (1_347_300_000, D("1347.3")), (D("2469.134"), D("0.002469134")), (0, D(0))],
)
def test_wh_to_mwh_is_exact(energy_wh, mwh):
    assert er.wh_to_mwh(energy_wh) == mwh


# --- Parameter resolution ------------------------------------------------------------------------


def _resolve(methodology=AMS_I_D, *, window=YEAR_2023, metered="1350", facts=None, plan=None, overrides=None):
    return er.resolve_parameters(
        methodology,
        window=window,
        metered_mwh=None if metered is None else D(metered),
        site_facts=facts or {},
        plan_values=plan or {},
        host_country="vn",
        ef_overrides=overrides,
    )


def test_ams_i_d_parameters_come_from_meters_the_published_ef_and_defaults():
    values, sources = _resolve()
    assert values == {
        "net_electricity_mwh": D(1350),
        "grid_emission_factor_tco2_per_mwh": D("0.6592"),  # Viet Nam 2023
        "project_emissions_tco2e": D(0),
        "leakage_tco2e": D(0),
    }
    assert sources == {
        "net_electricity_mwh": "meter readings",
        "grid_emission_factor_tco2_per_mwh": "grid emission factor VN 2023 (published)",
        "project_emissions_tco2e": "methodology default",
        "leakage_tco2e": "methodology default",
    }


EF = "grid_emission_factor_tco2_per_mwh"


@pytest.mark.parametrize(
    ("facts", "plan", "overrides", "value", "source"),
    [
        ({EF: "0.7"}, {EF: "0.65"}, {"2023": "0.6"}, "0.7", "site record"),
        ({}, {EF: "0.65"}, {"2023": "0.6"}, "0.65", "monitoring plan"),
        ({EF: None}, {EF: "0.65"}, None, "0.65", "monitoring plan"),  # an empty site field is not given
        ({}, {}, {"2023": "0.6"}, "0.6", "grid emission factor VN 2023 (programme override)"),
        (
            {},
            {},
            {"2022": "0.6"},
            "0.6592",
            "grid emission factor VN 2023 (published)",
        ),  # other year's override
        ({}, {}, None, "0.6592", "grid emission factor VN 2023 (published)"),
    ],
)
def test_grid_emission_factor_precedence(facts, plan, overrides, value, source):
    values, sources = _resolve(facts=facts, plan=plan, overrides=overrides)
    assert (values[EF], sources[EF]) == (D(value), source)


def test_grid_emission_factor_follows_the_window_vintage():
    values, sources = _resolve(window=YEAR_2022)
    assert values[EF] == D("0.6766")
    assert sources[EF] == "grid emission factor VN 2022 (published)"


def test_metered_parameter_comes_only_from_meters_even_when_the_site_or_plan_has_a_value():
    values, sources = _resolve(facts={"net_electricity_mwh": "9999"}, plan={"net_electricity_mwh": "8888"})
    assert (values["net_electricity_mwh"], sources["net_electricity_mwh"]) == (D(1350), "meter readings")


def test_metered_parameter_without_readings_is_missing_even_when_the_plan_has_an_estimate():
    with pytest.raises(MissingParameter, match="net_electricity_mwh") as raised:
        _resolve(metered=None, plan={"net_electricity_mwh": "1350"})
    assert raised.value.name == "net_electricity_mwh"
    assert isinstance(raised.value, ValueError)


def test_site_record_supplies_non_default_values_over_the_methodology_default():
    values, sources = _resolve(facts={"project_emissions_tco2e": "12.5"})
    assert (values["project_emissions_tco2e"], sources["project_emissions_tco2e"]) == (
        D("12.5"),
        "site record",
    )


def test_unknown_vintage_without_override_is_a_missing_parameter():
    window_2024 = CreditWindow(_d("2024-01-01"), _d("2024-12-31"))
    with pytest.raises(MissingParameter, match="override for 2024") as raised:
        _resolve(window=window_2024)
    assert raised.value.name == EF


def test_vn_am007_reference_factor_is_never_filled_with_the_grid_factor():
    # It is a conservative value below the grid's (§3.1): only the plan or the site may supply it.
    with pytest.raises(MissingParameter, match="reference_emission_factor_tco2_per_mwh"):
        _resolve(VN_AM007)
    values, sources = _resolve(VN_AM007, plan={"reference_emission_factor_tco2_per_mwh": "0.6"})
    assert values == {"electricity_supplied_mwh": D(1350), "reference_emission_factor_tco2_per_mwh": D("0.6")}
    assert sources["reference_emission_factor_tco2_per_mwh"] == "monitoring plan"


TRANSFORMER_SITE = {
    "transformer_count": 200,
    "no_load_loss_reference_kw": "0.530",
    "no_load_loss_project_kw": "0.160",
}
H1_2023 = CreditWindow(_d("2023-01-01"), _d("2023-06-30"))  # 181 days = 4,344 h


@pytest.mark.parametrize(
    ("window", "facts", "hours", "source"),
    [
        (YEAR_2023, {}, 8_760, "window length"),  # 365 × 24
        (H1_2023, {}, 4_344, "window length"),  # 181 × 24
        (CreditWindow(_d("2024-01-01"), _d("2024-12-31")), {}, 8_784, "window length"),  # leap: 366 × 24
        (H1_2023, {"hours_energised_h": "4000"}, 4_000, "site record"),  # outages recorded
        (H1_2023, {"hours_energised_h": "4344"}, 4_344, "site record"),  # exactly the window
    ],
)
def test_hours_energised_default_to_the_window_length(window, facts, hours, source):
    values, sources = _resolve(
        TRANSFORMERS, window=window, metered=None, facts=TRANSFORMER_SITE | facts, overrides={"2024": "0.65"}
    )
    assert (values["hours_energised_h"], sources["hours_energised_h"]) == (D(hours), source)


def test_hours_energised_longer_than_the_window_are_refused():
    # A yearly 8,760 h on the site record would credit a half-year window for a whole year.
    with pytest.raises(ParameterError, match="exceeds the window's 4344"):
        _resolve(
            TRANSFORMERS, window=H1_2023, metered=None, facts=TRANSFORMER_SITE | {"hours_energised_h": 8760}
        )


LAMPS = {"lamp_count": 10_000, "baseline_lamp_power_w": 60, "project_lamp_power_w": 9}


@pytest.mark.parametrize(
    ("window", "days"),
    [(YEAR_2023, 365), (H1_2023, 181), (CreditWindow(_d("2023-12-31"), _d("2023-12-31")), 1)],
)
def test_lighting_operating_days_default_to_the_window_days(window, days):
    values, sources = _resolve(LIGHTING, window=window, metered=None, facts=LAMPS)
    assert (values["operating_days_d"], sources["operating_days_d"]) == (D(days), "window length")
    assert sources["operating_hours_per_day_h"] == "methodology default"


def test_required_parameter_without_any_source_is_missing_with_its_description():
    with pytest.raises(MissingParameter, match="no_load_loss_project_kw") as raised:
        _resolve(TRANSFORMERS, metered=None, facts={"no_load_loss_reference_kw": "0.53"})
    assert "factory test certificate" in raised.value.description


def test_float_site_facts_are_refused():
    with pytest.raises(ParameterError, match="float"):
        _resolve(facts={EF: 0.6592})


# --- Lines ---------------------------------------------------------------------------------------


def _line(methodology, *, window=YEAR_2023, activity=None, facts=None, plan=None, overrides=None):
    return er.compute_line(
        methodology,
        window=window,
        activity=activity,
        site_facts=facts or {},
        plan_values=plan or {},
        host_country="VN",
        ef_overrides=overrides,
    )


EXPORT_1350_MWH = er.site_activity([_meter("export", 1_350_000_000)], nets_import=True)


@pytest.mark.parametrize(
    ("window", "ef", "exact_er", "credits"),
    [
        (YEAR_2023, "0.6592", "889.92", 889),  # domain.md §3.1: 1,350 × 0.6592 = 889.92 → 889
        (YEAR_2022, "0.6766", "913.41", 913),  # 1,350 × 0.6766 = 913.41 → 913
    ],
)
def test_domain_worked_example_through_a_monitoring_line(window, ef, exact_er, credits):
    line = _line(AMS_I_D, window=window, activity=EXPORT_1350_MWH)
    assert line.parameters == {
        "net_electricity_mwh": "1350",
        "grid_emission_factor_tco2_per_mwh": ef,
        "project_emissions_tco2e": "0",
        "leakage_tco2e": "0",
    }
    assert line.baseline_tco2e == line.emission_reductions_tco2e == D(exact_er)
    assert line.project_tco2e == line.leakage_tco2e == 0
    assert line.activity is EXPORT_1350_MWH and line.window == window
    assert er.claimable_credits(line.emission_reductions_tco2e) == credits


def test_lapsed_calibration_discount_flows_into_the_line():
    # 1,350,000,000 − 2,700,000 = 1,347,300,000 Wh = 1,347.3 MWh × 0.6592 = 888.14016 tCO2e → 888.
    activity = er.site_activity([_meter("export", 1_350_000_000, "-2700000")], nets_import=True)
    line = _line(AMS_I_D, activity=activity)
    assert line.parameters["net_electricity_mwh"] == "1347.3"
    assert line.emission_reductions_tco2e == D("888.14016")
    assert er.claimable_credits(line.emission_reductions_tco2e) == 888


def test_vn_am007_line_uses_the_generation_meter_and_the_plan_reference_factor():
    activity = er.site_activity(
        [_meter("generation", 1_350_000_000), _meter("import", 400_000_000, meter_id=2)], nets_import=False
    )
    line = _line(VN_AM007, activity=activity, plan={"reference_emission_factor_tco2_per_mwh": "0.6592"})
    assert line.emission_reductions_tco2e == D("889.92")  # imports are not deducted from AC output
    assert line.sources == {
        "electricity_supplied_mwh": "meter readings",
        "reference_emission_factor_tco2_per_mwh": "monitoring plan",
    }


def test_net_import_line_earns_nothing():
    activity = er.site_activity(
        [_meter("export", 10_000), _meter("import", 30_000, meter_id=2)], nets_import=True
    )
    line = _line(AMS_I_D, activity=activity)
    assert line.emission_reductions_tco2e == 0
    assert "net_import" in line.activity.flags


def test_metered_methodology_without_activity_is_missing_its_metered_parameter():
    with pytest.raises(MissingParameter, match="net_electricity_mwh"):
        _line(AMS_I_D)


@pytest.mark.parametrize(
    ("window", "overrides", "exact_er", "credits"),
    [
        # domain.md §3.2: 200 × 0.370 kW × 8,760 h = 648,240 kWh = 648.24 MWh × 0.6592 = 427.319808 → 427.
        (YEAR_2023, None, "427.319808", 427),
        # Joined 1 July: 184 days = 4,416 h; 200 × 0.370 × 4,416 = 326,784 kWh × 0.6592 = 215.4160128.
        (CreditWindow(_d("2023-07-01"), _d("2023-12-31")), None, "215.4160128", 215),
        # Leap 2024 with a programme override: 200 × 0.370 × 8,784 = 650,016 kWh × 0.65 = 422.5104.
        (CreditWindow(_d("2024-01-01"), _d("2024-12-31")), {"2024": "0.65"}, "422.5104", 422),
    ],
)
def test_transformer_example_through_a_monitoring_line(window, overrides, exact_er, credits):
    line = _line(TRANSFORMERS, window=window, facts=TRANSFORMER_SITE, overrides=overrides)
    assert line.activity is None
    assert line.emission_reductions_tco2e == D(exact_er)
    assert line.sources["hours_energised_h"] == "window length"
    assert er.claimable_credits(line.emission_reductions_tco2e) == credits


def test_lighting_example_through_a_monitoring_line():
    # domain.md §3.3: 10,000 × (60 − 9) W × 3.5 h × 365 d = 651,525,000 Wh = 651.525 MWh
    # × 0.6592 = 429.48528 tCO2e (the "429.5" of the example, before adjustments).
    line = _line(LIGHTING, facts=LAMPS)
    assert line.emission_reductions_tco2e == D("429.48528")
    assert line.parameters["operating_days_d"] == "365"
    assert er.claimable_credits(line.emission_reductions_tco2e) == 429


def test_lines_are_summed_exactly_and_rounded_once():
    lines = [
        _line(AMS_I_D, window=YEAR_2022, activity=EXPORT_1350_MWH),  # 913.41
        _line(AMS_I_D, window=YEAR_2023, activity=EXPORT_1350_MWH),  # 889.92
    ]
    total = er.sum_lines(lines)
    assert total == D("1803.33")
    # Rounded once: 1,803; rounding each line first would lose a credit (913 + 889 = 1,802).
    assert er.claimable_credits(total) == 1803
    breakdown = er.report_total(lines)
    assert breakdown.baseline_tco2e == D("1803.33") and breakdown.project_tco2e == 0


def test_a_negative_line_reduces_the_total_instead_of_being_clamped():
    # A unit losing more than the reference: (0.530 − 0.600) × 8,760 h = −613.2 kWh × 0.6592 = −0.40422144.
    worse = _line(
        TRANSFORMERS, facts={"no_load_loss_reference_kw": "0.530", "no_load_loss_project_kw": "0.600"}
    )
    good = _line(TRANSFORMERS, facts=TRANSFORMER_SITE)
    assert worse.emission_reductions_tco2e == D("-0.40422144")
    assert er.sum_lines([good, worse]) == D("426.91558656")  # 427.319808 − 0.40422144


@pytest.mark.parametrize(
    ("total", "credits"),
    [
        (D("889.92"), 889),
        (D("0.999999"), 0),
        (D("1"), 1),
        (D("427.319808"), 427),
        (D(0), 0),
        (D("-5.5"), 0),  # a negative total claims nothing
    ],
)
def test_claimable_credits_round_down_to_whole_tonnes(total, credits):
    assert er.claimable_credits(total) == credits


def test_claimable_credits_refuse_floats():
    with pytest.raises(TypeError):
        er.claimable_credits(889.92)


def test_sum_of_no_lines_is_zero():
    assert er.sum_lines([]) == 0
