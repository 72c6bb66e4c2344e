"""PURE: cycle-time and completeness charts as Chart.js configurations (templates/macros/visuals.html).

No Flask, no database: the views pass in the figures the services computed.
"""

from collections.abc import Sequence

from poa_manager.monitoring.charts import PALETTE, base_options

OVERDUE_COLOUR = "#D55E00"  # vermilion: the same warning colour as flagged readings


def _days_options(title: str) -> dict:
    return base_options(unit="days", y_title=title)


def steps_chart(steps: Sequence) -> dict:
    """Per step, the median of finished steps beside its service-level target (days)."""
    return {
        "type": "bar",
        "data": {
            "labels": [summary.step.label for summary in steps],
            "datasets": [
                {
                    "label": "Median (days)",
                    "data": [summary.median_days or 0 for summary in steps],
                    "backgroundColor": PALETTE[0],
                },
                {
                    "label": "Target (days)",
                    "data": [summary.target_days for summary in steps],
                    "backgroundColor": PALETTE[1],
                },
            ],
        },
        "options": _days_options("days"),
    }


def distribution_chart(buckets: Sequence[tuple[int, int, int]], *, target_days: int) -> dict:
    """How many finished cycles took how long: bars of 30 days, those past the target coloured."""
    return {
        "type": "bar",
        "data": {
            "labels": [f"{low}–{high} d" for low, high, _ in buckets],
            "datasets": [
                {
                    "label": "Finished cycles (period end to credits forwarded)",
                    "data": [count for _, _, count in buckets],
                    "backgroundColor": [
                        OVERDUE_COLOUR if low > target_days else PALETTE[2] for low, _, _ in buckets
                    ],
                }
            ],
        },
        "options": _days_options("requests"),
    }


def completeness_chart(rows: Sequence[tuple[str, int]]) -> dict:
    """Per site, the percentage of the open period's expected readings received."""
    options = base_options(unit="%", y_title="% of expected readings")
    options["scales"]["y"]["max"] = 100
    return {
        "type": "bar",
        "data": {
            "labels": [label for label, _ in rows],
            "datasets": [
                {
                    "label": "Readings received, % of expected this period",
                    "data": [percent for _, percent in rows],
                    "backgroundColor": PALETTE[0],
                }
            ],
        },
        "options": options,
    }
