"""Reading meter-reading files: every row rule, the sequence checks, cumulative registers, templates."""

import csv
import io
import random
import time
import zipfile
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from poa_manager.monitoring import readings_file as rf
from poa_manager.monitoring.readings_file import MeterSpec, StoredTail

HEADER = list(rf.TEMPLATE_COLUMNS)
DAY = 86_400
HOUR = 3_600


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


NOW = epoch("2026-01-01T00:00:00+00:00")
CREDIT_FROM = epoch("2025-01-01T00:00:00+07:00")


def spec(**changes) -> MeterSpec:
    base = MeterSpec(
        meter_id=1,
        site_id=1,
        site_ref="CPA-0001",
        serial="MTR-0001",
        role="export",
        unit="kWh",
        multiplier=Decimal(1),
        cumulative=False,
        register_digits=None,
        capacity_kw=Decimal(100),
        timezone="Asia/Ho_Chi_Minh",
        credit_from=CREDIT_FROM,
        credit_until=None,
    )
    return replace(base, **changes)


def cumulative_spec(**changes) -> MeterSpec:
    return spec(**{"meter_id": 2, "serial": "MTR-0002", "cumulative": True, **changes})


def keyed(*specs: MeterSpec) -> dict[tuple[str, str], MeterSpec]:
    return {(s.site_ref.casefold(), s.serial): s for s in specs}


def parse_rows(rows, *specs, now=NOW, header=HEADER):
    return rf.parse([header, *rows], keyed(*(specs or (spec(),))), now=now)


def run(rows, *specs, stored=None, now=NOW, header=HEADER):
    parsed = parse_rows(rows, *specs, now=now, header=header)
    return parsed, rf.check_sequences(parsed, stored or {})


def codes(result) -> list[tuple[int, str]]:
    return [(error.row, error.code) for error in result.errors]


def interval(start="2025-03-01T00:00:00+07:00", end="2025-03-02T00:00:00+07:00", value="10", **cells):
    row = {"site_ref": "CPA-0001", "meter_serial": "MTR-0001", "reading_start": start, "reading_end": end}
    row["value"] = value
    row.update(cells)
    return [row[name] for name in HEADER]


def register(end="2025-03-02T00:00:00+07:00", value="100", start="", serial="MTR-0002"):
    return ["CPA-0001", serial, start, end, value]


# --- row rules: each with a refused and an accepted row ------------------------------------------------

BERLIN = {"timezone": "Europe/Berlin", "credit_from": epoch("2025-01-01T00:00:00+01:00")}

ROW_CASES = [
    # (case id, meter changes, row, expected code or None)
    ("unknown site", {}, interval(site_ref="CPA-9999"), "unknown_meter"),
    ("unknown serial", {}, interval(meter_serial="MTR-9999"), "unknown_meter"),
    ("site and serial match loosely", {}, interval(site_ref="cpa-0001", meter_serial=" mtr-0001 "), None),
    ("site missing", {}, interval(site_ref=""), "required"),
    ("unparseable start", {}, interval(start="2025-13-01T00:00:00+07:00"), "bad_timestamp"),
    ("words for a time", {}, interval(end="tomorrow"), "bad_timestamp"),
    ("fractions of a second", {}, interval(end="2025-03-02T00:00:00.5+07:00"), "bad_timestamp"),
    ("Z for UTC", {}, interval(start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z"), None),
    ("start missing", {}, interval(start=""), "required"),
    ("naive, no site time zone", {"timezone": None}, interval(start="2025-03-01T00:00:00"), "no_timezone"),
    (
        "naive, site time zone unknown",
        {"timezone": "Mars/Olympus"},
        interval(start="2025-03-01T00:00:00"),
        "no_timezone",
    ),
    ("offsets, no site time zone", {"timezone": None}, interval(), None),
    ("naive in the site's zone", {}, interval(start="2025-03-01T00:00:00", end="2025-03-02T00:00:00"), None),
    (
        "nonexistent local time (DST gap)",
        BERLIN,
        interval(start="2025-03-30T02:30:00", end="2025-03-30T04:00:00"),
        "nonexistent_time",
    ),
    (
        "ambiguous local time (DST fold)",
        BERLIN,
        interval(start="2025-10-26T02:30:00", end="2025-10-26T04:00:00"),
        "ambiguous_time",
    ),
    (
        "local time after the gap",
        BERLIN,
        interval(start="2025-03-30T03:30:00", end="2025-03-30T04:00:00"),
        None,
    ),
    (
        "ambiguous time with its offset",
        BERLIN,
        interval(start="2025-10-26T02:30:00+01:00", end="2025-10-26T04:00:00"),
        None,
    ),
    ("end equals start", {}, interval(end="2025-03-01T00:00:00+07:00"), "end_before_start"),
    ("end before start", {}, interval(end="2025-02-28T00:00:00+07:00"), "end_before_start"),
    ("negative value", {}, interval(value="-1"), "negative_value"),
    ("negative zero is zero", {}, interval(value="-0"), None),
    ("zero", {}, interval(value="0"), None),
    ("decimal comma", {}, interval(value="1,5"), "bad_value"),
    ("exponent", {}, interval(value="1e3"), "bad_value"),
    ("thousands separator", {}, interval(value="1 000"), "bad_value"),
    ("underscore", {}, interval(value="1_000"), "bad_value"),
    ("words for a value", {}, interval(value="n/a"), "bad_value"),
    ("value missing", {}, interval(value=""), "required"),
    ("plus sign, spaces, leading point", {}, interval(value=" +.5 "), None),
    ("too large for the database", {}, interval(value="99999999999999999999"), "value_too_large"),
    (
        "in the future beyond the drift",
        {},
        interval(start="2025-12-31T23:00:00Z", end="2026-01-01T00:05:01Z"),
        "future_timestamp",
    ),
    ("ends within the drift", {}, interval(start="2025-12-31T23:00:00Z", end="2026-01-01T00:05:00Z"), None),
    ("site not crediting", {"credit_from": None}, interval(), "outside_crediting_period"),
    (
        "starts before the crediting period",
        {},
        interval(start="2024-12-31T23:00:00+07:00", end="2025-01-01T01:00:00+07:00"),
        "outside_crediting_period",
    ),
    (
        "ends after the crediting period",
        {"credit_until": epoch("2025-03-01T12:00:00+07:00")},
        interval(),
        "outside_crediting_period",
    ),
    ("starts with the crediting period", {}, interval(start="2025-01-01T00:00:00+07:00"), None),
    (
        "ends with the crediting period",
        {"credit_until": epoch("2025-03-02T00:00:00+07:00")},
        interval(),
        None,
    ),
    (
        "before the meter was installed",
        {"active_from": epoch("2025-03-01T12:00:00+07:00")},
        interval(),
        "meter_not_active",
    ),
    (
        "after the meter was removed",
        {"active_until": epoch("2025-03-01T12:00:00+07:00")},
        interval(),
        "meter_not_active",
    ),
    (
        "inside the meter's service",
        {
            "active_from": epoch("2025-03-01T00:00:00+07:00"),
            "active_until": epoch("2025-03-02T00:00:00+07:00"),
        },
        interval(),
        None,
    ),
    # 1.0005 kWh = 1000.5 Wh; 1.001 kWh = 1001 Wh.
    ("finer than a watt-hour", {}, interval(value="1.0005"), "too_precise"),
    ("a whole watt-hour", {}, interval(value="1.001"), None),
    # × 2.5: 0.0002 kWh = 0.2 Wh → 0.5 Wh (refused); 0.0004 kWh = 0.4 Wh → 1 Wh (accepted).
    (
        "fraction after the multiplier",
        {"multiplier": Decimal("2.5")},
        interval(value="0.0002"),
        "too_precise",
    ),
    ("whole after the multiplier", {"multiplier": Decimal("2.5")}, interval(value="0.0004"), None),
    ("Wh meter, fraction", {"unit": "Wh"}, interval(value="12.5"), "too_precise"),
    # 100 kW for one hour: at most 100,000 Wh.
    (
        "above capacity × hours",
        {},
        interval(start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z", value="100.001"),
        "above_capacity",
    ),
    (
        "at capacity × hours",
        {},
        interval(start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z", value="100"),
        None,
    ),
    (
        "import meters are not capped",
        {"role": "import"},
        interval(start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z", value="1000"),
        None,
    ),
    (
        "no capacity, no cap",
        {"capacity_kw": None},
        interval(start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z", value="1000"),
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "row", "expected"), [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES]
)
def test_row_rules(changes, row, expected):
    parsed = parse_rows([row], spec(**changes))
    if expected is None:
        assert parsed.errors == [] and parsed.rows_good == 1
    else:
        assert expected in [error.code for error in parsed.errors]
        assert all(error.row == 2 for error in parsed.errors)
        assert parsed.rows_good == 0
    assert parsed.rows_total == 1


CUMULATIVE_CASES = [
    ("blank start", {}, register(), None),
    ("start equal to end", {}, register(start="2025-03-02T00:00:00+07:00"), None),
    ("start equal to end, written differently", {}, register(start="2025-03-01T17:00:00Z"), None),
    ("start given", {}, register(start="2025-03-01T00:00:00+07:00"), "start_not_blank"),
    # A register is kept to the watt-hour before the multiplier: 1.0005 kWh = 1000.5 Wh.
    ("register finer than a watt-hour", {"multiplier": Decimal(40)}, register(value="1.0005"), "too_precise"),
    (
        "register with more digits than the meter",
        {"register_digits": 5},
        register(value="100000"),
        "register_out_of_range",
    ),
    ("register within the digits", {"register_digits": 5}, register(value="99999.999"), None),
    ("negative register", {}, register(value="-5"), "negative_value"),
    (
        "reading at the end of the crediting period",
        {"credit_until": epoch("2025-03-02T00:00:00+07:00")},
        register(),
        None,
    ),
    (
        "reading after the crediting period",
        {"credit_until": epoch("2025-03-01T00:00:00+07:00")},
        register(),
        "outside_crediting_period",
    ),
    (
        "reading at the meter's removal",
        {"active_until": epoch("2025-03-02T00:00:00+07:00")},
        register(),
        None,
    ),
    (
        "reading after the meter's removal",
        {"active_until": epoch("2025-03-01T00:00:00+07:00")},
        register(),
        "meter_not_active",
    ),
    ("reading in the future", {}, register(end="2026-01-01T00:05:01Z"), "future_timestamp"),
]


@pytest.mark.parametrize(
    ("changes", "row", "expected"), [c[1:] for c in CUMULATIVE_CASES], ids=[c[0] for c in CUMULATIVE_CASES]
)
def test_cumulative_row_rules(changes, row, expected):
    parsed = parse_rows([row], cumulative_spec(**changes))
    if expected is None:
        assert parsed.errors == [] and parsed.rows_good == 1
    else:
        assert expected in [error.code for error in parsed.errors]


def test_values_become_watt_hours_after_unit_and_multiplier():
    rows = [
        interval(value="1234.5"),  # kWh × 40 = 49,380,000 Wh
        interval(meter_serial="MTR-0003", value="0.001"),  # MWh: 1,000 Wh
        interval(meter_serial="MTR-0004", value="12"),  # Wh: 12 Wh
    ]
    big = {"capacity_kw": Decimal(10_000)}
    _, checked = run(
        rows,
        spec(multiplier=Decimal(40), **big),
        spec(meter_id=3, serial="MTR-0003", unit="MWh", **big),
        spec(meter_id=4, serial="MTR-0004", unit="Wh", **big),
    )
    assert [row[3] for row in checked.rows_for_insert()] == [49_380_000, 1_000, 12]


def test_unknown_and_not_permitted_meters_read_the_same():
    """A meter the uploader may not write to is absent from the lookup: same code, same words."""
    other_site = spec(meter_id=9, site_ref="CPA-0002", serial="MTR-0009")  # exists, not given to parse
    parsed = parse_rows(
        [interval(site_ref="CPA-0002", meter_serial="MTR-0009"), interval(site_ref="CPA-0003")]
    )
    first, second = parsed.errors
    assert first.code == second.code == "unknown_meter"
    assert first.message.replace("CPA-0002", "X").replace("MTR-0009", "Y") == second.message.replace(
        "CPA-0003", "X"
    ).replace("MTR-0001", "Y")
    assert other_site.meter_id not in parsed.meters


def test_every_error_of_a_row_is_reported_with_its_column():
    parsed = parse_rows([interval(start="soon", value="-3")])
    assert sorted((error.column, error.code) for error in parsed.errors) == [
        ("reading_start", "bad_timestamp"),
        ("value", "negative_value"),
    ]
    assert {error.value for error in parsed.errors} == {"soon", "-3"}


# --- header and file shape ---------------------------------------------------------------------------


def test_header_is_case_insensitive_and_in_any_order():
    header = ["Value", "READING_END", "reading_start", "Meter_Serial", "site_ref"]
    row = interval()
    parsed = parse_rows([[row[4], row[3], row[2], row[1], row[0]]], header=header)
    assert parsed.errors == [] and parsed.rows_good == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HEADER[:4], "missing_column"),
        ([*HEADER, "comment"], "unknown_column"),
        ([*HEADER, "value"], "duplicate_column"),
    ],
)
def test_header_errors(header, expected):
    parsed = rf.parse([header, [*interval(), ""]], keyed(spec()), now=NOW)
    assert (1, expected) in codes(parsed)


def test_blank_header_cells_and_blank_rows_are_ignored_and_rows_keep_their_line_numbers():
    rows = [
        [],
        [*HEADER, ""],
        [*interval(), ""],
        ["", "", "", "", "", ""],
        [*interval(value="-1"), ""],
        [*interval(start="2025-03-05T00:00:00+07:00", end="2025-03-06T00:00:00+07:00"), "note"],
    ]
    parsed = rf.parse(rows, keyed(spec()), now=NOW)
    assert codes(parsed) == [(5, "negative_value"), (6, "unnamed_column")]
    assert parsed.rows_total == 3 and parsed.rows_good == 1


def test_rows_longer_or_shorter_than_the_header():
    parsed = parse_rows(
        [[*interval(), "", ""], [*interval(start="2025-03-02T00:00:00+07:00"), "x"], interval()[:4]]
    )
    assert codes(parsed) == [(3, "extra_values"), (4, "required")]


def test_empty_files_and_header_only():
    assert codes(rf.parse([], {}, now=NOW)) == [(0, "empty_file")]
    assert codes(rf.parse([[], ["", ""]], {}, now=NOW)) == [(0, "empty_file")]
    assert codes(rf.parse([HEADER], {}, now=NOW)) == [(0, "no_rows")]


def test_errors_are_counted_exactly_and_kept_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(rf, "MAX_ERRORS_KEPT", 10)
    rows = [interval(value="-1") for _ in range(30)]
    rows += [
        interval(start=f"2025-03-{day:02d}T00:00:00+07:00", end=f"2025-03-{day + 1:02d}T00:00:00+07:00")
        for day in (2, 3)
    ]
    rows += [interval(start="2025-03-02T12:00:00+07:00", end="2025-03-03T12:00:00+07:00")]
    parsed, checked = run(rows)
    assert parsed.error_count == 30 and len(parsed.errors) == 10
    assert checked.error_count > 30 and len(checked.errors) == 10
    assert [error.row for error in checked.errors] == list(range(2, 12))  # the first ten rows


# --- sequences in the file --------------------------------------------------------------------------


def day_row(day: int, value="10", serial="MTR-0001"):
    return interval(
        start=f"2025-03-{day:02d}T00:00:00+07:00",
        end=f"2025-03-{day + 1:02d}T00:00:00+07:00",
        value=value,
        meter_serial=serial,
    )


def test_duplicate_and_overlapping_intervals_in_the_file():
    rows = [
        day_row(1),
        day_row(2),
        day_row(2, value="11"),
        interval(start="2025-03-03T12:00:00+07:00", end="2025-03-04T12:00:00+07:00"),
        day_row(3),
    ]
    _, checked = run(rows)
    # Sorted by start, the day-3 row (row 6) comes before the noon row (row 5), which overlaps it.
    assert codes(checked) == [(4, "duplicate_interval"), (5, "overlapping_interval")]
    assert "row 6" in checked.errors[1].message
    with pytest.raises(ValueError):
        list(checked.rows_for_insert())


def test_adjacent_intervals_do_not_overlap():
    _, checked = run([day_row(1), day_row(2), day_row(3)])
    assert checked.error_count == 0 and checked.rows_new == 3


def test_rows_for_insert_by_meter_id_then_start():
    rows = [
        day_row(3, serial="MTR-0005"),
        day_row(2),
        day_row(1, serial="MTR-0005"),
        day_row(1),
        day_row(2, serial="MTR-0005"),
    ]
    _, checked = run(rows, spec(), spec(meter_id=5, serial="MTR-0005"), spec(meter_id=7, serial="MTR-0007"))
    out = list(checked.rows_for_insert())
    assert [(row[0], row[1]) for row in out] == [
        (1, epoch("2025-03-01T00:00:00+07:00")),
        (1, epoch("2025-03-02T00:00:00+07:00")),
        (5, epoch("2025-03-01T00:00:00+07:00")),
        (5, epoch("2025-03-02T00:00:00+07:00")),
        (5, epoch("2025-03-03T00:00:00+07:00")),
    ]
    assert all(row[3] == 10_000 and row[4] is None and row[5] == 0 for row in out)
    assert checked.rows_new == 5 and checked.rows_total == 5


def test_ranges_and_reading_types_for_the_caller():
    parsed = parse_rows([day_row(2), day_row(1), register(value="5")], spec(), cumulative_spec())
    assert parsed.ranges() == {
        1: (epoch("2025-03-01T00:00:00+07:00"), epoch("2025-03-03T00:00:00+07:00")),
        2: (epoch("2025-03-02T00:00:00+07:00"), epoch("2025-03-02T00:00:00+07:00")),
    }
    assert not parsed.is_cumulative(1) and parsed.is_cumulative(2)


# --- against stored readings -------------------------------------------------------------------------


def stored_like_the_service(rows, parsed) -> dict[int, StoredTail]:
    """What services.readings.stored_tails would load after `rows` were written."""
    tails = {}
    for meter_id, (first, last) in parsed.ranges().items():
        mine = sorted(r for r in rows if r[0] == meter_id)
        readings = [(s, e, wh) for _, s, e, wh, _, _ in mine if e >= first and s <= last]
        registers = [(e, reg) for _, _, e, _, reg, _ in mine if reg is not None and e <= first]
        tails[meter_id] = StoredTail(meter_id, readings, max(registers) if registers else None)
    return tails


def test_a_re_sent_file_stores_nothing_twice():
    rows = [day_row(day) for day in range(1, 11)] + [
        register(end=f"2025-03-{day:02d}T00:00:00+07:00", value=str(100 + day)) for day in range(1, 6)
    ]
    parsed, first = run(rows, spec(), cumulative_spec())
    written = list(first.rows_for_insert())
    assert len(written) == 15 and first.already_stored == 0
    parsed_again = parse_rows(rows, spec(), cumulative_spec())
    again = rf.check_sequences(parsed_again, stored_like_the_service(written, parsed_again))
    assert again.error_count == 0
    assert again.already_stored == 15 and again.rows_new == 0 and list(again.rows_for_insert()) == []


def test_a_file_overlapping_what_is_stored_writes_only_the_new_rows():
    parsed, first = run([day_row(day) for day in range(1, 6)])
    written = list(first.rows_for_insert())
    parsed_next = parse_rows([day_row(day) for day in range(4, 9)])
    checked = rf.check_sequences(parsed_next, stored_like_the_service(written, parsed_next))
    assert checked.error_count == 0 and checked.already_stored == 2
    assert [row[1] for row in checked.rows_for_insert()] == [
        epoch(f"2025-03-{d:02d}T00:00:00+07:00") for d in (6, 7, 8)
    ]


@pytest.mark.parametrize(
    "stored",
    [
        (epoch("2025-03-01T00:00:00+07:00"), epoch("2025-03-02T00:00:00+07:00"), 9_999),  # another value
        (epoch("2025-03-01T00:00:00+07:00"), epoch("2025-03-01T12:00:00+07:00"), 10_000),  # another end
        (epoch("2025-03-01T12:00:00+07:00"), epoch("2025-03-02T12:00:00+07:00"), 10_000),  # overlap
    ],
)
def test_a_different_reading_where_one_is_stored_is_a_conflict(stored):
    _, checked = run([day_row(1)], stored={1: StoredTail(1, [stored], None)})
    assert codes(checked) == [(2, "conflicts_with_stored")]
    assert "submit a correction instead" in checked.errors[0].message


def test_stored_readings_that_only_touch_are_no_conflict():
    before = (epoch("2025-02-28T00:00:00+07:00"), epoch("2025-03-01T00:00:00+07:00"), 5)
    after = (epoch("2025-03-02T00:00:00+07:00"), epoch("2025-03-03T00:00:00+07:00"), 5)
    _, checked = run([day_row(1)], stored={1: StoredTail(1, [before, after], None)})
    assert checked.error_count == 0 and checked.rows_new == 1


# --- cumulative registers ----------------------------------------------------------------------------

T0, T1, T2 = (epoch(f"2025-03-0{d}T00:00:00+07:00") for d in (1, 2, 3))


def test_registers_become_intervals_from_an_opening_reading():
    rows = [
        register(end="2025-03-01T00:00:00+07:00", value="100"),
        register(end="2025-03-02T00:00:00+07:00", value="150.5"),
        register(end="2025-03-03T00:00:00+07:00", value="200"),
    ]
    _, checked = run(rows, cumulative_spec(multiplier=Decimal(2)))
    # Registers are kept without the multiplier; energy is Δregister × 2.
    assert list(checked.rows_for_insert()) == [
        (2, T0, T0, 0, 100_000, 0),  # the opening reading
        (2, T0, T1, 101_000, 150_500, 0),
        (2, T1, T2, 99_000, 200_000, 0),
    ]


def test_the_first_register_reading_counts_from_the_stored_one():
    stored = {2: StoredTail(2, [], (T0, 90_000))}
    _, checked = run(
        [register(end="2025-03-02T00:00:00+07:00", value="100")], cumulative_spec(), stored=stored
    )
    assert list(checked.rows_for_insert()) == [(2, T0, T1, 10_000, 100_000, 0)]


def test_a_register_reading_already_stored_is_skipped_and_a_different_one_refused():
    same = {2: StoredTail(2, [(T0, T0, 0)], (T0, 100_000))}
    rows = [
        register(end="2025-03-01T00:00:00+07:00", value="100"),
        register(end="2025-03-02T00:00:00+07:00", value="101"),
    ]
    _, checked = run(rows, cumulative_spec(), stored=same)
    assert checked.already_stored == 1
    assert list(checked.rows_for_insert()) == [(2, T0, T1, 1_000, 101_000, 0)]
    different = {2: StoredTail(2, [(T0, T0, 0)], (T0, 99_000))}
    _, checked = run(rows, cumulative_spec(), stored=different)
    assert codes(checked) == [(2, "conflicts_with_stored")]


def test_rollover_accepted_when_plausible():
    # 5 kWh digits: the register wraps at 100,000 kWh. 99,990 → 10 kWh in a day is
    # 10 + 100,000 − 99,990 = 20 kWh = 20,000 Wh ≤ 100 kW × 24 h = 2,400 kWh.
    stored = {2: StoredTail(2, [], (T0, 99_990_000))}
    _, checked = run(
        [register(end="2025-03-02T00:00:00+07:00", value="10")],
        cumulative_spec(register_digits=5),
        stored=stored,
    )
    assert list(checked.rows_for_insert()) == [(2, T0, T1, 20_000, 10_000, rf.READING_FLAG_ROLLOVER)]


def test_rollover_plausibility_counts_the_multiplier():
    # × 100: a 20 kWh wrap is 2,000 kWh of energy ≤ 2,400 kWh (accepted); × 200 it is 4,000 (refused).
    stored = {2: StoredTail(2, [], (T0, 99_990_000))}
    row = [register(end="2025-03-02T00:00:00+07:00", value="10")]
    _, ok = run(row, cumulative_spec(register_digits=5, multiplier=Decimal(100)), stored=stored)
    assert [r[3] for r in ok.rows_for_insert()] == [2_000_000]
    _, refused = run(row, cumulative_spec(register_digits=5, multiplier=Decimal(200)), stored=stored)
    assert codes(refused) == [(2, "register_backwards")]


@pytest.mark.parametrize(
    ("changes", "previous_kwh", "reason"),
    [
        # 50,000 → 10 kWh: a wrap would be 10 + 100,000 − 50,000 = 50,010 kWh > 2,400 kWh in a day.
        ({"register_digits": 5}, 50_000, "capacity allows"),
        ({"register_digits": None}, 99_990, "register digits are not recorded"),
        ({"register_digits": 5, "capacity_kw": None}, 99_990, "capacity is not recorded"),
    ],
)
def test_register_going_backwards_is_refused_unless_a_plausible_rollover(changes, previous_kwh, reason):
    stored = {2: StoredTail(2, [], (T0, previous_kwh * 1000))}
    _, checked = run(
        [register(end="2025-03-02T00:00:00+07:00", value="10")], cumulative_spec(**changes), stored=stored
    )
    assert codes(checked) == [(2, "register_backwards")]
    assert reason in checked.errors[0].message


def test_register_backwards_inside_the_file():
    rows = [
        register(end="2025-03-01T00:00:00+07:00", value="100"),
        register(end="2025-03-02T00:00:00+07:00", value="90"),
    ]
    _, checked = run(rows, cumulative_spec())
    assert codes(checked) == [(3, "register_backwards")]


def test_duplicate_register_instants():
    rows = [register(value="100"), register(value="101")]
    _, checked = run(rows, cumulative_spec())
    assert codes(checked) == [(3, "duplicate_timestamp")]


def test_energy_from_registers_is_capped_for_export_meters():
    # 1 kW for a day: at most 24,000 Wh; 25 kWh is too much.
    rows = [
        register(end="2025-03-01T00:00:00+07:00", value="0"),
        register(end="2025-03-02T00:00:00+07:00", value="25"),
    ]
    _, checked = run(rows, cumulative_spec(capacity_kw=Decimal(1)))
    assert codes(checked) == [(3, "above_capacity")]
    _, fine = run(rows, cumulative_spec(capacity_kw=Decimal(1), role="consumption"))
    assert fine.error_count == 0


def test_fractional_multiplier_loses_nothing_over_consecutive_registers():
    # × 1.5: floor(register × 1.5) differences, so the intervals add up to the whole advance.
    rows = [register(end=f"2025-03-0{d}T00:00:00+07:00", value=f"0.00{d}") for d in range(1, 6)]
    _, checked = run(rows, cumulative_spec(multiplier=Decimal("1.5")))
    energies = [row[3] for row in checked.rows_for_insert()]
    assert energies == [0, 2, 1, 2, 1]  # floor(1.5, 3, 4.5, 6, 7.5) = 1, 3, 4, 6, 7
    assert sum(energies) == 7 - 1


# --- readers --------------------------------------------------------------------------------------------


def csv_bytes(rows, delimiter=",", bom=False, newline="\n", quoting=csv.QUOTE_MINIMAL) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


@pytest.mark.parametrize(("delimiter", "bom", "newline"), [(",", False, "\n"), (";", True, "\r\n")])
def test_csv_stream(delimiter, bom, newline):
    stream = io.BytesIO(csv_bytes([HEADER, day_row(1), day_row(2, value="-1")], delimiter, bom, newline))
    parsed = rf.parse_csv_stream(stream, keyed(spec()), now=NOW)
    assert codes(parsed) == [(3, "negative_value")] and parsed.rows_good == 1
    assert not stream.closed  # the caller's file stays open


@pytest.mark.parametrize("quoted", [False, True], ids=["split", "csv module"])
def test_csv_that_is_not_utf8_is_read_up_to_the_bad_line(quoted):
    rows = [HEADER] + [day_row(1 + n % 28) for n in range(2000)]
    data = csv_bytes(rows, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL)
    data += "CPA-0001,MTR-0001,é\n".encode("latin-1") + csv_bytes([day_row(1)])
    parsed = rf.parse_csv_stream(io.BytesIO(data), keyed(spec()), now=NOW)
    assert codes(parsed) == [(0, "not_utf8")]
    assert "line 2002 " in parsed.errors[0].message
    assert parsed.rows_good == 2000 and parsed.lines_read == 2001


def test_csv_not_utf8_in_the_header():
    parsed = rf.parse_csv_stream(io.BytesIO("sité_ref\n".encode("latin-1")), keyed(spec()), now=NOW)
    assert codes(parsed) == [(0, "not_utf8")] and "line 1 " in parsed.errors[0].message


@pytest.mark.parametrize("block", [50, 7], ids=["lines across blocks", "lines longer than 4 blocks"])
def test_csv_blocks_are_joined_across_line_breaks(monkeypatch, block):
    monkeypatch.setattr(rf, "_CSV_BLOCK", block)  # blocks end inside lines
    reports = []
    data = csv_bytes([HEADER] + [day_row(day) for day in range(1, 20)], newline="\r\n")
    stream = io.BytesIO(data[:-2])  # the last line without its line break
    parsed = rf.parse_csv_stream(stream, keyed(spec()), now=NOW, progress=reports.append)
    assert parsed.errors == [] and parsed.rows_good == 19
    assert reports[-1] == len(data) - 2 and reports == sorted(reports)


@pytest.mark.parametrize("block", [3, 16, 64, 1 << 20])
def test_csv_records_are_the_csv_modules_records(monkeypatch, block):
    monkeypatch.setattr(rf, "_CSV_BLOCK", block)
    rng = random.Random(block)
    cells = ["a", "bc", "", "1.5", "x y", "é", 'say "hi"', "semi;colon", "two\nlines", "comma,here"]
    for _ in range(200):
        rows = [["h1", "h2", "h3"]] + [
            [rng.choice(cells[: rng.choice([6, 10])]) for _ in range(rng.randint(1, 4))]
            for _ in range(rng.randint(0, 8))
        ]
        newline = rng.choice(["\n", "\r\n"])
        out = io.StringIO()
        csv.writer(out, lineterminator=newline).writerows(rows)
        text = out.getvalue()
        if rng.random() < 0.2:
            text += newline  # a blank last line
        if rng.random() < 0.2:
            text = text[: -len(newline)]  # no line break at the end
        expected = [row or [""] for row in csv.reader(io.StringIO(text, newline=""))]
        stream = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", newline="")
        problems = []
        got = [row or [""] for row in rf._csv_records(stream, problems, lambda: None)]
        assert problems == [] and got == expected, text


def test_csv_with_quotes_is_read_by_the_csv_module_from_the_first_quote():
    rows = [
        HEADER,
        day_row(1),
        ["CPA-0001", "MTR-0001", "2025-03-02T00:00:00+07:00", "2025-03-03T00:00:00+07:00", "1"],
    ]
    data = (
        csv_bytes(rows, delimiter=";")
        + b'"CPA-0001";"MTR-0001";"2025-03-03T00:00:00+07:00";"2025-03-04";"2"\n'
    )
    data += b'CPA-0001;"MTR-\n0001";2025-03-04;2025-03-05;"3,5"\n'
    parsed = rf.parse_csv_stream(io.BytesIO(data), keyed(spec()), now=NOW)
    # A quoted field may hold a line break: "MTR-\n0001" reads as MTR- 0001, another serial.
    assert codes(parsed) == [(5, "unknown_meter")]
    assert parsed.rows_good == 3 and parsed.rows_total == 4


def test_parse_file_dispatches_on_the_extension():
    data = csv_bytes([HEADER, day_row(1)])
    assert rf.parse_file("March.CSV", io.BytesIO(data), keyed(spec()), now=NOW).rows_good == 1
    assert codes(rf.parse_file("March.txt", io.BytesIO(data), keyed(spec()), now=NOW)) == [
        (0, "unsupported_file")
    ]
    assert codes(rf.parse_file("March.xlsx", io.BytesIO(data), keyed(spec()), now=NOW)) == [(0, "not_xlsx")]


def template_meters():
    return keyed(spec(), cumulative_spec())


def test_csv_template_reads_back_clean():
    parsed = rf.parse_csv_stream(io.BytesIO(rf.template_csv().encode()), template_meters(), now=NOW)
    assert parsed.errors == [] and parsed.rows_good == 2


def test_xlsx_template_round_trip():
    data = rf.template_xlsx()
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Readings", "Instructions"]
    parsed = rf.parse_xlsx_bytes(data, template_meters(), now=NOW)
    assert parsed.errors == [] and parsed.rows_good == 2
    checked = rf.check_sequences(parsed, {})
    assert list(checked.rows_for_insert()) == [
        (1, T0, T1, 1_234_500, None, 0),
        (2, T1, T1, 0, 45_678_900, 0),
    ]


def xlsx(rows, title="Readings", first_sheet=None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if first_sheet is not None:
        sheet.title = "Notes"
        sheet.append(first_sheet)
        sheet = workbook.create_sheet(title)
    else:
        sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_typed_cells_and_sheet_row_numbers():
    rows = [
        HEADER,
        ["CPA-0001", "MTR-0001", datetime(2025, 3, 1), datetime(2025, 3, 2), 10.5],  # naive: the site's zone
        [None, None, None, None, None],
        ["CPA-0001", "MTR-0001", datetime(2025, 3, 2), datetime(2025, 3, 3), -1.0],
        ["CPA-0001", "MTR-0001", datetime(2025, 3, 3), datetime(2025, 3, 4), 1.0005],  # 1000.5 Wh
    ]
    parsed = rf.parse_xlsx_bytes(xlsx(rows, first_sheet=["ignored"]), keyed(spec()), now=NOW)
    assert codes(parsed) == [(4, "negative_value"), (5, "too_precise")]
    starts, ends, values, _ = parsed.meters[1].columns()
    assert (starts[0], ends[0], values[0]) == (T0, T1, 10_500)


def test_not_an_xlsx_and_zip_bombs(monkeypatch):
    assert codes(rf.parse_xlsx_bytes(b"", {}, now=NOW)) == [(0, "empty_file")]
    assert codes(rf.parse_xlsx_bytes(b"not a workbook", {}, now=NOW)) == [(0, "not_xlsx")]
    monkeypatch.setattr(rf, "MAX_XLSX_UNCOMPRESSED_BYTES", 1_000)
    assert codes(rf.parse_xlsx_bytes(rf.template_xlsx(), {}, now=NOW)) == [(0, "archive_too_large")]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n in range(rf.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"part{n}.xml", "")
    assert codes(rf.parse_xlsx_bytes(out.getvalue(), {}, now=NOW)) == [(0, "too_many_entries")]


# --- error reports ------------------------------------------------------------------------------------


def test_error_report_neutralises_formulas():
    errors = [
        rf.RowError(2, "value", "bad_value", "x", text)
        for text in ("=cmd|'/C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx")
    ]
    errors.append(rf.RowError(3, "value", "negative_value", "fine", "12"))
    report = list(csv.reader(io.StringIO(rf.error_report_csv(errors))))
    assert report[0] == ["row", "column", "code", "message", "value"]
    assert [line[4] for line in report[1:7]] == [
        "'=cmd|'/C calc'!A0",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert report[7] == ["3", "value", "negative_value", "fine", "12"]


# --- the fast path agrees with the complete reading ----------------------------------------------------


def test_fast_path_accepts_exactly_what_the_complete_reading_accepts():
    rng = random.Random(7)
    pieces = ["", "0", "1", "12", "007", ".", "..", "-", "+", " ", "_", "e3", ",", "٣", "²", "5" * 25]
    stamps = [
        "2025-03-01T00:00:00+07:00",
        "2025-03-02T00:00:00+07:00",
        "2025-03-02T00:00:00",
        "2025-03-02",
        "2025-03-02T00:00:00Z",
        " 2025-03-03T00:00:00+07:00 ",
        "2025-02-30T00:00:00",
        "2026-01-01T00:05:01Z",
        "",
    ]
    meters = [
        spec(multiplier=Decimal("2.5"), capacity_kw=Decimal("0.5")),
        spec(unit="Wh"),
        cumulative_spec(register_digits=3),
    ]
    for _ in range(3000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        meter = rng.choice(meters)
        start = "" if meter.cumulative and rng.random() < 0.7 else rng.choice(stamps)
        row = ["CPA-0001", meter.serial, start, rng.choice(stamps), value]
        parsed = rf.parse([HEADER, row], keyed(meter), now=NOW)
        reference = rf.MeterRows(meter, rf._Zone(meter.timezone), NOW + rf.MAX_FUTURE_S)
        sink = rf._ErrorSink()
        expected = rf._diagnose(reference, 2, row[2], row[3], row[4], NOW, NOW + rf.MAX_FUTURE_S, sink)
        got = parsed.meters.get(meter.meter_id)
        if expected is None:
            assert got is None, row
        else:
            assert got is not None, row
            starts, ends, values, _ = got.columns()
            assert (starts[0], ends[0], values[0]) == expected, row


@pytest.mark.parametrize("cumulative", [False, True], ids=["interval", "cumulative"])
def test_order_tracked_while_parsing_agrees_with_the_full_check(cumulative):
    """The same file, once with plain values (the fast path keeps `ordered`) and once with values
    only the slow path reads (a leading space: `ordered` is dropped and everything is re-checked)."""
    rng = random.Random(11)
    meter = cumulative_spec(register_digits=6) if cumulative else spec(capacity_kw=Decimal(10_000))
    for _ in range(300):
        rows = []
        for _ in range(rng.randint(1, 6)):
            day = rng.randint(1, 8)
            value = str(rng.randint(0, 500))
            if cumulative:
                rows.append(register(end=f"2025-03-{day:02d}T00:00:00+07:00", value=value))
            else:
                length = rng.choice([1, 1, 1, 2])
                rows.append(day_row(day, value)[:3] + [f"2025-03-{day + length:02d}T00:00:00+07:00", value])
        fast_parsed, fast = run(rows, meter)
        slow_parsed, slow = run([[*row[:4], " " + row[4]] for row in rows], meter)
        assert not slow_parsed.meters[meter.meter_id].ordered
        assert fast_parsed.ranges() == slow_parsed.ranges()
        assert sorted(codes(fast)) == sorted(codes(slow)), rows
        if not fast.error_count:
            assert list(fast.rows_for_insert()) == list(slow.rows_for_insert())


# --- memory and speed smoke ----------------------------------------------------------------------------


def test_rows_are_kept_compactly():
    parsed = parse_rows([day_row(day) for day in range(1, 29)])
    rows = parsed.meters[1]
    assert rows.buffer is not None and len(rows.buffer) == 32 * 28 and len(rows) == 28
    starts, _, values, lines = rows.columns()
    assert starts.typecode == values.typecode == "q" and list(lines) == list(range(2, 30))


def test_speed_smoke():
    """Not a benchmark (no timing asserted): a quick rows/s figure for the log, `pytest -s`."""
    sites, days = 200, 100
    meters = {}
    lines = [",".join(HEADER)]
    stamps = [f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}T00:00:00+07:00" for d in range(days + 1)]
    for n in range(sites):
        ref, serial = f"S-{n:05d}", f"M-{n:05d}"
        meters[(ref.casefold(), serial)] = spec(
            meter_id=n + 1, site_ref=ref, serial=serial, capacity_kw=Decimal(10_000)
        )
        lines += [f"{ref},{serial},{stamps[d]},{stamps[d + 1]},{3000 + d}.{d:03d}" for d in range(days)]
    data = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    parsed = rf.parse_csv_stream(io.BytesIO(data), meters, now=NOW)
    checked = rf.check_sequences(parsed, {})
    rows = sum(1 for _ in checked.rows_for_insert())
    elapsed = time.perf_counter() - started
    assert parsed.error_count == 0 and rows == sites * days
    print(f"\nreadings_file: {rows:,} rows in {elapsed:.3f} s ({rows / elapsed:,.0f} rows/s)")
