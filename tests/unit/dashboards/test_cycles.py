"""The cycle arithmetic with worked numbers: steps, totals, medians, overdue and durations."""

from datetime import UTC, date, datetime

import pytest

from poa_manager.dashboards import cycles

# A worked cycle: period ends 31 Mar; report 20 Apr (20 d); verifier 30 Apr (10 d); statement
# 14 Jul (75 d, target 60: 15 late); issuance 20 Jul (6 d); forwarded 23 Jul (3 d). Total 114 d.
WORKED = {
    "period_end": date(2025, 3, 31),
    "submitted": datetime(2025, 4, 20, 23, 59, tzinfo=UTC),
    "verifier_assigned": date(2025, 4, 30),
    "statement": date(2025, 7, 14),
    "issuance_approved": date(2025, 7, 20),
    "forwarded": date(2025, 7, 23),
}


def test_a_finished_cycle_has_days_per_step_and_a_total():
    cycle = cycles.cycle_time(WORKED, today=date(2026, 1, 1))
    assert [(s.key, s.days) for s in cycle.steps] == [
        ("report", 20),
        ("assignment", 10),
        ("statement", 75),
        ("issuance", 6),
        ("forwarding", 3),
        ("total", 114),
    ]
    assert sum(s.days for s in cycle.steps[:-1]) == cycle.total.days
    assert cycle.finished and cycle.current_step is None
    assert [s.key for s in cycle.steps if s.overdue] == ["statement"]
    assert cycle.step("statement").overdue_days == 15
    assert cycle.overdue_days == 15 and not cycle.total.overdue  # 114 ≤ 120


def test_an_unfinished_step_counts_up_to_today_and_turns_overdue_after_its_target():
    started = {**{k: WORKED[k] for k in ("period_end", "submitted")}}
    on_time = cycles.cycle_time(started, today=date(2025, 5, 4))  # 14 days after submission
    assert on_time.current_step == "assignment"
    assert on_time.step("assignment").days == 14 and not on_time.step("assignment").overdue
    assert on_time.step("statement").days is None  # not started
    assert on_time.total.days == 34 and not on_time.finished and not on_time.overdue
    late = cycles.cycle_time(started, today=date(2025, 5, 7))
    assert late.step("assignment").overdue_days == 3 and late.overdue


def test_targets_override_the_defaults():
    cycle = cycles.cycle_time(WORKED, today=date(2026, 1, 1), targets={"statement": 90, "total": 100})
    assert not cycle.step("statement").overdue
    assert cycle.total.overdue_days == 14


def test_a_stopped_cycle_runs_no_clock():
    returned = {k: WORKED[k] for k in ("period_end", "submitted", "verifier_assigned", "statement")}
    cycle = cycles.cycle_time(returned, today=date(2030, 1, 1), stopped=True)
    assert cycle.step("issuance").days is None and cycle.current_step is None
    assert cycle.total.days == 105  # period end to the statement
    assert [s.key for s in cycle.steps if s.overdue] == ["statement"]


def test_median_slowest_and_histogram():
    assert cycles.median([]) is None
    assert cycles.median([5, 1, 3]) == 3
    assert cycles.median([1, 2, 3, 10]) == 2.5
    assert cycles.slowest([3, None, 9, 1, 7], key=lambda v: v, count=2) == [9, 7]
    assert cycles.histogram([0, 29, 30, 95], width=30) == [(0, 29, 2), (30, 59, 1), (60, 89, 0), (90, 119, 1)]


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2019, 6, 30), date(2024, 10, 31), "5 years 4 months"),  # JCM VN014
        (date(2019, 7, 31), date(2024, 10, 31), "5 years 3 months"),  # VN011
        (date(2020, 12, 31), date(2024, 10, 31), "3 years 10 months"),  # VN013
        (date(2024, 1, 31), date(2024, 2, 29), "1 month"),  # month end to month end
        (date(2024, 1, 15), date(2024, 2, 14), "0 months"),
        (date(2023, 5, 1), date(2024, 5, 1), "1 year"),
    ],
)
def test_years_and_months_counts_calendar_months(start, end, text):
    assert cycles.years_and_months(start, end) == text


def test_a_day_count_reads_as_years_and_months():
    assert cycles.days_as_years_and_months(114) == "3 months"
    assert cycles.days_as_years_and_months(1949) == "5 years 4 months"
