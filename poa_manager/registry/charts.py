"""Chart series of the registry, as pure functions: credits per vintage by ledger movement, and
the host Party's cumulative issued credits split by Article 6.2 authorization status, each turned
into a Chart.js configuration (docs/charts.md). Quantities are whole credits (ints).

No Flask, no database: registry/services/statistics.py sums the ledger and feeds these.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from poa_manager.monitoring.charts import PALETTE, base_options

# Ledger kinds shown per vintage and their labels. Forwarding (pending account → holders) is left
# out: it moves every issued credit once more and would only repeat the issued bar.
VINTAGE_KINDS = {
    "issuance": "Issued",
    "transfer": "Transferred",
    "retirement": "Retired",
    "cancellation": "Cancelled",
}


@dataclass(frozen=True)
class VintageTotals:
    vintage: int
    issued: int
    transferred: int
    retired: int
    cancelled: int


def by_vintage(rows: Iterable[tuple[int, str, int]]) -> list[VintageTotals]:
    """(vintage, ledger kind, quantity) sums → one row per vintage, oldest first."""
    sums: dict[int, dict[str, int]] = {}
    for vintage, kind, quantity in rows:
        if kind in VINTAGE_KINDS:
            per_kind = sums.setdefault(vintage, dict.fromkeys(VINTAGE_KINDS, 0))
            per_kind[kind] += int(quantity)
    return [
        VintageTotals(v, k["issuance"], k["transfer"], k["retirement"], k["cancellation"])
        for v, k in sorted(sums.items())
    ]


def vintage_chart(totals: Sequence[VintageTotals]) -> dict:
    """Grouped bars: retired and cancelled credits are part of the issued ones, so stacking them
    on top of the issued bar would count them twice."""
    fields = ("issued", "transferred", "retired", "cancelled")
    datasets = [
        {
            "label": label,
            "data": [getattr(t, field) for t in totals],
            "backgroundColor": PALETTE[i],
        }
        for i, (field, label) in enumerate(zip(fields, VINTAGE_KINDS.values(), strict=True))
    ]
    return {
        "type": "bar",
        "data": {"labels": [str(t.vintage) for t in totals], "datasets": datasets},
        "options": base_options(unit="credits", y_title="credits (tCO2e)"),
    }


# --- the host Party's NDC ----------------------------------------------------------------------

NDC_LABELS = {
    "adjusted": "Authorized (ITMO): corresponding adjustment applied",
    "authorized_pending": "Authorized, not yet first-transferred",
    "not_authorized": "Not authorized (mitigation contribution)",
    "used_ndc": "Used towards an NDC (retired, cumulative)",
}


@dataclass(frozen=True)
class NdcMonth:
    """Cumulative totals at the end of a month (UTC). adjusted + authorized_pending +
    not_authorized = issued, always."""

    month: str  # YYYY-MM
    issued: int
    adjusted: int
    authorized_pending: int
    not_authorized: int
    used_ndc: int


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` (YYYY-MM), inclusive."""
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def ndc_contribution(
    *,
    issued: Mapping[str, int],
    authorized: Mapping[str, int],
    first_transferred: Mapping[str, int],
    used_ndc: Mapping[str, int],
    through: str,
) -> list[NdcMonth]:
    """Monthly quantities (by month of the event) → cumulative status at each month's end, from
    the first month with any event through `through`.

    An issued credit is at any time in exactly one state: first transferred (the host applied the
    corresponding adjustment), authorized but not first transferred, or not authorized. Units are
    authorized and first transferred once each (an authorization action and a corresponding
    adjustment per serial range), so the cumulative counts subtract without overlap.
    """
    events = [m for series in (issued, authorized, first_transferred, used_ndc) for m in series]
    if not events:
        return []
    months = months_between(min(events), max(max(events), through))
    result, totals = [], dict.fromkeys(("issued", "authorized", "adjusted", "used"), 0)
    for month in months:
        totals["issued"] += issued.get(month, 0)
        totals["authorized"] += authorized.get(month, 0)
        totals["adjusted"] += first_transferred.get(month, 0)
        totals["used"] += used_ndc.get(month, 0)
        result.append(
            NdcMonth(
                month=month,
                issued=totals["issued"],
                adjusted=totals["adjusted"],
                authorized_pending=totals["authorized"] - totals["adjusted"],
                not_authorized=totals["issued"] - totals["authorized"],
                used_ndc=totals["used"],
            )
        )
    return result


def ndc_chart(series: Sequence[NdcMonth]) -> dict:
    """Stacked bars of the three states (their stack is the cumulative issued total), with the
    cumulative NDC-use retirements as a line on its own stack."""
    colours = {"adjusted": PALETTE[0], "authorized_pending": PALETTE[1], "not_authorized": PALETTE[2]}
    datasets: list[dict] = [
        {
            "label": NDC_LABELS[field],
            "data": [getattr(m, field) for m in series],
            "backgroundColor": colours[field],
            "stack": "issued",
            "order": 2,
        }
        for field in ("adjusted", "authorized_pending", "not_authorized")
    ]
    datasets.append(
        {
            "type": "line",
            "label": NDC_LABELS["used_ndc"],
            "data": [m.used_ndc for m in series],
            "borderColor": PALETTE[5],
            "backgroundColor": PALETTE[5],
            "stack": "used",
            "pointRadius": 2,
            "order": 1,
        }
    )
    return {
        "type": "bar",
        "data": {"labels": [m.month for m in series], "datasets": datasets},
        "options": base_options(unit="credits", y_title="credits issued, cumulative", stacked=True),
    }
