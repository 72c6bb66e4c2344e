"""Chart series as pure functions: local days and clock changes, gaps, top sites with "others",
periods stacked by vintage, credits per vintage and the NDC split (docs/charts.md)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from poa_manager.monitoring import charts
from poa_manager.registry import charts as registry_charts

D = Decimal


def midnights(first: date, days: int, zone: str) -> list[int]:
    tz = ZoneInfo(zone)
    return [
        int(datetime.combine(first + timedelta(days=i), datetime.min.time(), tz).timestamp())
        for i in range(days + 1)
    ]


def test_plain_decimal_text_has_no_exponent_and_no_trailing_zeros():
    assert charts.plain(D("1E+3")) == "1000"
    assert charts.plain(D("144.000")) == "144"
    assert charts.plain(D("0.000001")) == "0.000001"
    assert charts.plain(D("0")) == "0"


def test_days_without_a_clock_change_are_one_uniform_segment():
    m = midnights(date(2025, 1, 1), 365, "Asia/Ho_Chi_Minh")
    assert charts.day_segments(m) == [charts.DaySegment(0, m[0], m[365], uniform=True)]


def test_a_23_and_a_25_hour_day_are_segments_of_their_own():
    # Berlin: 30 March 2025 has 23 hours, 26 October 25 (EU summer time).
    m = midnights(date(2025, 3, 28), 4, "Europe/Berlin")
    segments = charts.day_segments(m)
    assert [(s.first_day, s.uniform) for s in segments] == [(0, True), (2, False), (3, True)]
    assert segments[1].until - segments[1].start == 23 * 3600
    autumn = charts.day_segments(midnights(date(2025, 10, 26), 1, "Europe/Berlin"))
    assert autumn[0].until - autumn[0].start == 25 * 3600 and not autumn[0].uniform


def test_a_reading_falls_in_the_day_its_interval_ends_in():
    m = midnights(date(2025, 1, 1), 3, "Asia/Ho_Chi_Minh")
    (segment,) = charts.day_segments(m)
    day_of = lambda end: segment.first_day + (end - 1 - segment.start) // charts.SECONDS_PER_DAY  # noqa: E731
    assert day_of(m[1]) == 0  # ends at midnight: the day before
    assert day_of(m[1] + 900) == 1
    assert day_of(m[3]) == 2


def test_days_without_readings_are_gaps_not_zeros_and_flags_mark_their_day():
    totals = {
        0: charts.DayTotal(144_000, 96, 0),
        2: charts.DayTotal(0, 96, 0),
        3: charts.DayTotal(72_500, 48, 2),
    }
    days = charts.daily_energy(date(2025, 1, 1), 5, totals)
    assert [d.energy_kwh for d in days] == [D(144), None, D(0), D("72.5"), None]
    config = charts.daily_energy_chart(days, label="EXP-1")
    energy, flagged = config["data"]["datasets"]
    assert config["type"] == "line" and config["data"]["labels"][0] == "2025-01-01"
    assert energy["data"] == ["144", None, "0", "72.5", None] and energy["spanGaps"] is False
    assert flagged["data"] == [None, None, None, "72.5", None] and flagged["showLine"] is False
    assert config["options"]["maintainAspectRatio"] is False
    assert config["options"]["plugins"]["poa"]["gapColour"]


def sites(n: int) -> list[charts.SiteReduction]:
    return [charts.SiteReduction(i, f"CPA-{i:04d}", D(i) + D("0.5")) for i in range(1, n + 1)]


def test_lines_of_one_site_add_up_and_the_largest_site_comes_first():
    rows = charts.per_site([(1, "CPA-1", D("10.25")), (2, "CPA-2", D("12")), (1, "CPA-1", D("3.000001"))])
    assert [(r.site_reference, r.emission_reductions_tco2e) for r in rows] == [
        ("CPA-1", D("13.250001")),
        ("CPA-2", D("12")),
    ]


def test_beyond_fifty_sites_the_smallest_become_one_others_bar():
    rows = sorted(sites(53), key=lambda r: -r.emission_reductions_tco2e)
    bars = charts.top_with_others(rows, limit=50)
    assert len(bars) == 51
    assert bars[0] == ("CPA-0053", D("53.5"))
    assert bars[-1] == ("others (3 sites)", D("1.5") + D("2.5") + D("3.5"))
    assert charts.top_with_others(rows[:50], limit=50)[-1] == ("CPA-0004", D("4.5"))


def test_periods_stack_by_vintage_with_zero_where_a_period_has_none():
    periods = charts.per_period(
        [
            (1, "MR-001", date(2025, 7, 1), date(2026, 6, 30), "submitted"),
            (2, "MR-002", date(2026, 7, 1), date(2026, 12, 31), "draft"),
        ],
        [(1, 2025, D("10.5")), (1, 2026, D("4")), (2, 2026, D("7.25")), (1, 2025, D("0.5"))],
    )
    assert periods[0].by_vintage == {2025: D(11), 2026: D(4)} and periods[0].total_tco2e == D(15)
    config = charts.period_reductions_chart(periods)
    assert [d["label"] for d in config["data"]["datasets"]] == ["2025", "2026"]
    assert [d["data"] for d in config["data"]["datasets"]] == [["11", "0"], ["4", "7.25"]]
    assert config["options"]["scales"]["y"]["stacked"] is True
    assert config["data"]["labels"][1].endswith("(draft)")


def test_credits_per_vintage_leave_forwarding_out():
    totals = registry_charts.by_vintage(
        [
            (2025, "issuance", 361),
            (2025, "forward", 361),
            (2025, "retirement", 3),
            (2024, "cancellation", 2),
            (2025, "transfer", 10),
        ]
    )
    assert totals == [
        registry_charts.VintageTotals(2024, 0, 0, 0, 2),
        registry_charts.VintageTotals(2025, 361, 10, 3, 0),
    ]
    config = registry_charts.vintage_chart(totals)
    assert config["data"]["labels"] == ["2024", "2025"]
    assert [d["data"] for d in config["data"]["datasets"]] == [[0, 361], [0, 10], [0, 3], [2, 0]]


def test_the_ndc_split_is_cumulative_and_always_adds_up_to_the_issued_credits():
    series = registry_charts.ndc_contribution(
        issued={"2025-03": 361, "2025-06": 100},
        authorized={"2025-05": 150},
        first_transferred={"2025-07": 20},
        used_ndc={"2025-08": 15},
        through="2025-09",
    )
    assert [m.month for m in series] == [
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
        "2025-07",
        "2025-08",
        "2025-09",
    ]
    by_month = {m.month: m for m in series}
    assert by_month["2025-04"] == registry_charts.NdcMonth("2025-04", 361, 0, 0, 361, 0)
    assert by_month["2025-05"] == registry_charts.NdcMonth("2025-05", 361, 0, 150, 211, 0)
    assert by_month["2025-07"] == registry_charts.NdcMonth("2025-07", 461, 20, 130, 311, 0)
    assert by_month["2025-09"] == registry_charts.NdcMonth("2025-09", 461, 20, 130, 311, 15)
    assert all(m.adjusted + m.authorized_pending + m.not_authorized == m.issued for m in series)
    assert (
        registry_charts.ndc_contribution(
            issued={}, authorized={}, first_transferred={}, used_ndc={}, through="2025-01"
        )
        == []
    )


def test_months_between_crosses_the_year_end():
    assert registry_charts.months_between("2024-11", "2025-02") == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    assert registry_charts.month_of(datetime(2025, 1, 31, 23, tzinfo=UTC).date()) == "2025-01"
