"""PURE: the steps of the credit cycle, elapsed days per step, medians, overdue tests, durations.

A cycle runs from the end of a monitoring period to the credits reaching their holders. Each step
ends on a date recorded where the step happens; this module only does the arithmetic, so the
figures are the same on the page, in the API and in the tests. No Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    starts_at: str  # the milestone that opens the step
    ends_at: str  # the milestone that closes it
    default_target_days: int  # [U]: a starting point, editable by a platform administrator


# The milestones in order, each dated where it happens (monitoring report, issuance request,
# verification, issuance).
MILESTONES = (
    "period_end",
    "submitted",
    "verifier_assigned",
    "statement",
    "issuance_approved",
    "forwarded",
)

STEPS: tuple[Step, ...] = (
    Step("report", "Report submitted after the period ends", "period_end", "submitted", 30),
    Step("assignment", "Verifier assigned after submission", "submitted", "verifier_assigned", 14),
    Step("statement", "Verification statement after assignment", "verifier_assigned", "statement", 60),
    Step("issuance", "Issuance approved after the statement", "statement", "issuance_approved", 10),
    Step("forwarding", "Credits forwarded after issuance", "issuance_approved", "forwarded", 5),
)
TOTAL = Step("total", "Whole cycle: period end to credits forwarded", "period_end", "forwarded", 120)
ALL_STEPS: tuple[Step, ...] = (*STEPS, TOTAL)
STEP_KEYS = tuple(step.key for step in ALL_STEPS)
DEFAULT_TARGETS: dict[str, int] = {step.key: step.default_target_days for step in ALL_STEPS}


def step_named(key: str) -> Step:
    for step in ALL_STEPS:
        if step.key == key:
            return step
    raise KeyError(key)


def as_date(value: date | datetime | None) -> date | None:
    """Days are counted between calendar dates (UTC), so a time of day never adds a part day."""
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class StepTime:
    key: str
    days: int | None  # None: the step has not started
    finished: bool
    target_days: int
    overdue_days: int  # 0 when within target

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0


@dataclass(frozen=True)
class CycleTime:
    steps: tuple[StepTime, ...]  # the five steps, then the total
    finished: bool  # credits forwarded
    current_step: str | None  # the step in progress; None when finished or not started

    def step(self, key: str) -> StepTime:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    @property
    def total(self) -> StepTime:
        return self.step("total")

    @property
    def overdue(self) -> bool:
        return any(step.overdue for step in self.steps)

    @property
    def overdue_days(self) -> int:
        """The worst lateness of any step or of the whole cycle."""
        return max((step.overdue_days for step in self.steps), default=0)


def cycle_time(
    milestones: Mapping[str, date | datetime | None],
    *,
    today: date,
    targets: Mapping[str, int] | None = None,
    stopped: bool = False,
) -> CycleTime:
    """Elapsed days per step and in total; a started but unfinished step counts up to `today`.

    A step has started when its opening milestone is dated; one whose start is missing is
    unknown (None), never negative. A `stopped` cycle (a negative statement sent the request
    back) runs no clock any more: its open steps are None and its total ends at its last date.
    """
    targets = {**DEFAULT_TARGETS, **(targets or {})}
    dates = {name: as_date(milestones.get(name)) for name in MILESTONES}
    last_dated = max((d for d in dates.values() if d is not None), default=None)
    steps: list[StepTime] = []
    current = None
    for step in ALL_STEPS:
        start, end = dates[step.starts_at], dates[step.ends_at]
        if stopped and step is TOTAL and start is not None:
            days, finished = max((last_dated - start).days, 0), False
        elif start is None or (stopped and end is None):
            days, finished = None, False
        elif end is None:
            days, finished = max((today - start).days, 0), False
            if step is not TOTAL and current is None:
                current = step.key
        else:
            days, finished = max((end - start).days, 0), True
        overdue = max(days - targets[step.key], 0) if days is not None else 0
        steps.append(StepTime(step.key, days, finished, targets[step.key], overdue))
    return CycleTime(tuple(steps), dates["forwarded"] is not None, current)


def median(values: Iterable[int | float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def slowest(items: Sequence, key, count: int = 10) -> list:
    """The `count` items with the largest key (ties keep their order); items without a key last out."""
    keyed = [item for item in items if key(item) is not None]
    return sorted(keyed, key=key, reverse=True)[:count]


def histogram(values: Iterable[int], *, width: int) -> list[tuple[int, int, int]]:
    """(from, to inclusive, count) buckets of `width` days from 0 up to the largest value."""
    values = list(values)
    if not values:
        return []
    buckets = max(values) // width + 1
    counts = [0] * buckets
    for value in values:
        counts[value // width] += 1
    return [(i * width, (i + 1) * width - 1, counts[i]) for i in range(buckets)]


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end`; month ends count as whole months, so
    2019-06-30 → 2024-10-31 is 64 months (June's last day to October's last day)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day and not _is_month_end(end):
        months -= 1
    return months


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def years_and_months(start: date, end: date) -> str:
    """'5 years 4 months', '1 year', '3 months', '0 months' (calendar months, see months_between)."""
    return _as_years_and_months(months_between(start, end))


def days_as_years_and_months(days: int | float) -> str:
    """An approximate reading of a day count (e.g. a median), by average month length."""
    return _as_years_and_months(int(days // (365.25 / 12)))


def _as_years_and_months(months: int) -> str:
    years, months = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if months or not years:
        parts.append(f"{months} month{'s' if months != 1 else ''}")
    return " ".join(parts)
