"""Reading meter-reading files (CSV or XLSX) fast, and checking them against what is stored. Pure.

No Flask, no database: the readings service gives the meters the uploader may write to, calls
`parse`, loads what the database holds around each meter's time range, then calls
`check_sequences`, whose `rows_for_insert` feeds the bulk insert. Instants are epoch seconds (UTC)
and energy integer watt-hours, as the `readings` table stores them (monitoring/models.py).

Speed matters (performance.md: a year of daily readings for 10,000 sites is 3.65 million rows, and
the database write must keep most of the time budget), so `parse` is one loop with everything it
needs in local variables: the meter of the previous row is reused while the file stays on it,
timestamps are parsed once per distinct text and time zone, values become watt-hours with integer
arithmetic, good rows are packed as four 64-bit integers (32 bytes a row), and whether each
meter's rows come sorted and without overlap is noted on the way, so `check_sequences` does not
walk them again. Anything unusual in a row sends it to `_diagnose`, the slow and complete reading
of a row, which is the reference: the fast path only accepts rows `_diagnose` accepts, with the
same numbers (tests/unit/monitoring/test_readings_file.py checks this on random rows). CSV
files are split with `str.split` while they hold no quotes, twice as fast as the csv module.
The rules are domain.md §7.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from itertools import chain, compress, islice, repeat
from operator import itemgetter, le, lt
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import openpyxl
from openpyxl.styles import Font

from poa_manager.monitoring.data_quality import READING_FLAG_ROLLOVER, max_interval_energy_wh, register_delta
from poa_manager.sites.importer import MAX_ZIP_ENTRIES, RowError, escape_formula, normalise_serial

TEMPLATE_COLUMNS = ("site_ref", "meter_serial", "reading_start", "reading_end", "value")
SHEET_NAME = "Readings"
FILE = 0  # the row of errors about the file as a whole, as in sites/importer.py
UNIT_WH = {"Wh": 1, "kWh": 1_000, "MWh": 1_000_000}
CAPPED_ROLES = frozenset({"export", "generation"})  # the capacity cap applies to these (§7)
MAX_ERRORS_KEPT = 10_000  # error objects kept; `error_count` stays exact
MAX_FUTURE_S = 300  # clock drift tolerated on a logger (domain.md §7: limits on clock drift)
# An XLSX sheet holds at most 1,048,576 rows: about 200 MB of sheet XML for five columns.
MAX_XLSX_BYTES = 100 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
_TIMESTAMP_CACHE_SIZE = 200_000  # distinct timestamp texts kept per time zone
_PAIR_CACHE_SIZE = 100_000  # distinct (site, serial) texts kept
_ROW = struct.Struct("=4q")  # start, end, value, row number: native byte order, as array("q")
_FAR_PAST = -(1 << 62)
_FAR_FUTURE = 1 << 62
_MAX_DECIMALS = 30
_MAX_WH = (1 << 63) - 1  # a BIGINT column
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_COLUMN_ORDER = {name: index for index, name in enumerate(TEMPLATE_COLUMNS)}


@dataclass(frozen=True)
class MeterSpec:
    """A meter the uploader may send readings for, with what the checks need to know about it."""

    meter_id: int
    site_id: int
    site_ref: str
    serial: str
    role: str  # export | import | generation | consumption
    unit: str  # "Wh" | "kWh" | "MWh"
    multiplier: Decimal  # CT × VT ratio
    cumulative: bool  # register readings (True) or interval energy (False)
    register_digits: int | None  # integer digits of the register, for rollovers
    capacity_kw: Decimal | None  # the site's nameplate capacity
    timezone: str | None  # IANA name for naive timestamps
    credit_from: int | None  # epoch seconds, inclusive; None: the site is not crediting
    credit_until: int | None  # epoch seconds, exclusive; None: open-ended
    active_from: int | None = None  # meter installed: readings before are refused
    active_until: int | None = None  # meter removed: readings after are refused


@dataclass(frozen=True)
class StoredTail:
    """What the database already holds for a meter, near the file's time range."""

    meter_id: int
    # (start, end, energy_wh) of stored current readings overlapping the file's range, sorted.
    readings: Sequence[tuple[int, int, int]]
    # (instant, register_wh) of the latest stored cumulative reading at or before the file's first.
    last_register: tuple[int, int] | None = None


class _ErrorSink:
    """Every error counted; the first MAX_ERRORS_KEPT by row kept, whatever order they come in."""

    __slots__ = ("count", "kept", "limit")

    def __init__(self, limit: int | None = None) -> None:
        self.count = 0
        self.kept: list[RowError] = []
        self.limit = MAX_ERRORS_KEPT if limit is None else limit

    def add(self, row: int, column: str, code: str, message: str, value: Any = "") -> None:
        self.count += 1
        self.kept.append(RowError(row, _storable(column), code, _storable(message), _storable(_shown(value))))
        if len(self.kept) >= 2 * self.limit:
            self._trim()

    def _trim(self) -> None:
        self.kept.sort(key=_error_order)
        del self.kept[self.limit :]

    def result(self) -> list[RowError]:
        self._trim()
        return self.kept


def _error_order(error: RowError) -> tuple[int, int, str]:
    return error.row, _COLUMN_ORDER.get(error.column, len(_COLUMN_ORDER)), error.code


def _shown(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    return text if len(text) <= 200 else text[:197] + "..."


# NUL: PostgreSQL text and jsonb refuse it; a lone surrogate cannot be encoded as UTF-8. Both can
# come from the file into an error's column name, message or value, which the upload keeps (found
# by fuzzing: a header cell "\x00" made recording the rejection fail on PostgreSQL).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    if text.isascii() and "\x00" not in text:
        return text  # the usual case, without a regular expression per error
    return _UNSTORABLE.sub("\ufffd", text)


# --- time zones and timestamps -------------------------------------------------------------------


class _Zone:
    """A time zone and the timestamp texts already read in it (text → epoch seconds)."""

    __slots__ = ("name", "tzinfo", "known", "seen", "refused")

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.tzinfo: ZoneInfo | None = None
        self.known = True
        if name:
            try:
                self.tzinfo = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.known = False
        self.seen: dict[str, int] = {}
        self.refused: dict[str, tuple[str, str]] = {}


def _instant(text: Any, zone: _Zone) -> int | None:
    """The epoch seconds of a timestamp text, cached; None when it is refused (see `_resolve`)."""
    result = _resolve(text, zone)[0]
    if result is not None and isinstance(text, str):
        seen = zone.seen
        if len(seen) >= _TIMESTAMP_CACHE_SIZE:
            seen.clear()
        seen[text] = result
    return result


def _resolve(raw: Any, zone: _Zone) -> tuple[int | None, str, str]:
    """(epoch seconds, "", "") or (None, code, message) for one timestamp cell."""
    text = _cell_text(raw)
    if not text:
        return None, "required", ""
    refused = zone.refused.get(text)
    if refused is not None:
        return None, *refused
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, *_refuse(
            zone,
            text,
            "bad_timestamp",
            f"{text} is not a date and time: write it in ISO 8601, e.g. 2025-03-01T00:00:00+07:00.",
        )
    if moment.microsecond:
        return None, *_refuse(
            zone, text, "bad_timestamp", f"{text} has fractions of a second: give whole seconds."
        )
    if moment.tzinfo is None:
        if zone.tzinfo is None:
            if zone.name and not zone.known:
                message = (
                    f"{text} has no UTC offset and the site's time zone {zone.name} is not known: "
                    "add the offset, e.g. +07:00, or Z for UTC."
                )
            else:
                message = (
                    f"{text} has no UTC offset and the site has no time zone: add the offset, "
                    "e.g. +07:00, or Z for UTC."
                )
            return None, *_refuse(zone, text, "no_timezone", message)
        local = moment.replace(tzinfo=zone.tzinfo)
        if local.astimezone(UTC).astimezone(zone.tzinfo).replace(tzinfo=None) != moment:
            return None, *_refuse(
                zone,
                text,
                "nonexistent_time",
                f"{text} does not exist in {zone.name} (the clocks jump forward then): "
                "give the time with its UTC offset.",
            )
        if local.replace(fold=1).utcoffset() != local.utcoffset():
            return None, *_refuse(
                zone,
                text,
                "ambiguous_time",
                f"{text} happens twice in {zone.name} (the clocks go back then): "
                "give the time with its UTC offset.",
            )
        moment = local
    return (moment - _EPOCH) // _SECOND, "", ""


def _refuse(zone: _Zone, text: str, code: str, message: str) -> tuple[str, str]:
    if len(zone.refused) < _TIMESTAMP_CACHE_SIZE:
        zone.refused[text] = (code, message)
    return code, message


def _show_instant(seconds: int | None, zone_name: str | None) -> str:
    """An instant as the site's people read it: local time with its offset, else UTC."""
    if seconds is None:
        return "(open)"
    tzinfo: Any = UTC
    if zone_name:
        try:
            tzinfo = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.fromtimestamp(seconds, tzinfo).isoformat()


# --- values ---------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")  # no exponents, no underscores (Decimal takes both)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_EXPONENT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+")


def _read_value(raw: Any, numerator: int, denominator: int) -> tuple[int | None, str, str]:
    """value × numerator / denominator as whole Wh: (wh, "", "") or (None, code, message).

    The reference for the fast path in `parse`: for an interval meter numerator/denominator is
    unit factor × multiplier, for a cumulative meter the unit factor alone (the register).
    """
    text = _cell_text(raw)
    if not text:
        return None, "required", "Give the value."
    if not _DECIMAL.fullmatch(text):
        if _DECIMAL_COMMA.fullmatch(text):
            fixed = text.replace(",", ".")
            return None, "bad_value", f"{text}: use a point as the decimal separator, e.g. {fixed}."
        if _EXPONENT.fullmatch(text):
            return None, "bad_value", f"{text}: write the number without an exponent, e.g. 1234.5."
        hint = " without thousands separators" if "," in text or " " in text else ""
        return (
            None,
            "bad_value",
            f"{text} is not a number: write it{hint} with a point for decimals, e.g. 1234.5.",
        )
    amount = Decimal(text)
    if amount < 0:
        return None, "negative_value", f"{text} is negative: energy and register readings cannot be."
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the pattern allows no NaN or Infinity
    places = max(0, -exponent)
    if places > _MAX_DECIMALS:
        return None, "too_precise", f"{text} has more than {_MAX_DECIMALS} decimals."
    scaled = int(amount.scaleb(places))
    quotient, remainder = divmod(scaled * numerator, 10**places * denominator)
    if remainder:
        return None, "too_precise", ""  # the caller words it: it knows the unit and multiplier
    if quotient > _MAX_WH:
        return None, "value_too_large", f"{text} is too large to be a meter reading."
    return quotient, "", ""


def _cell_text(value: Any) -> str:
    """A cell as trimmed text, whatever its type (XLSX cells are typed)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A binary float from a numeric cell: repr() is the shortest text that reads back as the same
        # float, which is what the user typed (see sites/importer.py read_decimal).
        text = repr(value)
        if "e" in text or "E" in text:
            try:
                text = format(Decimal(text), "f")
            except InvalidOperation:
                pass
        return text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        # Spreadsheet date-times are day fractions: round to the second the user typed.
        if value.microsecond:
            value = value.replace(microsecond=0) + timedelta(seconds=round(value.microsecond / 1e6))
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return f"{value.isoformat()} (a time without a date)"
    return str(value).strip()


# --- parsed rows ----------------------------------------------------------------------------------


class MeterRows:
    """A meter's good rows from the file, compact, and what reading its rows needs.

    While parsing, the rows are packed into one bytearray as (start, end, value, row number)
    quadruples of 64-bit integers, 32 bytes a row: `buffer += pack(...)` is the cheapest way
    CPython has to keep four integers (an `array.extend` costs three times as much).
    `columns()` splits it once into four `array('q')`. Interval meters: value =
    energy_wh. Cumulative meters: start = end = the instant of the reading, value = register_wh
    (value × unit factor, without the multiplier).
    """

    __slots__ = (
        "spec",
        "buffer",
        "_columns",
        "ordered",
        "last_end",
        "zone",
        "numerator",
        "denominator",
        "divisors",
        "factors",
        "low",
        "high",
        "capped",
        "cap_numerator",
        "cap_denominator",
        "modulus",
        "multiplier_numerator",
        "multiplier_denominator",
    )

    def __init__(self, spec: MeterSpec, zone: _Zone, horizon: int) -> None:
        self.spec = spec
        self.buffer: bytearray | None = bytearray()
        # True while each row starts at or after the previous row's end (strictly after, for
        # register readings): sorted, no duplicate, no overlap. Parsing keeps it for free, and it
        # spares `check_sequences` its passes over the usual, well-ordered file.
        self.ordered = True
        self.last_end = _FAR_PAST
        self._columns: tuple[array[int], array[int], array[int], array[int]] | None = None
        self.zone = zone
        factor = UNIT_WH.get(spec.unit)
        if factor is None:
            raise ValueError(f"meter {spec.meter_id}: unknown unit {spec.unit!r}")
        mult_n, mult_d = Decimal(spec.multiplier).as_integer_ratio()
        if mult_n <= 0:
            raise ValueError(f"meter {spec.meter_id}: the multiplier must be positive")
        self.multiplier_numerator, self.multiplier_denominator = mult_n, mult_d
        if spec.cumulative:
            self.numerator, self.denominator = factor, 1  # the register, without the multiplier
        else:
            self.numerator, self.denominator = factor * mult_n, mult_d
        # value × numerator / divisors[decimals] is the value in Wh, for value's digits as an integer.
        self.divisors = [10**k * self.denominator for k in range(_MAX_DECIMALS + 1)]
        # ... or simply × factors[decimals] when that is exact (kWh with up to 3 decimals): else 0.
        self.factors = [
            self.numerator // divisor if self.numerator % divisor == 0 else 0 for divisor in self.divisors
        ]
        # Every window in one [low, high]: crediting, the meter's service, and the clock.
        if spec.credit_from is None:
            self.low = _FAR_FUTURE  # not crediting: nothing passes the fast path
        else:
            self.low = max(spec.credit_from, _FAR_PAST if spec.active_from is None else spec.active_from)
        self.high = min(
            _FAR_FUTURE if spec.credit_until is None else spec.credit_until,
            _FAR_FUTURE if spec.active_until is None else spec.active_until,
            horizon,
        )
        self.capped = spec.capacity_kw is not None and spec.role in CAPPED_ROLES
        if spec.capacity_kw is not None:
            cap_n, cap_d = Decimal(spec.capacity_kw).as_integer_ratio()
            # energy ≤ floor(kW × 1000 × s / 3600) ⇔ energy × cap_denominator ≤ cap_numerator × s
            self.cap_numerator, self.cap_denominator = cap_n * 1000, cap_d * 3600
        else:
            self.cap_numerator, self.cap_denominator = 0, 1
        self.modulus = 10**spec.register_digits * factor if spec.register_digits else _FAR_FUTURE

    @property
    def meter_id(self) -> int:
        return self.spec.meter_id

    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns[0])
        return len(self.buffer) // _ROW.size if self.buffer is not None else 0

    def columns(self) -> tuple[array[int], array[int], array[int], array[int]]:
        """(starts, ends, values, row numbers), in file order until `check_sequences` sorts them."""
        if self._columns is None:
            assert self.buffer is not None
            data = array("q")
            data.frombytes(self.buffer)
            self.buffer = None  # keep memory near one copy of the rows
            self._columns = (data[0::4], data[1::4], data[2::4], data[3::4])
        return self._columns

    def range(self) -> tuple[int, int]:
        """(first start, last end) of the file's rows for the meter."""
        if self.ordered and self.buffer is not None:
            return _ROW.unpack_from(self.buffer, 0)[0], _ROW.unpack_from(
                self.buffer, len(self.buffer) - _ROW.size
            )[1]
        starts, ends, _, _ = self.columns()
        if self.ordered:
            return starts[0], ends[-1]
        return min(starts), max(ends)


@dataclass
class ParsedReadings:
    """Phase 1: the file's good rows per meter, and every row and file error."""

    meters: dict[int, MeterRows]  # by meter id, meters with at least one good row
    errors: list[RowError]  # the first MAX_ERRORS_KEPT, by row
    error_count: int
    rows_total: int  # data rows (blank rows not counted), good or not
    lines_read: int = 0  # rows of the file read, header and blank rows included
    _sink: _ErrorSink = field(repr=False, default_factory=_ErrorSink)

    @property
    def rows_good(self) -> int:
        return sum(len(rows) for rows in self.meters.values())

    def ranges(self) -> dict[int, tuple[int, int]]:
        """Per meter, the first start and last end in the file: what to load stored readings for."""
        return {meter_id: rows.range() for meter_id, rows in self.meters.items()}

    def is_cumulative(self, meter_id: int) -> bool:
        return self.meters[meter_id].spec.cumulative

    def add_file_error(self, code: str, message: str) -> None:
        self._sink.add(FILE, "", code, message)
        self.errors, self.error_count = self._sink.result(), self._sink.count

    def drop_errors(self, *codes: str) -> None:
        """Forget file errors a reader knows better about (an "empty" file it could not decode)."""
        dropped = [error for error in self._sink.kept if error.row == FILE and error.code in codes]
        for error in dropped:
            self._sink.kept.remove(error)
        self._sink.count -= len(dropped)
        self.errors, self.error_count = self._sink.result(), self._sink.count


def _file_error(code: str, message: str) -> ParsedReadings:
    sink = _ErrorSink()
    sink.add(FILE, "", code, message)
    return ParsedReadings({}, sink.result(), sink.count, 0, _sink=sink)


# --- phase 1: parse ---------------------------------------------------------------------------------


def parse(
    rows: Iterable[Sequence[Any]],
    meters: Mapping[tuple[str, str], MeterSpec],
    *,
    now: int,
    max_future_s: int = MAX_FUTURE_S,
) -> ParsedReadings:
    """Read every row (the first non-blank one is the header) into per-meter columns.

    `meters` is keyed by (site reference casefolded, normalised serial) and holds only the meters
    the uploader may write to. Row numbers count from 1 with the header's row as the user sees it.
    """
    sink = _ErrorSink()
    found: dict[int, MeterRows] = {}
    iterator = iter(rows)
    line = 0
    header: Sequence[Any] | None = None
    for candidate in iterator:
        line += 1
        if any(_cell_text(cell) for cell in candidate):
            header = candidate
            break
    if header is None:
        sink.add(FILE, "", "empty_file", "The file is empty: it needs a header row and readings.")
        return ParsedReadings(found, sink.result(), sink.count, 0, line, _sink=sink)
    positions, unnamed, usable = _read_header(line, header, sink)
    if not usable:
        return ParsedReadings(found, sink.result(), sink.count, 0, line, _sink=sink)
    context = _Context(meters, now, now + max_future_s, sink)
    if positions != list(range(len(TEMPLATE_COLUMNS))) or len(header) != len(TEMPLATE_COLUMNS):
        # Columns in another order, or more of them: hand the loop rows in the template's order.
        iterator = _standardised(iterator, line, positions, unnamed, len(header), context)
    bad = 0  # data rows with errors; good rows are counted by the meters' arrays
    by_pair: dict[tuple[Any, Any], MeterRows | None] = {}

    # The meter of the previous row, unpacked into locals (files come grouped by meter).
    last_site: Any = _MISSING
    last_serial: Any = _MISSING
    cumulative = capped = False
    tget: Callable[[Any], int | None] = {}.get
    zone: Any = None
    numerator = 1
    low = high = cap_n = cap_d = modulus = 0
    divisors: list[int] = []
    factors: list[int] = []
    cap_duration = cap_max = -1  # the capacity limit of the last interval length seen
    buffer = bytearray()  # the current meter's rows
    active: MeterRows | None = None  # the meter whose locals these are
    last_end = _FAR_PAST
    pack = _ROW.pack

    for raw in iterator:
        line += 1
        try:
            site, serial, start_text, end_text, value_text = raw
            if site != last_site or serial != last_serial:
                pair = (site, serial)
                current = by_pair.get(pair, _MISSING)
                if current is _MISSING:
                    if len(by_pair) >= _PAIR_CACHE_SIZE:
                        by_pair.clear()  # a file of many unknown meters: keep memory bounded
                    current = by_pair[pair] = context.meter_rows(site, serial)
                if current is None:
                    last_site = _MISSING  # resolve the next row afresh
                    bad += context.unknown(raw, line, site, serial)
                    continue
                if active is not None:
                    active.last_end = last_end
                active = current
                last_end = current.last_end
                cumulative = current.spec.cumulative
                zone = current.zone
                tget = zone.seen.get
                numerator, divisors, factors = current.numerator, current.divisors, current.factors
                low, high = current.low, current.high
                capped, cap_n, cap_d = current.capped, current.cap_numerator, current.cap_denominator
                cap_duration = -1
                modulus = current.modulus
                buffer = current.buffer
                last_site, last_serial = site, serial

            # The value in whole Wh with integer arithmetic: plain non-negative decimals only.
            whole, _, fraction = value_text.partition(".")
            digits = whole + fraction
            if not digits.isdigit():
                raise _Slow
            decimals = len(fraction)
            factor = factors[decimals]  # IndexError past _MAX_DECIMALS: the slow path
            if factor:
                wh = int(digits) * factor
            else:
                scaled = int(digits) * numerator
                divisor = divisors[decimals]
                if scaled % divisor:
                    raise _Slow
                wh = scaled // divisor

            if cumulative:
                if start_text and start_text != end_text:
                    raise _Slow
                end = tget(end_text)
                if end is None:
                    end = _instant(end_text, zone)
                    if end is None:
                        raise _Slow
                if end < low or end > high or wh >= modulus:
                    raise _Slow
                buffer += pack(end, end, wh, line)
                if end <= last_end:
                    active.ordered = False  # type: ignore[union-attr]
                last_end = end
            else:
                start = tget(start_text)
                if start is None:
                    start = _instant(start_text, zone)
                    if start is None:
                        raise _Slow
                end = tget(end_text)
                if end is None:
                    end = _instant(end_text, zone)
                    if end is None:
                        raise _Slow
                if start < low or end > high or end <= start:
                    raise _Slow
                if capped:
                    if end - start != cap_duration:
                        cap_duration = end - start
                        cap_max = cap_n * cap_duration // cap_d  # floor(kW × 1000 × s / 3600)
                    if wh > cap_max:
                        raise _Slow
                buffer += pack(start, end, wh, line)
                if start < last_end:
                    active.ordered = False  # type: ignore[union-attr]
                last_end = end
        except (
            _Slow,
            AttributeError,
            TypeError,
            ValueError,
            IndexError,
            KeyError,
            OverflowError,
            struct.error,
        ):
            # Anything unusual: the complete reading of the row decides, and words the errors.
            bad += context.slow_row(raw, line)

    for meter_id, rows_of in context.specs.items():
        if len(rows_of):
            found[meter_id] = rows_of
    total = bad + context.refused + sum(len(rows_of) for rows_of in found.values())
    if total == 0 and sink.count == 0:
        sink.add(FILE, "", "no_rows", "The file has a header but no readings.")
    return ParsedReadings(found, sink.result(), sink.count, total, line, _sink=sink)


class _Slow(Exception):
    """Raised inside the hot loop: this row needs the complete reading."""


_MISSING: Any = object()
_REFUSED: Any = object()
_WIDTH = len(TEMPLATE_COLUMNS)


def _standardised(
    rows: Iterator[Sequence[Any]],
    line: int,
    positions: list[int],
    unnamed: list[int],
    width: int,
    context: _Context,
) -> Iterator[Sequence[Any]]:
    """Rows with the columns in the template's order; a row refused here comes out blank."""
    get = itemgetter(*positions)
    sink = context.sink
    for raw in rows:
        line += 1
        if len(raw) != width:
            fitted = _fit(raw, width, line, sink)
            if fitted is None or fitted is _REFUSED:
                context.refused += fitted is _REFUSED
                yield ()
                continue
            raw = fitted
        if unnamed and any(_cell_text(raw[index]) for index in unnamed):
            sink.add(
                line, "", "unnamed_column", "This row has values in a column without a header: remove them."
            )
            context.refused += 1
            yield ()
            continue
        yield get(raw)


class _Context:
    """What the slow path of `parse` needs: the meters, their rows, the clock and the errors."""

    def __init__(
        self, meters: Mapping[tuple[str, str], MeterSpec], now: int, horizon: int, sink: _ErrorSink
    ) -> None:
        self.meters = meters
        self.now = now
        self.horizon = horizon
        self.sink = sink
        self.refused = 0  # rows refused before the loop saw them (see _standardised)
        self.zones: dict[str | None, _Zone] = {}
        self.specs: dict[int, MeterRows] = {}  # by meter id, in order of first appearance

    def meter_rows(self, site: Any, serial: Any) -> MeterRows | None:
        site_text, serial_text = _cell_text(site), _cell_text(serial)
        if not site_text or not serial_text:
            return None
        spec = self.meters.get((site_text.casefold(), normalise_serial(serial_text)))
        if spec is None:
            return None
        rows = self.specs.get(spec.meter_id)
        if rows is None:
            zone = self.zones.get(spec.timezone)
            if zone is None:
                zone = self.zones[spec.timezone] = _Zone(spec.timezone)
            rows = self.specs[spec.meter_id] = MeterRows(spec, zone, self.horizon)
        return rows

    def unknown(self, cells: Sequence[Any], line: int, site: Any, serial: Any) -> int:
        """1 after reporting a row of an unknown meter; 0 for a blank row."""
        if not any(_cell_text(cell) for cell in cells):
            return 0
        site_text, serial_text = _shown(_cell_text(site)), _shown(_cell_text(serial))
        if not site_text or not serial_text:
            column = "site_ref" if not site_text else "meter_serial"
            self.sink.add(line, column, "required", f"Give the {column}.")
            return 1
        # The same words whether the site or meter does not exist or the uploader may not write to it.
        self.sink.add(
            line,
            "meter_serial",
            "unknown_meter",
            f"Unknown site or meter: site {site_text}, meter {serial_text}. Check the reference and "
            "the serial; you can only send readings for sites you operate.",
            f"{site_text} / {serial_text}",
        )
        return 1

    def slow_row(self, raw: Any, line: int) -> int:
        """Read one row completely; 1 when it has errors, 0 when it is good or blank."""
        try:
            cells = list(raw)
        except TypeError:
            return 0
        if len(cells) != _WIDTH:
            fitted = _fit(cells, _WIDTH, line, self.sink)
            if fitted is None:
                return 0
            if fitted is _REFUSED:
                return 1
            cells = fitted
        site, serial, start_raw, end_raw, value_raw = cells
        try:
            rows = self.meter_rows(site, serial)
        except TypeError:
            rows = None
        if rows is None:
            return self.unknown(cells, line, site, serial)
        good = _diagnose(rows, line, start_raw, end_raw, value_raw, self.now, self.horizon, self.sink)
        if good is None:
            return 1
        assert rows.buffer is not None
        rows.buffer += _ROW.pack(*good, line)
        rows.ordered = False  # its neighbours came the fast way: check_sequences checks the order
        return 0


def _fit(raw: Sequence[Any], width: int, line: int, sink: _ErrorSink) -> Any:
    """A row of another length than the header: padded, trimmed, None when blank, or refused."""
    cells = list(raw)
    if not any(_cell_text(cell) for cell in cells):
        return None
    if len(cells) < width:
        return cells + [""] * (width - len(cells))
    if any(_cell_text(cell) for cell in cells[width:]):
        sink.add(
            line,
            "",
            "extra_values",
            "This row has more values than the header has columns: remove them, or check for a "
            "separator inside a value.",
            ", ".join(_cell_text(cell) for cell in cells[width:] if _cell_text(cell)),
        )
        return _REFUSED
    return cells[:width]


def _read_header(line: int, header: Sequence[Any], sink: _ErrorSink) -> tuple[list[int], list[int], bool]:
    """Positions of the five columns, positions of unnamed columns, and whether rows can be read."""
    positions: dict[str, int] = {}
    unnamed: list[int] = []
    usable = True
    for index, cell in enumerate(header):
        original = _cell_text(cell)
        name = original.lower().lstrip("\ufeff")
        if not name:
            unnamed.append(index)
        elif name in positions:
            sink.add(line, name, "duplicate_column", f"Column {name} appears twice.", original)
            usable = False
        elif name not in _COLUMN_ORDER:
            sink.add(
                line,
                original,
                "unknown_column",
                f"Unknown column {original}: the file has exactly the columns {', '.join(TEMPLATE_COLUMNS)}.",
                original,
            )
        else:
            positions[name] = index
    for name in TEMPLATE_COLUMNS:
        if name not in positions:
            sink.add(line, name, "missing_column", f"The file needs a {name} column.")
            usable = False
    return [positions.get(name, 0) for name in TEMPLATE_COLUMNS], unnamed, usable


def _diagnose(
    rows: MeterRows,
    line: int,
    start_raw: Any,
    end_raw: Any,
    value_raw: Any,
    now: int,
    horizon: int,
    sink: _ErrorSink,
) -> tuple[int, int, int] | None:
    """The complete reading of one row: its (start, end, Wh), or None after adding its errors."""
    spec, zone = rows.spec, rows.zone
    errors: list[tuple[str, str, str, Any]] = []  # column, code, message, value

    def instant(column: str, raw: Any) -> int | None:
        seconds, code, message = _resolve(raw, zone)
        if seconds is None:
            errors.append((column, code, message or f"Give the {column}.", raw))
        return seconds

    value_text = _cell_text(value_raw)
    wh, code, message = _read_value(value_raw, rows.numerator, rows.denominator)
    if wh is None:
        if code == "too_precise" and not message:
            if spec.cumulative:
                exact = Decimal(value_text) * UNIT_WH[spec.unit]
                message = (
                    f"{value_text} {spec.unit} is {exact.normalize():f} Wh: register readings are kept "
                    "to the watt-hour."
                )
            else:
                exact = Decimal(value_text) * UNIT_WH[spec.unit] * spec.multiplier
                message = (
                    f"{value_text} {spec.unit} × multiplier {spec.multiplier} is {exact.normalize():f} Wh: "
                    "readings are kept to the watt-hour."
                )
        errors.append(("value", code, message, value_raw))

    start_text, end_text = _cell_text(start_raw), _cell_text(end_raw)
    if spec.cumulative:
        end = instant("reading_end", end_raw)
        start = end
        if start_text and end is not None:
            other, _, _ = _resolve(start_raw, zone)
            if other != end:
                errors.append(
                    (
                        "reading_start",
                        "start_not_blank",
                        f"Meter {spec.serial} gives register readings: leave reading_start empty and "
                        "put the time of the reading in reading_end.",
                        start_raw,
                    )
                )
        if wh is not None and wh >= rows.modulus:
            errors.append(
                (
                    "value",
                    "register_out_of_range",
                    f"{value_text} {spec.unit} has more digits than meter {spec.serial}'s "
                    f"{spec.register_digits}-digit register.",
                    value_raw,
                )
            )
    else:
        start = instant("reading_start", start_raw)
        end = instant("reading_end", end_raw)
        if start is not None and end is not None and end <= start:
            errors.append(
                (
                    "reading_end",
                    "end_before_start",
                    f"The reading ends ({end_text}) before or when it starts ({start_text}).",
                    end_raw,
                )
            )
            start = end = None

    if start is not None and end is not None:
        where = "reading_end"
        shown = end_raw
        if end > horizon:
            errors.append(
                (
                    where,
                    "future_timestamp",
                    f"{end_text} is in the future (it is now {_show_instant(now, spec.timezone)}): "
                    "check the logger's clock.",
                    shown,
                )
            )
        elif spec.credit_from is None:
            errors.append(
                (
                    where,
                    "outside_crediting_period",
                    f"Site {spec.site_ref} is not in a crediting period: its readings cannot be "
                    "accepted yet.",
                    shown,
                )
            )
        elif start < spec.credit_from or (spec.credit_until is not None and end > spec.credit_until):
            period = (
                f"from {_show_instant(spec.credit_from, spec.timezone)}"
                if spec.credit_until is None
                else f"{_show_instant(spec.credit_from, spec.timezone)} to "
                f"{_show_instant(spec.credit_until, spec.timezone)}"
            )
            what = end_text if spec.cumulative else f"{start_text} to {end_text}"
            errors.append(
                (
                    "reading_start" if not spec.cumulative and start < spec.credit_from else where,
                    "outside_crediting_period",
                    f"The reading ({what}) is outside site {spec.site_ref}'s crediting period ({period}).",
                    start_raw if not spec.cumulative and start < spec.credit_from else shown,
                )
            )
        if (spec.active_from is not None and start < spec.active_from) or (
            spec.active_until is not None and end > spec.active_until
        ):
            service = (
                f"installed {_show_instant(spec.active_from, spec.timezone)}" if spec.active_from else ""
            )
            if spec.active_until is not None:
                removed = f"removed {_show_instant(spec.active_until, spec.timezone)}"
                service = f"{service}, {removed}" if service else removed
            what = end_text if spec.cumulative else f"{start_text} to {end_text}"
            errors.append(
                (
                    where,
                    "meter_not_active",
                    f"Meter {spec.serial} was not in service for this reading ({what}; {service}).",
                    shown,
                )
            )
        if wh is not None and not spec.cumulative and rows.capped:
            limit = max_interval_energy_wh(spec.capacity_kw, end - start)
            if limit is not None and wh > limit:
                hours = Decimal(end - start) / 3600
                errors.append(
                    (
                        "value",
                        "above_capacity",
                        f"{wh} Wh in {hours.normalize():f} h is more than site {spec.site_ref}'s capacity "
                        f"allows ({spec.capacity_kw} kW × {hours.normalize():f} h = {limit} Wh).",
                        value_raw,
                    )
                )
    if errors:
        for column, code, message, value in errors:
            sink.add(line, column, code, message, _cell_text(value))
        return None
    assert start is not None and end is not None and wh is not None
    return start, end, wh


# --- readers ----------------------------------------------------------------------------------------


def parse_csv_stream(
    fileobj: IO[bytes],
    meters: Mapping[tuple[str, str], MeterSpec],
    *,
    now: int,
    max_future_s: int = MAX_FUTURE_S,
    progress: Callable[[int], None] | None = None,
) -> ParsedReadings:
    """A comma- or semicolon-separated UTF-8 file (with or without a BOM), streamed.

    Never the whole file in memory: it is read in blocks of about a megabyte. The caller keeps
    ownership of `fileobj` (it is not closed). `progress`, if given, is called with the bytes read
    so far after each block.
    """
    # Undecodable bytes become lone surrogates instead of an exception in the middle of a block,
    # so every row before the first one is read and the error names its line.
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="surrogateescape", newline="")
    problems: list[tuple[str, str]] = []
    try:
        records = _csv_records(text, problems, lambda: progress(_tell(fileobj)) if progress else None)
        parsed = parse(records, meters, now=now, max_future_s=max_future_s)
    finally:
        text.detach()
    if problems:
        parsed.drop_errors("empty_file", "no_rows")  # the real problem is the one below
    for code, message in problems:
        parsed.add_file_error(code, message.format(line=parsed.lines_read + 1))
    return parsed


_CSV_BLOCK = 1 << 20  # characters read at a time
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8
_NOT_UTF8 = (
    "not_utf8",
    "The file is not UTF-8 text: line {line} has a character that cannot be read. Save the file as "
    "'CSV UTF-8'. Nothing from that line on was read.",
)


def _csv_records(
    text: IO[str], problems: list[tuple[str, str]], report: Callable[[], None]
) -> Iterator[list[str]]:
    """The file's records. Blocks without quotes or bare carriage returns are split with str.split,
    which gives the csv module's fields at twice its speed, in C iterators (no Python frame a
    row); from the first block with either, the csv module reads the rest of the file."""
    first = text.readline()
    if not first.isascii() and _UNDECODABLE.search(first):
        problems.append(_NOT_UTF8)
        return iter(())
    delimiter = ";" if first.count(";") > first.count(",") else ","
    if '"' in first or "\r" in first.rstrip("\r\n"):
        return _guarded(csv.reader(chain((first,), text), delimiter=delimiter), problems)
    header = first.rstrip("\r\n").split(delimiter)
    return chain((header,), chain.from_iterable(_csv_blocks(text, delimiter, problems, report)))


def _csv_blocks(
    text: IO[str], delimiter: str, problems: list[tuple[str, str]], report: Callable[[], None]
) -> Iterator[Iterator[list[str]]]:
    rest = ""
    while True:
        chunk = text.read(_CSV_BLOCK)
        report()
        if not chunk:
            if rest:  # the last line, without a line break
                yield _guarded(csv.reader(io.StringIO(rest, newline=""), delimiter=delimiter), problems)
            return
        chunk = rest + chunk
        if not chunk.isascii() and (bad := _UNDECODABLE.search(chunk)):
            # Read up to the line with the undecodable character, then stop.
            chunk = chunk[: chunk.rfind("\n", 0, bad.start()) + 1]
            problems.append(_NOT_UTF8)
            text = io.StringIO("")
        cut = chunk.rfind("\n") + 1
        if cut == 0 and len(chunk) <= 4 * _CSV_BLOCK and not problems:
            rest = chunk  # a long line: read on
            continue
        block = chunk[:cut].replace("\r\n", "\n")
        if cut == 0 or '"' in block or "\r" in block:
            # Quotes, carriage returns or an endless line: the csv module, from this block on,
            # given whole lines (it ends a record at the end of each item it reads).
            lines = chain(io.StringIO(chunk + text.readline(), newline=""), text)
            yield _guarded(csv.reader(lines, delimiter=delimiter), problems)
            return
        rest = chunk[cut:]
        lines = block.split("\n")
        lines.pop()  # the empty text after the last line break
        yield map(str.split, lines, repeat(delimiter))
        if problems:
            return


def _guarded(reader: Iterator[list[str]], problems: list[tuple[str, str]]) -> Iterator[list[str]]:
    """The csv module's records, stopping at an undecodable character or a CSV error."""
    try:
        for row in reader:
            if not all(map(str.isascii, row)) and any(map(_UNDECODABLE.search, row)):
                if _NOT_UTF8 not in problems:
                    problems.append(_NOT_UTF8)
                return
            yield row
    except csv.Error as error:
        problems.append(
            (
                "not_csv",
                f"The file is not valid CSV near line {{line}}: {error}. Check the quotes. "
                "Nothing after that was read.",
            )
        )


def _tell(fileobj: IO[bytes]) -> int:
    try:
        return fileobj.tell()
    except (OSError, ValueError):
        return 0


def parse_xlsx_bytes(
    data: bytes,
    meters: Mapping[tuple[str, str], MeterSpec],
    *,
    now: int,
    max_future_s: int = MAX_FUTURE_S,
) -> ParsedReadings:
    """The sheet named Readings, or the first sheet, of an XLSX workbook."""
    if not data:
        return _file_error("empty_file", "The file is empty.")
    if len(data) > MAX_XLSX_BYTES:
        return _file_error(
            "file_too_large",
            f"The workbook is larger than {MAX_XLSX_BYTES // 2**20} MB: send the readings as CSV.",
        )
    not_xlsx = ("not_xlsx", "The file is not an XLSX workbook. Save it as 'Excel Workbook (.xlsx)'.")
    # An XLSX file is a ZIP archive: check what it would expand to before openpyxl inflates it
    # (ASVS 5.0 V5.2.3), as sites/importer.py does. zipfile never inflates an entry past its
    # declared size, so the declared sizes bound the real ones.
    if not data.startswith(b"PK\x03\x04"):
        return _file_error(*not_xlsx)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return _file_error(*not_xlsx)
    if len(entries) > MAX_ZIP_ENTRIES:
        return _file_error("too_many_entries", f"The workbook has more than {MAX_ZIP_ENTRIES} parts.")
    if sum(entry.file_size for entry in entries) > MAX_XLSX_UNCOMPRESSED_BYTES:
        return _file_error(
            "archive_too_large",
            f"The workbook would expand to more than {MAX_XLSX_UNCOMPRESSED_BYTES // 2**20} MB: "
            "send the readings as CSV.",
        )
    try:
        # data_only: a formula's last computed value, never the formula; openpyxl reads the XML
        # through defusedxml (a dependency), so entities are refused.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # a hostile or broken file can fail anywhere inside openpyxl
        return _file_error(*not_xlsx)
    broken: list[bool] = []

    def records(sheet: Any) -> Iterator[list[str]]:
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [_cell_text(value) for value in values]
        except Exception:
            broken.append(True)

    try:
        sheet = workbook[SHEET_NAME] if SHEET_NAME in workbook.sheetnames else workbook.worksheets[0]
        # Some writers record wrong dimensions; read what is there. Rows come from row 1, empty
        # ones included, so the count is the sheet's row number.
        sheet.reset_dimensions()
        parsed = parse(records(sheet), meters, now=now, max_future_s=max_future_s)
    except Exception:
        return _file_error(*not_xlsx)
    finally:
        workbook.close()
    if broken:
        parsed.add_file_error(not_xlsx[0], "The workbook could not be read to the end: " + not_xlsx[1])
    return parsed


def parse_file(
    filename: str,
    fileobj: IO[bytes],
    meters: Mapping[tuple[str, str], MeterSpec],
    *,
    now: int,
    max_future_s: int = MAX_FUTURE_S,
) -> ParsedReadings:
    """A .csv or .xlsx upload, by its extension."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension == "csv":
        return parse_csv_stream(fileobj, meters, now=now, max_future_s=max_future_s)
    if extension == "xlsx":
        data = fileobj.read(MAX_XLSX_BYTES + 1)
        return parse_xlsx_bytes(data, meters, now=now, max_future_s=max_future_s)
    return _file_error("unsupported_file", "Upload a .csv or .xlsx file.")


# --- phase 2: sequences and stored readings ------------------------------------------------------------


Row = tuple[int, int, int, int, int | None, int]  # meter_id, start, end, energy_wh, register_wh, flags


@dataclass
class CheckedReadings:
    """Phase 2: the rows to insert (only when there are no errors) and every error."""

    errors: list[RowError]
    error_count: int
    already_stored: int  # rows identical to stored ones, skipped: a re-sent file stores nothing twice
    rows_total: int
    rows_new: int  # rows `rows_for_insert` yields
    _batches: list[tuple[int, Callable[[], Iterator[Row]]]] = field(repr=False, default_factory=list)

    def rows_for_insert(self) -> Iterator[Row]:
        """(meter_id, start, end, energy_wh, register_wh or None, flags) by meter id, then start.

        The unique index's order (meter, start), which keeps the insert fast (performance.md).
        """
        if self.error_count:
            raise ValueError("the file has errors: nothing may be written")
        for _, batch in sorted(self._batches, key=itemgetter(0)):
            yield from batch()


def check_sequences(parsed: ParsedReadings, stored: Mapping[int, StoredTail]) -> CheckedReadings:
    """Per meter: order, duplicates and overlaps in the file, registers to intervals, stored readings."""
    sink = _ErrorSink()
    for error in parsed.errors:
        sink.kept.append(error)
    sink.count = parsed.error_count
    already = 0
    new = 0
    batches: list[tuple[int, Callable[[], Iterator[Row]]]] = []
    for meter_id, rows in parsed.meters.items():
        tail = stored.get(meter_id)
        _sort(rows)
        if rows.spec.cumulative:
            skipped, batch, count = _check_cumulative(rows, tail, sink)
        else:
            skipped, batch, count = _check_intervals(rows, tail, sink)
        already += skipped
        new += count
        batches.append((meter_id, batch))
    return CheckedReadings(sink.result(), sink.count, already, parsed.rows_total, new, batches)


def _sort(rows: MeterRows) -> None:
    """Sort the meter's columns by start then end, unless they already are (the usual case)."""
    starts, ends, values, lines = rows.columns()
    if rows.ordered or all(map(le, starts, islice(starts, 1, None))):
        return
    order = sorted(range(len(starts)), key=lambda i: (starts[i], ends[i]))
    rows._columns = tuple(array("q", [column[i] for i in order]) for column in (starts, ends, values, lines))


def _check_intervals(
    rows: MeterRows, tail: StoredTail | None, sink: _ErrorSink
) -> tuple[int, Callable[[], Iterator[Row]], int]:
    starts, ends, values, lines = rows.columns()
    spec = rows.spec
    # Sorted, each ending at or before the next starts: no duplicate and no overlap (C speed).
    if not rows.ordered and not all(map(le, ends, islice(starts, 1, None))):
        latest_end, latest_index = ends[0], 0
        for i in range(1, len(starts)):
            if starts[i] == starts[i - 1]:
                sink.add(
                    lines[i],
                    "reading_start",
                    "duplicate_interval",
                    f"Another reading of meter {spec.serial} starts at the same time, on row {lines[i - 1]}.",
                    _show_instant(starts[i], spec.timezone),
                )
            elif starts[i] < latest_end:
                j = latest_index
                sink.add(
                    lines[i],
                    "reading_start",
                    "overlapping_interval",
                    f"This reading ({_show_instant(starts[i], spec.timezone)} to "
                    f"{_show_instant(ends[i], spec.timezone)}) overlaps the one on row {lines[j]} "
                    f"({_show_instant(starts[j], spec.timezone)} to "
                    f"{_show_instant(ends[j], spec.timezone)}).",
                    _show_instant(starts[i], spec.timezone),
                )
            if ends[i] > latest_end:
                latest_end, latest_index = ends[i], i
    keep: bytearray | None = None
    skipped = 0
    if tail is not None and tail.readings:
        keep, skipped = _against_stored(rows, starts, ends, values, lines, tail.readings, sink)
    meter_id = spec.meter_id
    count = len(starts) - skipped

    def batch() -> Iterator[Row]:
        n = len(starts)
        rows_iter = zip(repeat(meter_id, n), starts, ends, values, repeat(None, n), repeat(0, n), strict=True)
        return compress(rows_iter, keep) if keep is not None else rows_iter

    return skipped, batch, count


def _against_stored(
    rows: MeterRows,
    starts: Sequence[int],
    ends: Sequence[int],
    energies: Sequence[int],
    lines: Sequence[int],
    stored: Sequence[tuple[int, int, int]],
    sink: _ErrorSink,
) -> tuple[bytearray | None, int]:
    """Rows identical to a stored reading are skipped; any other contact with one is an error."""
    n = len(starts)
    if len(stored) == n and [tuple(r) for r in stored] == list(zip(starts, ends, energies, strict=True)):
        return bytearray(n), n  # the whole file was sent before
    spec = rows.spec
    keep = bytearray(b"\x01") * n
    skipped = 0
    stored = sorted(stored)
    j = 0
    m = len(stored)
    for i in range(n):
        s, e, energy = starts[i], ends[i], energies[i]
        while j < m and stored[j][1] < s:
            j += 1
        k = j
        while k < m and stored[k][0] <= e:
            s2, e2, energy2 = stored[k]
            if s2 == s and e2 == e and energy2 == energy:
                keep[i] = 0
                skipped += 1
            elif _collides(s, e, s2, e2):
                sink.add(
                    lines[i],
                    "reading_start",
                    "conflicts_with_stored",
                    f"This reading ({_show_instant(s, spec.timezone)} to {_show_instant(e, spec.timezone)}, "
                    f"{energy} Wh) conflicts with a stored reading ({_show_instant(s2, spec.timezone)} to "
                    f"{_show_instant(e2, spec.timezone)}, {energy2} Wh); submit a correction instead.",
                    _show_instant(s, spec.timezone),
                )
                break
            k += 1
    return keep, skipped


def _collides(s: int, e: int, s2: int, e2: int) -> bool:
    """Two readings that cannot both stand: intervals overlap, or a point reading falls inside one."""
    if s < e and s2 < e2:
        return s < e2 and s2 < e
    if s == e and s2 == e2:
        return s == s2
    if s == e:
        return s2 < s < e2
    return s < s2 < e


def _check_cumulative(
    rows: MeterRows, tail: StoredTail | None, sink: _ErrorSink
) -> tuple[int, Callable[[], Iterator[Row]], int]:
    """Register readings to intervals: each from the reading before it (in the file, else stored).

    The first reading a meter ever has is an opening reading, stored as a point (start = end,
    0 Wh) so the next one has something to count from.
    """
    spec = rows.spec
    _, instants, registers, lines = rows.columns()
    n = len(instants)
    out_start, out_end, out_energy, out_register = array("q"), array("q"), array("q"), array("q")
    out_line = array("q")
    flags: dict[int, int] = {}  # index in the out columns → flags; nearly always empty
    skipped = 0
    previous: tuple[int, int] | None = None
    if tail is not None and tail.last_register is not None:
        previous = (int(tail.last_register[0]), int(tail.last_register[1]))
    mult_n, mult_d = rows.multiplier_numerator, rows.multiplier_denominator
    modulus = None if spec.register_digits is None else rows.modulus
    cap_n, cap_d, capped = rows.cap_numerator, rows.cap_denominator, rows.capped
    zone_name = spec.timezone
    in_order = rows.ordered or all(map(lt, instants, islice(instants, 1, None)))
    for i in range(n):
        t, register, line = instants[i], registers[i], lines[i]
        if not in_order and i and t == instants[i - 1]:
            sink.add(
                line,
                "reading_end",
                "duplicate_timestamp",
                f"Meter {spec.serial} has another reading at the same time, on row {lines[i - 1]}.",
                _show_instant(t, zone_name),
            )
            continue
        if previous is not None and previous[0] > t:
            previous = None  # a stored reading after this one: the stored readings decide below
        if previous is None:
            out_start.append(t)
            out_end.append(t)
            out_energy.append(0)
        elif previous[0] == t:
            # The stored reading at the same instant: identical is a re-send, else a conflict.
            if previous[1] == register:
                skipped += 1
            else:
                sink.add(
                    line,
                    "value",
                    "conflicts_with_stored",
                    f"This register reading ({_register_text(register, spec)} at "
                    f"{_show_instant(t, zone_name)}) conflicts with a stored reading "
                    f"({_register_text(previous[1], spec)} at the same time); submit a correction instead.",
                    _register_text(register, spec),
                )
            previous = (t, register)
            continue
        else:
            at, before = previous
            duration = t - at
            limit = max_interval_energy_wh(spec.capacity_kw, duration)
            plausible = None if limit is None else limit * mult_d // mult_n  # in register Wh
            delta = register_delta(before, register, modulus_wh=modulus, max_plausible_wh=plausible)
            if delta is None:
                reason = (
                    "the meter's register digits are not recorded, so it cannot be a rollover"
                    if modulus is None
                    else "the site's capacity is not recorded, so a rollover cannot be checked"
                    if limit is None
                    else f"a rollover past {spec.register_digits} digits would mean more energy than the "
                    "site's capacity allows"
                )
                sink.add(
                    line,
                    "value",
                    "register_backwards",
                    f"The register went backwards, from {_register_text(before, spec)} at "
                    f"{_show_instant(at, zone_name)} to {_register_text(register, spec)}, and {reason}. "
                    "Check the reading; if the meter was replaced or reset, record that first.",
                    _register_text(register, spec),
                )
                previous = (t, register)
                continue
            advance, rolled = delta
            unwrapped = before + advance
            energy = unwrapped * mult_n // mult_d - before * mult_n // mult_d
            if capped and energy * cap_d > cap_n * duration:
                hours = Decimal(duration) / 3600
                sink.add(
                    line,
                    "value",
                    "above_capacity",
                    f"{energy} Wh since the reading at {_show_instant(at, zone_name)} "
                    f"({hours.normalize():f} h) is more than site {spec.site_ref}'s capacity allows "
                    f"({spec.capacity_kw} kW × "
                    f"{hours.normalize():f} h = {limit} Wh).",
                    _register_text(register, spec),
                )
                previous = (t, register)
                continue
            if rolled:
                flags[len(out_start)] = READING_FLAG_ROLLOVER
            out_start.append(at)
            out_end.append(t)
            out_energy.append(energy)
        out_register.append(register)
        out_line.append(line)
        previous = (t, register)
    keep: bytearray | None = None
    if tail is not None and tail.readings:
        keep, more = _against_stored(rows, out_start, out_end, out_energy, out_line, tail.readings, sink)
        skipped += more
    meter_id = spec.meter_id
    count = len(out_start) - (0 if keep is None else len(keep) - sum(keep))

    def batch() -> Iterator[Row]:
        size = len(out_start)
        flag_column = [flags.get(i, 0) for i in range(size)] if flags else repeat(0, size)
        rows_iter = zip(
            repeat(meter_id, size), out_start, out_end, out_energy, out_register, flag_column, strict=True
        )
        return compress(rows_iter, keep) if keep is not None else rows_iter

    return skipped, batch, count


def _register_text(register_wh: int, spec: MeterSpec) -> str:
    factor = UNIT_WH[spec.unit]
    return f"{(Decimal(register_wh) / factor).normalize():f} {spec.unit}"


# --- templates and error reports ------------------------------------------------------------------------

_COLUMN_HELP = (
    ("site_ref", "yes", "text", "The site's reference, as on the platform."),
    ("meter_serial", "yes", "text", "The meter's serial number, as on the site's record."),
    (
        "reading_start",
        "interval meters",
        "ISO 8601 date and time, e.g. 2025-03-01T00:00:00+07:00",
        "Start of the interval the energy was measured in. Leave empty for a register (cumulative) reading.",
    ),
    (
        "reading_end",
        "yes",
        "ISO 8601 date and time, e.g. 2025-03-02T00:00:00+07:00",
        "End of the interval (not included), or the moment of a register reading.",
    ),
    (
        "value",
        "yes",
        "number in the meter's unit (Wh, kWh or MWh), point for decimals, no exponent",
        "Energy in the interval, or the register's reading; the meter's multiplier is applied on import.",
    ),
)
_EXAMPLE_ROWS = (
    ("CPA-0001", "MTR-0001", "2025-03-01T00:00:00+07:00", "2025-03-02T00:00:00+07:00", "1234.5"),
    ("CPA-0001", "MTR-0002", "", "2025-03-02T00:00:00+07:00", "45678.9"),
)
_NOTES = (
    "One row per reading. Columns may come in any order; no other columns are accepted.",
    "Interval meters: the energy measured from reading_start (included) to reading_end (not included).",
    "Cumulative meters: the register at reading_end; leave reading_start empty. Energy is the "
    "difference between consecutive readings; the first reading of a meter only opens its register.",
    "Times with an offset (+07:00) or Z are exact; times without one are read in the site's time zone. "
    "Local times the clocks skip or repeat (daylight saving) need an offset.",
    "Readings must lie in the site's crediting period and not in the future. A reading already stored "
    "is skipped when sent again; a different one is refused: correct it on the platform instead.",
    "Every error in the file is reported at once; nothing is imported until there are none.",
)


def template_csv() -> str:
    """The header and two example rows (an interval meter, then a cumulative one), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerows(_EXAMPLE_ROWS)
    return out.getvalue()


def template_xlsx() -> bytes:
    """A Readings sheet with the header and two example rows, and an Instructions sheet."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append(TEMPLATE_COLUMNS)
    for row in _EXAMPLE_ROWS:
        # Times as text: a spreadsheet date-time cell cannot hold a UTC offset.
        sheet.append([*row[:4], Decimal(row[4])])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDE", (14, 16, 28, 28, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    for column in ("C", "D"):
        for row_number in range(2, 2 + len(_EXAMPLE_ROWS)):
            sheet[f"{column}{row_number}"].number_format = "@"
    sheet.freeze_panes = "A2"

    help_sheet = workbook.create_sheet("Instructions")
    help_sheet.append(["column", "required", "format and units", "meaning"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for row in _COLUMN_HELP:
        help_sheet.append(list(row))
    help_sheet.append([])
    for note in _NOTES:
        help_sheet.append(["Note", "", note])
    for letter, width in zip("ABCD", (16, 16, 60, 80), strict=True):
        help_sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


REPORT_COLUMNS = ("row", "column", "code", "message", "value")


def error_report_csv(errors: Iterable[RowError]) -> str:
    """The errors as CSV; text cells escaped against formula injection (ASVS 5.0 V1.2.10)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for error in errors:
        writer.writerow(
            [
                error.row,
                *(
                    escape_formula(str(text))
                    for text in (error.column, error.code, error.message, error.value)
                ),
            ]
        )
    return out.getvalue()
