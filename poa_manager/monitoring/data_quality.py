"""Meter data quality rules of domain.md §7, as pure functions over ints, Decimals and dates.

No Flask, no database: the readings service feeds these with what it loaded. Energy is integer
watt-hours, instants epoch seconds, days `datetime.date`. Adjustments are exact Decimals and are
never rounded here: credits are rounded down once, on the issuance total (emission_reductions).
Most rules are engineering practice, tagged [U] in domain.md; each comment names its tag.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from poa_manager.methodologies.base import exact

SECONDS_PER_HOUR = 3600
WH_PER_KWH = 1000

# The conservative direction differs by role: an export or generation meter that over-reads
# overstates reductions, while an import meter that under-reads overstates net export (export −
# import). So discounts and gap fills go down on the first set and up on the second.
METER_ROLES_INCREASING = frozenset({"export", "generation"})
METER_ROLES_DECREASING = frozenset({"import", "consumption"})

# Reading-level flags are bits in a small int column of each stored reading (readings.flags).
READING_FLAG_ROLLOVER = 1  # the register wrapped past 10^digits and the delta was accepted


def _increases_reductions(role: str) -> bool:
    """True for ER-increasing roles, False for ER-decreasing ones; ValueError for anything else."""
    if role in METER_ROLES_INCREASING:
        return True
    if role in METER_ROLES_DECREASING:
        return False
    # An unknown role has no conservative direction: guessing one could overstate reductions.
    raise ValueError(f"unknown meter role {role!r}")


# --- Maximum permissible error -------------------------------------------------------------------

# domain.md §7 [C]: 0.2 % for a class 0.2S revenue meter. The other entries are the IEC 62053
# class index read as the percentage error [S]; a meter's own override takes precedence.
MAX_PERMISSIBLE_ERROR_PERCENT: Mapping[str, Decimal] = MappingProxyType(
    {
        "0.2S": Decimal("0.2"),
        "0.2": Decimal("0.2"),
        "0.5S": Decimal("0.5"),
        "0.5": Decimal("0.5"),
        "1": Decimal(1),
        "1.0": Decimal(1),
        "2": Decimal(2),
        "2.0": Decimal(2),
    }
)

# [U] platform policy: a meter whose class is unknown is discounted as the loosest common class
# (class 2, 2 %), so a missing nameplate never earns a smaller discount than a known one.
UNKNOWN_CLASS_ERROR_FRACTION = Decimal("0.02")


@exact
def max_permissible_error_fraction(
    accuracy_class: str | None, override_percent: Decimal | None = None
) -> Decimal | None:
    """The meter's MPE as a fraction (0.002 for class 0.2S); None when the class is unknown.

    `override_percent` (the meter record's own MPE, in percent) wins over the class table.
    """
    if override_percent is not None:
        if override_percent < 0:
            raise ValueError(f"maximum permissible error {override_percent} % is negative")
        return override_percent / 100
    if accuracy_class is None:
        return None
    percent = MAX_PERMISSIBLE_ERROR_PERCENT.get(accuracy_class.strip().upper())
    return None if percent is None else percent / 100


# --- Cumulative registers: monotonicity and rollover ---------------------------------------------


class RegisterDelta(NamedTuple):
    """Energy between two register readings; `rolled_over` when it wrapped past 10^digits."""

    energy_wh: int
    rolled_over: bool


def register_delta(
    previous_register_wh: int,
    current_register_wh: int,
    *,
    modulus_wh: int | None,
    max_plausible_wh: int | None,
) -> RegisterDelta | None:
    """The energy between two cumulative readings, or None when the register went backwards (a fault).

    `modulus_wh` is 10^digits of the register in its own unit, converted to Wh by the caller (None
    when the digits are unknown). domain.md §7 [U]: a lower reading is a rollover, Δ = current +
    10^D − previous, accepted only if Δ ≤ rated power × interval (`max_plausible_wh`, see
    `max_interval_energy_wh`). Without a modulus or a plausibility bound it cannot be told from a
    reset or a swapped meter, so it is refused.
    """
    if previous_register_wh < 0 or current_register_wh < 0:
        raise ValueError("register readings cannot be negative")
    if current_register_wh >= previous_register_wh:
        return RegisterDelta(current_register_wh - previous_register_wh, False)
    # A previous reading at or above the modulus means the digits on record are wrong, not a wrap.
    if modulus_wh is None or max_plausible_wh is None or previous_register_wh >= modulus_wh:
        return None
    candidate_wh = current_register_wh + modulus_wh - previous_register_wh
    if candidate_wh > max_plausible_wh:
        return None
    return RegisterDelta(candidate_wh, True)


def max_interval_energy_wh(
    capacity_kw: Decimal | None, duration_s: int, tolerance: Decimal = Decimal(1)
) -> int | None:
    """Most energy the site can physically deliver in an interval, in whole Wh (rounded down).

    domain.md §7 [U]: interval energy ≤ nameplate capacity × hours. `tolerance` (e.g. 1.1) leaves
    room for a nameplate below the real peak. None when the capacity is unknown.
    """
    if capacity_kw is None:
        return None
    if capacity_kw < 0 or duration_s < 0 or tolerance < 0:
        raise ValueError("capacity, duration and tolerance cannot be negative")
    # Multiply first and divide last with integer floor division, so nothing is rounded twice.
    energy_wh_times_3600 = capacity_kw * WH_PER_KWH * duration_s * tolerance
    return int(energy_wh_times_3600 // SECONDS_PER_HOUR)


# --- Calibration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """One calibration and the days it vouches for, both ends inclusive."""

    calibrated_on: date
    valid_until: date
    # Signed, in percent: what the calibration found (VVS-PoA v2 para 352 asks for it when late).
    error_found_percent: Decimal | None = None

    def __post_init__(self) -> None:
        if self.valid_until < self.calibrated_on:
            raise ValueError(f"calibration valid until {self.valid_until} is before {self.calibrated_on}")


def lapsed_days(calibrations: Sequence[Calibration], start: date, end: date) -> list[tuple[date, date]]:
    """Inclusive date ranges within [start, end] that no calibration covers: sorted and merged.

    Empty when fully covered; the whole window when there is no calibration at all.
    """
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    one_day = timedelta(days=1)
    lapses: list[tuple[date, date]] = []
    cursor = start  # first day not yet known to be covered
    for calibration in sorted(calibrations, key=lambda c: (c.calibrated_on, c.valid_until)):
        if cursor > end:
            break
        if calibration.calibrated_on > cursor:
            lapses.append((cursor, min(calibration.calibrated_on - one_day, end)))
        cursor = max(cursor, calibration.valid_until + one_day)
    if cursor <= end:
        lapses.append((cursor, end))
    return lapses


def delayed_calibration_error_percent(calibrations: Sequence[Calibration], lapse_end: date) -> Decimal | None:
    """The error found by the first calibration after a lapse (the delayed one), if it recorded any.

    A lapse ends where a calibration starts, so "after" is strictly after the lapse's last day.
    None when the meter has not been calibrated since, or the certificate gave no error.
    """
    later = [c for c in calibrations if c.calibrated_on > lapse_end]
    if not later:
        return None
    return min(later, key=lambda c: c.calibrated_on).error_found_percent


@exact
def calibration_adjustment_wh(
    energy_wh: int,
    role: str,
    mpe_fraction: Decimal | None,
    *,
    error_found_percent: Decimal | None = None,
    apply_found_error_beyond_mpe: bool = True,
) -> Decimal:
    """Signed Wh to add to energy measured while the meter's calibration had lapsed; exact, unrounded.

    domain.md §7 [C] (VVS-PoA v2 para 352): readings of the uncalibrated period are reduced by the
    meter's maximum permissible error in the conservative direction: down for export/generation,
    up for import/consumption. With `apply_found_error_beyond_mpe`, an error found at the delayed
    calibration larger than the MPE is applied instead: §7's wording of that rule is [U], hence a
    setting. Its sign is ignored: the discount always goes the conservative way.
    """
    if energy_wh < 0:
        raise ValueError(f"energy {energy_wh} Wh is negative")
    increases = _increases_reductions(role)
    fraction = UNKNOWN_CLASS_ERROR_FRACTION if mpe_fraction is None else mpe_fraction
    if apply_found_error_beyond_mpe and error_found_percent is not None:
        fraction = max(fraction, abs(error_found_percent) / 100)
    adjustment_wh = energy_wh * fraction
    return -adjustment_wh if increases else adjustment_wh


# --- Completeness --------------------------------------------------------------------------------

# domain.md §7 [U]: flag a period whose data completeness is below 95 %; callers may set their own.
COMPLETENESS_THRESHOLD_PERCENT = Decimal(95)


def completeness_percent(covered_s: int, window_s: int) -> Decimal:
    """Share of the window covered by readings, in percent, truncated to 0.01 (a display figure).

    Truncated rather than rounded, so 94.999 % stays below a 95 % threshold. An empty window is
    complete (100).
    """
    if covered_s < 0 or window_s < 0:
        raise ValueError("durations cannot be negative")
    if covered_s > window_s:
        # Overlapping or unclipped readings: counting them would hide a gap elsewhere.
        raise ValueError(f"covered {covered_s} s exceeds the window's {window_s} s")
    if window_s == 0:
        return Decimal(100)
    # Integer hundredths of a percent: exact truncation, no Decimal context rounding on the way.
    hundredths = covered_s * 10_000 // window_s
    return Decimal(hundredths).scaleb(-2)


# --- Missing data --------------------------------------------------------------------------------


class GapFill(StrEnum):
    """How gaps on ER-increasing meters are filled (domain.md §7 missing data, [U])."""

    none = "none"  # claim no reductions for the gap
    lowest_rate = "lowest_rate"  # the lowest rate seen in comparable periods


def observed_rates_wh_per_h(intervals: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    """(lowest, highest) energy rate over (energy_wh, duration_s) intervals, in Wh per hour.

    The lowest is rounded down and the highest up, each the conservative way for the gap fill that
    uses it. Zero-length intervals carry no rate; None when no interval has one.
    """
    lowest: int | None = None
    highest: int | None = None
    for energy_wh, duration_s in intervals:
        if energy_wh < 0 or duration_s < 0:
            raise ValueError("energy and duration cannot be negative")
        if duration_s == 0:
            continue
        floor_rate = energy_wh * SECONDS_PER_HOUR // duration_s
        ceil_rate = -(-energy_wh * SECONDS_PER_HOUR // duration_s)
        lowest = floor_rate if lowest is None else min(lowest, floor_rate)
        highest = ceil_rate if highest is None else max(highest, ceil_rate)
    if lowest is None or highest is None:
        return None
    return lowest, highest


def gap_fill_wh(
    role: str,
    gap_s: int,
    *,
    method: GapFill,
    lowest_rate_wh_per_h: int | None,
    highest_rate_wh_per_h: int | None,
) -> int | None:
    """Energy to credit (or charge) for a gap of `gap_s` seconds without readings.

    ER-increasing meters (domain.md §7 [U]): `GapFill.none` fills nothing, so the gap earns
    nothing; `lowest_rate` fills at the lowest observed rate, rounded down (0 when no rate is known).
    ER-decreasing meters are always filled at the highest observed rate, rounded up, whatever the
    method: a missing import would otherwise overstate net export. When no rate is known for them
    it returns None, meaning "cannot fill": the caller must let the line earn nothing.
    """
    if gap_s < 0:
        raise ValueError(f"gap {gap_s} s is negative")
    for rate in (lowest_rate_wh_per_h, highest_rate_wh_per_h):
        if rate is not None and rate < 0:
            raise ValueError(f"rate {rate} Wh/h is negative")
    increases = _increases_reductions(role)
    if gap_s == 0:
        return 0
    if increases:
        if method is GapFill.none or lowest_rate_wh_per_h is None:
            return 0
        return gap_s * lowest_rate_wh_per_h // SECONDS_PER_HOUR
    if highest_rate_wh_per_h is None:
        return None
    return -(-gap_s * highest_rate_wh_per_h // SECONDS_PER_HOUR)


# --- Line-level flags ----------------------------------------------------------------------------


class QualityFlag(StrEnum):
    """Why a monitoring line needs a reviewer's attention; stored by value in the line's flags."""

    low_completeness = "low_completeness"
    calibration_lapsed = "calibration_lapsed"
    rollover = "rollover"
    gap_filled = "gap_filled"
    import_gap_filled = "import_gap_filled"
    no_import_data = "no_import_data"
    net_import = "net_import"
    discrepancy = "discrepancy"

    @property
    def label(self) -> str:
        return _FLAG_LABELS[self]


_FLAG_LABELS: Mapping[QualityFlag, str] = MappingProxyType(
    {
        QualityFlag.low_completeness: "Readings cover less of the window than the completeness threshold.",
        QualityFlag.calibration_lapsed: "A meter's calibration lapsed; its readings were discounted.",
        QualityFlag.rollover: "A meter register rolled over; the wrapped reading was accepted.",
        QualityFlag.gap_filled: "Missing export or generation data was filled conservatively.",
        QualityFlag.import_gap_filled: "Missing import data was filled at the highest observed rate.",
        QualityFlag.no_import_data: "No import data: net export could not deduct imports.",
        QualityFlag.net_import: "The site imported more than it exported; counted as zero.",
        QualityFlag.discrepancy: "The figures changed since the report was submitted.",
    }
)


def ordered_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Flags without duplicates, in QualityFlag order, so merged flag lists compare and print alike."""
    order = {flag.value: index for index, flag in enumerate(QualityFlag)}
    unique = {str(flag) for flag in flags}
    unknown = sorted(unique - set(order))
    if unknown:
        raise ValueError(f"unknown quality flags: {', '.join(unknown)}")
    return tuple(sorted(unique, key=order.__getitem__))
