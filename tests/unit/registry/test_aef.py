"""The AEF report, domain.md §5.4: filtering, tables, ITMO identifiers, totals = ledger (T9), exports."""

import ast
import csv
import io
import json
import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from poa_manager.registry import aef
from poa_manager.registry.aef import (
    COLUMNS,
    TABLES,
    ActionRecord,
    AuthorizationRecord,
    HoldingRecord,
    build_report,
    report_csv,
    report_json,
    report_xlsx,
)
from poa_manager.registry.serials import itmo_identifier

T1, T2, T3, T4, T5 = TABLES
YEAR = 2025

AUTH = AuthorizationRecord(
    authorization_id="VN-LoA-2025-001",
    version=1,
    cooperative_approach="CA0001",
    authorizing_party="VN",
    authorized_on=date(2025, 2, 10),
    purposes=("ndc",),
    first_transfer_definition="first_international_transfer",
    authorized_parties=("JP",),
    authorized_entities=(("Tokyo Power KK", "JP"),),
    quantity_tco2e=10_000,
    vintage_first=2021,
    vintage_last=2030,
    sector="Energy",
    activity_type="Solar PV",
)

ACTION = ActionRecord(
    action_date=date(2025, 3, 1),
    action_type="first_transfer",
    authorization_id="VN-LoA-2025-001",
    cooperative_approach="CA0001",
    registry_id="JCMVN",
    first_transferring_party="VN",
    serial_start=1,
    serial_end=150,
    vintage=2025,
    transferring_party="VN",
    acquiring_party="JP",
    purposes=("ndc",),
    using_party_or_entity=None,
    first_transfer=True,
)

HOLDING = HoldingRecord(
    cooperative_approach="CA0001",
    registry_id="JCMVN",
    first_transferring_party="VN",
    serial_start=151,
    serial_end=400,
    vintage=2025,
    status="authorized",
    holder_party="VN",
)


def report(party="VN", year=YEAR, authorizations=(), actions=(), holdings=(), ndc_period=(2021, 2030)):
    return build_report(
        party=party,
        year=year,
        submitted_on=date(2026, 4, 15),
        ndc_period=ndc_period,
        authorizations=authorizations,
        actions=actions,
        holdings=holdings,
    )


def a(**changes) -> ActionRecord:
    return replace(ACTION, **changes)


def transfer(**changes) -> ActionRecord:
    return a(action_type="transfer", first_transfer=False, **changes)


# --- Purity (architecture.md §8) -----------------------------------------------------------------


def test_the_module_imports_only_the_standard_library_openpyxl_and_serials():
    # The package __init__ builds the app, so sys.modules cannot tell; read the imports instead.
    tree = ast.parse(Path(aef.__file__).read_text(encoding="utf-8"))
    imported = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
        )
    }
    outside = {
        name
        for name in imported
        if name.split(".")[0]
        not in {"csv", "io", "json", "re", "collections", "dataclasses", "datetime", "openpyxl"}
    }
    # poa_manager.tabular is the one (pure) formula-injection rule every export shares.
    assert outside == {"poa_manager.registry.serials", "poa_manager.tabular"}


# --- Columns --------------------------------------------------------------------------------------


def test_every_table_has_its_columns_and_rows_follow_them():
    full = report(authorizations=[AUTH], actions=[ACTION], holdings=[HOLDING])
    assert list(full.tables) == list(TABLES) == list(COLUMNS)
    for name in TABLES:
        assert len(set(COLUMNS[name])) == len(COLUMNS[name])
        assert full.tables[name], name
        for row in full.tables[name]:
            assert list(row) == COLUMNS[name]
            assert all(isinstance(value, str | int) and not isinstance(value, bool) for value in row.values())


def test_the_report_is_frozen():
    with pytest.raises(AttributeError):
        report().party = "JP"


# --- Filtering by Party and year ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "party", "kept"),
    [
        (ACTION, "VN", True),  # first transferring (and transferring) Party
        (ACTION, "JP", True),  # acquiring Party
        (ACTION, "CH", False),  # not involved
        (ACTION, "vn", True),  # the Party code is case-insensitive
        (transfer(transferring_party="JP", acquiring_party="CH"), "VN", True),  # still the first transferring
        (transfer(transferring_party="JP", acquiring_party="CH"), "JP", True),
        (transfer(transferring_party="JP", acquiring_party="CH"), "CH", True),
        (transfer(transferring_party="JP", acquiring_party="CH"), "SG", False),
        (
            a(action_type="use_ndc", first_transfer=False, transferring_party=None, acquiring_party=None),
            "VN",
            True,
        ),
        (
            a(action_type="use_ndc", first_transfer=False, transferring_party=None, acquiring_party=None),
            "JP",
            False,
        ),
        (a(action_date=date(2024, 12, 31)), "VN", False),  # year boundaries, both ends inclusive
        (a(action_date=date(2025, 1, 1)), "VN", True),
        (a(action_date=date(2025, 12, 31)), "VN", True),
        (a(action_date=date(2026, 1, 1)), "VN", False),
        (a(vintage=2019), "VN", True),  # an older vintage acted on this year is this year's action
    ],
)
def test_actions_are_kept_by_party_and_action_date(action, party, kept):
    rows = report(party=party, actions=[action]).tables[T3]
    assert len(rows) == (1 if kept else 0)


def v(version, authorized_on, **changes) -> AuthorizationRecord:
    return replace(AUTH, version=version, authorized_on=authorized_on, **changes)


@pytest.mark.parametrize(
    ("authorizations", "expected"),
    [
        # (version, in force on 31 December) of the rows kept, in date order
        ([v(1, date(2025, 2, 10))], [(1, "Yes")]),
        ([v(1, date(2023, 5, 1))], [(1, "Yes")]),  # earlier, still in force
        ([v(1, date(2026, 1, 1))], []),  # after the year
        ([v(1, date(2025, 2, 10), authorizing_party="TH")], []),  # another Party's
        ([v(1, date(2025, 2, 10), authorizing_party="vn")], [(1, "Yes")]),
        ([v(1, date(2024, 5, 1)), v(2, date(2025, 6, 1))], [(2, "Yes")]),  # v1 superseded before the year
        ([v(1, date(2025, 2, 1)), v(2, date(2025, 6, 1))], [(1, "No"), (2, "Yes")]),  # both events this year
        ([v(1, date(2024, 5, 1)), v(2, date(2026, 3, 1))], [(1, "Yes")]),  # v2 comes later
        (
            [v(2, date(2025, 6, 1)), v(1, date(2025, 2, 1))],
            [(1, "No"), (2, "Yes")],
        ),  # input order is irrelevant
        (
            [v(1, date(2023, 1, 1)), v(1, date(2024, 1, 1), authorization_id="VN-LoA-2024-009")],
            [(1, "Yes"), (1, "Yes")],  # two letters in force
        ),
    ],
)
def test_authorizations_are_kept_when_dated_in_the_year_or_in_force(authorizations, expected):
    rows = report(authorizations=authorizations).tables[T2]
    assert [(row["Authorization version"], row["In force on 31 December"]) for row in rows] == expected


def test_an_authorization_row_and_its_entities():
    letter = replace(
        AUTH, authorized_entities=(("Zeta Air", "SG"), ("Alpha Corp", "jp")), purposes=("oimp", "ndc")
    )
    tables = report(authorizations=[letter]).tables
    assert tables[T2] == [
        {
            "Authorization ID": "VN-LoA-2025-001",
            "Authorization version": 1,
            "Date of authorization": "2025-02-10",
            "Cooperative approach": "CA0001",
            "Authorizing participating Party": "VN",
            "Purposes for authorization": "NDC; OIMP",
            "First transfer definition": "First international transfer",
            "Authorized Parties": "JP",
            "Authorized entities": "Zeta Air; Alpha Corp",
            "Sector(s)": "Energy",
            "Activity type(s)": "Solar PV",
            "Metric": "tCO2e",
            "Authorized quantity (tCO2e)": 10_000,
            "First vintage": 2021,
            "Last vintage": 2030,
            "In force on 31 December": "Yes",
        }
    ]
    assert tables[T5] == [
        {
            "Authorization ID": "VN-LoA-2025-001",
            "Authorization version": 1,
            "Cooperative approach": "CA0001",
            "Authorized entity": name,
            "Country of incorporation": country,
        }
        for name, country in [("Alpha Corp", "JP"), ("Zeta Air", "SG")]
    ]


def test_holdings_are_taken_as_given_as_at_31_december():
    other = replace(HOLDING, first_transferring_party="TH", holder_party=None, status="cancelled")
    rows = report(holdings=[HOLDING, other]).tables[T4]
    assert len(rows) == 2
    assert {row["As at"] for row in rows} == {"2025-12-31"}
    mine = next(row for row in rows if row["First transferring participating Party"] == "VN")
    assert mine == {
        "Cooperative approach": "CA0001",
        "First unique identifier": "CA0001-JCMVN-VN-000000151-2025",
        "Last unique identifier": "CA0001-JCMVN-VN-000000400-2025",
        "Underlying unit block start ID": 151,
        "Underlying unit block end ID": 400,
        "Metric": "tCO2e",
        "Quantity (tCO2e)": 250,
        "First transferring participating Party": "VN",
        "Vintage": 2025,
        "Status": "Authorized",
        "Holding Party": "VN",
        "As at": "2025-12-31",
    }
    assert next(row for row in rows if row is not mine)["Holding Party"] == ""


@pytest.mark.parametrize(
    ("year", "ndc_period", "remarks"),
    [
        (2025, (2021, 2030), ""),
        (2021, (2021, 2030), ""),
        (2030, (2021, 2030), ""),
        (2020, (2021, 2030), "Reporting year 2020 lies outside the NDC period 2021–2030"),
        (2031, (2021, 2030), "Reporting year 2031 lies outside the NDC period 2021–2030"),
    ],
)
def test_the_submission_row_notes_a_year_outside_the_ndc_period(year, ndc_period, remarks):
    assert report(year=year, ndc_period=ndc_period).tables[T1] == [
        {
            "Party": "VN",
            "Reporting year": year,
            "NDC period first year": ndc_period[0],
            "NDC period last year": ndc_period[1],
            "Submission date": "2026-04-15",
            "Remarks": remarks,
        }
    ]


# --- T3 rows and the ITMO identifiers (domain.md §5.3) --------------------------------------------


@pytest.mark.parametrize(
    ("action", "first", "last"),
    [
        (ACTION, "CA0001-JCMVN-VN-000000001-2025", "CA0001-JCMVN-VN-000000150-2025"),
        (
            a(serial_start=42, serial_end=42),
            "CA0001-JCMVN-VN-000000042-2025",
            "CA0001-JCMVN-VN-000000042-2025",
        ),
        (
            a(
                cooperative_approach="CA0123",
                registry_id="jcmvn",
                first_transferring_party="vn",
                vintage=2023,
            ),
            "CA0123-JCMVN-VN-000000001-2023",
            "CA0123-JCMVN-VN-000000150-2023",
        ),
        (
            a(serial_start=999_999_999, serial_end=1_000_000_001),
            "CA0001-JCMVN-VN-999999999-2025",
            "CA0001-JCMVN-VN-1000000001-2025",
        ),
    ],
)
def test_t3_gives_the_first_and_last_itmo_identifier_of_the_block(action, first, last):
    (row,) = report(actions=[action]).tables[T3]
    assert row["First unique identifier"] == first
    assert row["Last unique identifier"] == last
    for serial, column in (
        (action.serial_start, "First unique identifier"),
        (action.serial_end, "Last unique identifier"),
    ):
        assert row[column] == itmo_identifier(
            cooperative_approach=action.cooperative_approach,
            registry=action.registry_id,
            first_transferring_party=action.first_transferring_party,
            serial=serial,
            vintage=action.vintage,
        )
    assert row["Underlying unit block start ID"] == action.serial_start
    assert row["Underlying unit block end ID"] == action.serial_end
    assert row["Quantity (tCO2e)"] == action.serial_end - action.serial_start + 1


def test_a_t3_row_in_full():
    use = a(
        action_date=date(2025, 11, 5),
        action_type="use_oimp",
        transferring_party=None,
        acquiring_party=None,
        purposes=("oimp", "other", "oimp"),
        using_party_or_entity="Tokyo Power KK",
        first_transfer=False,
    )
    assert report(actions=[use]).tables[T3] == [
        {
            "Cooperative approach": "CA0001",
            "Authorization ID": "VN-LoA-2025-001",
            "First unique identifier": "CA0001-JCMVN-VN-000000001-2025",
            "Last unique identifier": "CA0001-JCMVN-VN-000000150-2025",
            "Underlying unit block start ID": 1,
            "Underlying unit block end ID": 150,
            "Metric": "tCO2e",
            "Quantity (tCO2e)": 150,
            "First transferring participating Party": "VN",
            "Vintage": 2025,
            "Action date": "2025-11-05",
            "Action type": "Use for OIMP",
            "Transferring participating Party": "",
            "Acquiring participating Party": "",
            "Purposes for authorization": "OIMP; Other",
            "Using participating Party or authorized entity or entities": "Tokyo Power KK",
            "First transfer": "No",
        }
    ]


def test_rows_do_not_depend_on_the_order_of_the_records():
    actions = [
        ACTION,
        transfer(action_date=date(2025, 3, 1), serial_start=151, serial_end=200),
        a(action_date=date(2025, 1, 5), action_type="authorization", first_transfer=False),
        transfer(action_date=date(2025, 7, 1), transferring_party="JP", acquiring_party="CH"),
    ]
    authorizations = [
        v(1, date(2025, 2, 1)),
        v(2, date(2025, 6, 1)),
        v(1, date(2024, 1, 1), authorization_id="B"),
    ]
    holdings = [
        HOLDING,
        replace(HOLDING, serial_start=1, serial_end=150, status="first_transferred", holder_party="JP"),
    ]
    first = report_json(report(authorizations=authorizations, actions=actions, holdings=holdings))
    rng = random.Random(7)
    for _ in range(5):
        for items in (actions, authorizations, holdings):
            rng.shuffle(items)
        assert report_json(report(authorizations=authorizations, actions=actions, holdings=holdings)) == first
    dates = [row["Action date"] for row in json.loads(first)["tables"][T3]]
    assert dates == sorted(dates)


# --- Totals = ledger (quality.md T9) --------------------------------------------------------------

LEDGER = [
    a(action_date=date(2025, 1, 5), action_type="authorization", first_transfer=False, serial_end=1000),
    a(serial_start=1, serial_end=400),  # first transfer VN → JP, NDC
    a(serial_start=401, serial_end=500, vintage=2024),
    transfer(serial_start=301, serial_end=400, transferring_party="JP", acquiring_party="CH"),
    a(action_type="use_ndc", first_transfer=False, serial_start=1, serial_end=300, acquiring_party=None),
    a(
        action_type="use_oimp", first_transfer=True, serial_start=501, serial_end=550
    ),  # OIMP, first transfer at use
    a(action_type="omge_cancellation", first_transfer=False, serial_start=551, serial_end=552),
    a(
        action_type="voluntary_cancellation",
        first_transfer=False,
        serial_start=553,
        serial_end=560,
        vintage=2024,
    ),
    a(action_date=date(2024, 12, 31), serial_start=2000, serial_end=2999),  # last year: left out
    a(
        first_transferring_party="TH", transferring_party="TH", acquiring_party="SG", serial_end=9999
    ),  # not VN's
]


def test_totals_by_action_type_and_vintage_match_the_ledger():
    assert report(actions=LEDGER).totals == {
        ("authorization", 2025): 1000,
        ("first_transfer", 2025): 400,
        ("first_transfer", 2024): 100,
        ("transfer", 2025): 100,
        ("use_ndc", 2025): 300,
        ("use_oimp", 2025): 50,
        ("omge_cancellation", 2025): 2,
        ("voluntary_cancellation", 2024): 8,
        "first_transfers": 550,  # flagged actions, whatever their type
        "use_ndc": 300,
        "use_oimp": 50,
        "omge_cancellations": 2,
        "voluntary_cancellations": 8,
    }


def test_totals_equal_the_t3_quantities():
    result = report(actions=LEDGER)
    by_type: dict[tuple[str, int], int] = {}
    labels = {label: code for code, label in aef.ACTION_TYPES.items()}
    for row in result.tables[T3]:
        key = (labels[row["Action type"]], row["Vintage"])
        by_type[key] = by_type.get(key, 0) + row["Quantity (tCO2e)"]
    assert {k: q for k, q in result.totals.items() if isinstance(k, tuple)} == by_type


def test_totals_of_an_empty_year_are_zero():
    assert report().totals == dict.fromkeys(aef.OVERALL_TOTALS, 0)
    assert all(report().tables[name] == [] for name in (T2, T3, T4, T5))


PARTIES = ("VN", "JP", "CH")
ACTION_TYPE_CODES = tuple(aef.ACTION_TYPES)


@st.composite
def action_records(draw):
    action_type = draw(st.sampled_from(ACTION_TYPE_CODES))
    start = draw(st.integers(1, 5000))
    return ActionRecord(
        action_date=draw(st.dates(date(2024, 11, 1), date(2026, 2, 1))),
        action_type=action_type,
        authorization_id=draw(st.sampled_from(("LoA-1", "LoA-2"))),
        cooperative_approach=draw(st.sampled_from(("CA0001", "CA0002"))),
        registry_id=draw(st.sampled_from(("JCMVN", "A6REG"))),
        first_transferring_party=draw(st.sampled_from(PARTIES)),
        serial_start=start,
        serial_end=start + draw(st.integers(0, 200)),
        vintage=draw(st.integers(2021, 2026)),
        transferring_party=draw(st.none() | st.sampled_from(PARTIES)),
        acquiring_party=draw(st.none() | st.sampled_from(PARTIES)),
        purposes=tuple(draw(st.lists(st.sampled_from(tuple(aef.PURPOSES)), max_size=3))),
        using_party_or_entity=draw(st.none() | st.text(max_size=10)),
        first_transfer=action_type == "first_transfer" or draw(st.booleans()),
    )


def brute_force_totals(actions, party, year):
    totals = dict.fromkeys(aef.OVERALL_TOTALS, 0)
    overall = {
        "use_ndc": "use_ndc",
        "use_oimp": "use_oimp",
        "omge_cancellation": "omge_cancellations",
        "voluntary_cancellation": "voluntary_cancellations",
    }
    for action in actions:
        if action.action_date.year != year:
            continue
        if party not in (action.first_transferring_party, action.transferring_party, action.acquiring_party):
            continue
        for _serial in range(action.serial_start, action.serial_end + 1):  # one unit at a time
            key = (action.action_type, action.vintage)
            totals[key] = totals.get(key, 0) + 1
            if action.first_transfer:
                totals["first_transfers"] += 1
            if action.action_type in overall:
                totals[overall[action.action_type]] += 1
    return totals


@settings(max_examples=150, deadline=None)
@given(actions=st.lists(action_records(), max_size=25), party=st.sampled_from(PARTIES))
def test_totals_equal_a_brute_force_sum(actions, party):
    result = report(party=party, actions=actions)
    assert result.totals == brute_force_totals(actions, party, YEAR)
    assert sum(row["Quantity (tCO2e)"] for row in result.tables[T3]) == sum(
        q for k, q in result.totals.items() if isinstance(k, tuple)
    )
    assert json.loads(report_json(result))["totals"]["first_transfers"] == result.totals["first_transfers"]


# --- Exports --------------------------------------------------------------------------------------

NASTY = '=HYPERLINK("http://evil","x")'


def full_report():
    letter = replace(AUTH, authorized_entities=((NASTY, "JP"), ("@SUM(A1)", "SG"), ("Plain KK", "JP")))
    actions = [
        *LEDGER,
        a(action_type="use_ndc", first_transfer=False, using_party_or_entity="+cmd|' /C calc'!A0"),
        a(action_type="voluntary_cancellation", first_transfer=False, using_party_or_entity="-2+3"),
        a(action_type="use_oimp", first_transfer=False, using_party_or_entity="\tTab Airline"),
        a(action_type="use_oimp", first_transfer=False, using_party_or_entity="\rCR Airline"),
        a(action_type="use_oimp", first_transfer=False, using_party_or_entity="Café Ünïcode"),
    ]
    return report(
        authorizations=[letter, v(1, date(2023, 3, 3), authorization_id="OLD")],
        actions=actions,
        holdings=[HOLDING],
    )


def spreadsheet_value(value):
    """What a CSV or XLSX cell should hold for a table value: formula-looking text is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def xlsx_value(value):
    """As spreadsheet_value, but XML reads a carriage return in text back as a line feed (XML 1.0 §2.11)."""
    value = spreadsheet_value(value)
    return value.replace("\r", "\n") if isinstance(value, str) else value


def test_json_is_deterministic_and_loads_back():
    result = full_report()
    text = report_json(result)
    assert text == report_json(full_report())
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)  # keys sorted
    assert data["party"] == "VN" and data["year"] == YEAR
    assert data["columns"] == COLUMNS
    assert data["tables"] == result.tables  # unquoted: JSON is no spreadsheet
    assert data["tables"][T1][0]["Submission date"] == "2026-04-15"
    totals = data["totals"]
    assert {key: totals[key] for key in aef.OVERALL_TOTALS} == {
        k: result.totals[k] for k in aef.OVERALL_TOTALS
    }
    assert {
        (r["action_type"], r["vintage"]): r["quantity"] for r in totals["by_action_type_and_vintage"]
    } == {k: q for k, q in result.totals.items() if isinstance(k, tuple)}
    pairs = [(r["action_type"], r["vintage"]) for r in totals["by_action_type_and_vintage"]]
    assert pairs == sorted(pairs)


def test_csv_round_trip():
    result = full_report()
    raw = report_csv(result)
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    parsed: dict[str, list[dict[str, str]]] = {}
    header: list[str] | None = None
    order = []
    for line in lines:
        if line[0] == "table":
            header = line[1:]
            continue
        assert header == COLUMNS[line[0]], "each table's header comes before its rows"
        if line[0] not in parsed:
            order.append(line[0])
        parsed.setdefault(line[0], []).append(dict(zip(header, line[1:], strict=True)))
    assert [line[1:] for line in lines if line[0] == "table"] == [COLUMNS[name] for name in TABLES]
    assert order == list(TABLES)
    expected = {
        name: [{column: str(spreadsheet_value(value)) for column, value in row.items()} for row in rows]
        for name, rows in result.tables.items()
    }
    assert parsed == expected


def test_xlsx_round_trip_with_bold_headers():
    result = full_report()
    workbook = load_workbook(io.BytesIO(report_xlsx(result)))
    assert workbook.sheetnames == list(TABLES)
    for name in TABLES:
        sheet = workbook[name]
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == COLUMNS[name]
        assert all(cell.font.b for cell in sheet[1])
        assert not any(cell.font.b for row in sheet.iter_rows(min_row=2) for cell in row)
        got = [[("" if cell is None else cell) for cell in row] for row in rows[1:]]
        want = [[xlsx_value(row[column]) for column in COLUMNS[name]] for row in result.tables[name]]
        assert got == want, name


@pytest.mark.parametrize(
    "text", [NASTY, "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\tTab Airline", "\rCR Airline"]
)
def test_formula_injection_is_neutralised(text):
    result = full_report()
    cells = [value for rows in result.tables.values() for row in rows for value in row.values()]
    assert text in cells  # the table keeps the name as given

    csv_cells = [
        cell for line in csv.reader(io.StringIO(report_csv(result).decode(), newline="")) for cell in line
    ]
    assert "'" + text in csv_cells
    assert text not in csv_cells

    workbook = load_workbook(io.BytesIO(report_xlsx(result)))
    xlsx_cells = [cell for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row]
    assert xlsx_value(text) in xlsx_cells
    assert text not in xlsx_cells and text.replace("\r", "\n") not in xlsx_cells
    assert not any(
        isinstance(cell, str) and cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in xlsx_cells
    )


def test_harmless_text_and_numbers_are_not_quoted():
    csv_cells = [
        cell
        for line in csv.reader(io.StringIO(report_csv(full_report()).decode(), newline=""))
        for cell in line
    ]
    assert "Café Ünïcode" in csv_cells
    assert "CA0001-JCMVN-VN-000000001-2025" in csv_cells
    assert "2025-03-01" in csv_cells
    assert not any(cell.startswith("''") for cell in csv_cells)


# --- Invalid input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"actions": [a(action_type="retire")]}, ValueError, "unknown action type 'retire'"),
        ({"actions": [a(action_type="First transfer")]}, ValueError, "unknown action type"),
        ({"actions": [a(purposes=("corsia",))]}, ValueError, "unknown purpose 'corsia'"),
        ({"authorizations": [replace(AUTH, purposes=("ndc", "NDC"))]}, ValueError, "unknown purpose 'NDC'"),
        ({"authorizations": [replace(AUTH, purposes=())]}, ValueError, "at least one purpose"),
        (
            {"actions": [a(serial_start=10, serial_end=9)]},
            ValueError,
            r"10–9 ends before it starts \(end < start\)",
        ),
        ({"actions": [a(serial_start=0, serial_end=9)]}, ValueError, "start at 1, not 0"),
        ({"holdings": [replace(HOLDING, serial_start=5, serial_end=4)]}, ValueError, "end < start"),
        ({"holdings": [replace(HOLDING, status="retired")]}, ValueError, "unknown status 'retired'"),
        (
            {"authorizations": [replace(AUTH, first_transfer_definition="use")]},
            ValueError,
            "unknown first transfer definition 'use'",
        ),
        (
            {"authorizations": [replace(AUTH, vintage_first=2030, vintage_last=2021)]},
            ValueError,
            "end before",
        ),
        (
            {"authorizations": [replace(AUTH, authorized_parties=("JPN",))]},
            ValueError,
            "'JPN' is not a two-letter",
        ),
        ({"authorizations": [replace(AUTH, authorized_entities=(("X",),))]}, ValueError, "pair"),
        ({"authorizations": [replace(AUTH, quantity_tco2e=0)]}, ValueError, "quantity 0 is not positive"),
        ({"authorizations": [replace(AUTH, version=0)]}, ValueError, "versions start at 1"),
        ({"actions": [a(cooperative_approach="CA1")]}, ValueError, "not CA \\+ 4 digits"),
        ({"actions": [a(registry_id="JCM-VN")]}, ValueError, "registry ID 'JCM-VN'"),
        ({"holdings": [replace(HOLDING, registry_id="")]}, ValueError, "registry ID ''"),
        ({"actions": [a(acquiring_party="Japan")]}, ValueError, "acquiring Party 'Japan'"),
        ({"actions": [a(first_transfer=False)]}, ValueError, "must carry the first-transfer flag"),
        ({"actions": [a(vintage=25)]}, ValueError, "not a four-digit year"),
        ({"actions": [a(serial_end=150.0)]}, TypeError, "must be an int, not float"),
        ({"actions": [a(first_transfer=1)]}, TypeError, "first-transfer flag must be a bool"),
        ({"actions": [a(action_date=datetime(2025, 3, 1, 12))]}, TypeError, "must be a date, not datetime"),
        ({"actions": [HOLDING]}, TypeError, "not an ActionRecord"),
        ({"party": "VNM"}, ValueError, "reporting Party 'VNM'"),
        ({"year": "2025"}, TypeError, "reporting year must be an int"),
        ({"ndc_period": (2030, 2021)}, ValueError, "NDC period 2030–2021 ends before it starts"),
        ({"ndc_period": (2021,)}, ValueError, "not a \\(first year, last year\\) pair"),
    ],
)
def test_invalid_input_is_rejected(changes, error, message):
    with pytest.raises(error, match=message):
        report(**changes)


def test_records_outside_the_report_are_checked_too():
    # A malformed ledger record is a bug even when it belongs to another Party or year.
    with pytest.raises(ValueError, match="unknown action type"):
        report(party="CH", actions=[a(action_type="bogus", action_date=date(2019, 1, 1))])


def test_a_datetime_is_no_submission_date():
    with pytest.raises(TypeError, match="submission date must be a date"):
        build_report(
            party="VN",
            year=YEAR,
            submitted_on=datetime(2026, 4, 15, 9, 30),
            ndc_period=(2021, 2030),
            authorizations=[],
            actions=[],
            holdings=[],
        )
