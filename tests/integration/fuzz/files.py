"""Hypothesis strategies for malformed upload files: arbitrary bytes, mutated CSV text and mutated
XLSX workbooks (typed cells, and byte-level damage to a valid archive), built from valid tables."""

import csv
import functools
import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# Cell values a spreadsheet user, a broken export or an attacker could put anywhere.
NASTY_TEXT = [
    "",
    " ",
    "-1",
    "-850",
    "0",
    "1e308",
    "9" * 40,
    "1" + "0" * 400,
    "-0.0000001",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1,5",
    "1.2.3",
    "0x1F",
    "½",
    "١٢٣",  # Arabic-Indic digits: Decimal() reads them
    "𝟙𝟚𝟛",  # mathematical digits
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1:A9)",
    "-2+3",
    '"quoted"',
    'a "b" c',
    "line\nbreak",
    "carriage\rreturn",
    "tab\tcell",
    "semi;colon",
    "comma,cell",
    "\x00",
    "\ufeff",
    "\u202e" + "evil",
    "Ωμέγα",
    "日本語の名前",
    "🙂" * 3,
    "x" * 300,
    "2025-02-30",
    "2025-13-01",
    "01/03/2025",
    "2025-03-01T00:00:00",
    "2025-03-01T25:00:00+07:00",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01",
    "yes",
    "no",
    "maybe",
    "generation",
    "export",
    "solar_pv",
    "cpa_dd",
    "VN-57",
]
cell_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=30))
# Typed cells for XLSX: what openpyxl writes as numbers, dates, booleans and empties.
typed_cell = st.one_of(
    cell_text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
)


@st.composite
def mutated_table(draw, header: list[str], rows: list[list[str]], cells=cell_text) -> list[list]:
    """The valid table with a few structural and cell mutations (none at all now and then, so the
    property also sees files that must be accepted in full)."""
    table = [list(header), *(list(row) for row in rows)]
    for _ in range(draw(st.integers(0, 4))):
        width = max(len(line) for line in table)
        operation = draw(
            st.sampled_from(
                [
                    "cell",
                    "cell",
                    "cell",
                    "drop_column",
                    "duplicate_column",
                    "swap_columns",
                    "drop_row",
                    "duplicate_row",
                    "extra_cells",
                    "short_row",
                    "blank_row",
                    "rename_header",
                ]
            )
        )
        if operation == "cell":
            line = draw(st.integers(0, len(table) - 1))
            if table[line]:
                table[line][draw(st.integers(0, len(table[line]) - 1))] = draw(cells)
        elif operation == "drop_column":
            index = draw(st.integers(0, width - 1))
            table = [[c for i, c in enumerate(line) if i != index] for line in table]
        elif operation == "duplicate_column":
            index = draw(st.integers(0, width - 1))
            table = [line + line[index : index + 1] for line in table]
        elif operation == "swap_columns":
            a, b = draw(st.integers(0, width - 1)), draw(st.integers(0, width - 1))
            for line in table:
                if a < len(line) and b < len(line):
                    line[a], line[b] = line[b], line[a]
        elif operation == "drop_row" and len(table) > 1:
            del table[draw(st.integers(1, len(table) - 1))]
        elif operation == "duplicate_row" and len(table) > 1:
            table.append(list(table[draw(st.integers(1, len(table) - 1))]))
        elif operation == "extra_cells":
            line = draw(st.integers(0, len(table) - 1))
            table[line] = table[line] + draw(st.lists(cells, min_size=1, max_size=3))
        elif operation == "short_row":
            line = draw(st.integers(0, len(table) - 1))
            table[line] = table[line][: draw(st.integers(0, max(len(table[line]) - 1, 0)))]
        elif operation == "blank_row":
            table.insert(draw(st.integers(0, len(table))), [])
        elif operation == "rename_header" and table[0]:
            table[0][draw(st.integers(0, len(table[0]) - 1))] = draw(
                st.sampled_from([" reference", "REFERENCE", "référence", "value ", "", "x"])
            )
    return table


@st.composite
def csv_bytes(draw, header: list[str], rows: list[list[str]]) -> bytes:
    """The (mutated) table written as CSV, then encoded and damaged the ways real files are."""
    table = draw(mutated_table(header, rows))
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=quoting)
    writer.writerows(table)
    text = out.getvalue()
    if terminator == "mixed":
        lines = text.split("\n")
        text = "".join(line + draw(st.sampled_from(["\n", "\r\n", "\r"])) for line in lines)
    elif terminator != "\n":
        text = text.replace("\n", terminator)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    for _ in range(draw(st.integers(0, 2))):
        damage = draw(st.sampled_from(["truncate", "flip", "insert", "stray_quote"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if damage == "truncate":
            data = data[:at]
        elif damage == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif damage == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        else:
            data = data[:at] + b'"' + data[at:]
    return data


def workbook_bytes(table: list[list], sheet_title: str) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    for line in table:
        # A workbook cannot hold most control characters (XML 1.0); openpyxl refuses to write them.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in line])
    out = io.BytesIO()
    workbook.save(out)
    return _timeless(out.getvalue())


def _timeless(data: bytes) -> bytes:
    """The workbook with fixed times: openpyxl stamps the save time into docProps/core.xml and the
    archive entries, which changes the compressed size and so every draw of a position in it,
    and derandomized runs would then differ."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2025-01-01T00:00:00Z", content)
            fixed = zipfile.ZipInfo(entry.filename, date_time=(2025, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, content)
    return out.getvalue()


@functools.cache
def _valid_workbook(header: tuple, rows: tuple, sheet_title: str) -> bytes:
    """Built once: a workbook's bytes hold the time it was saved, and hypothesis needs every draw
    from them (positions within the file) to be the same when it replays an example."""
    return workbook_bytes([list(header), *(list(row) for row in rows)], sheet_title)


@st.composite
def xlsx_bytes(draw, header: list[str], rows: list[list], sheet_title: str) -> bytes:
    """A real workbook with mutated typed cells, or a valid one damaged at the byte level."""
    if draw(st.booleans()):
        table = draw(mutated_table(header, rows, cells=typed_cell))
        title = draw(st.sampled_from([sheet_title, sheet_title, "Sheet1", "Данные"]))
        return workbook_bytes(table, title)
    data = _valid_workbook(tuple(header), tuple(map(tuple, rows)), sheet_title)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        damage = draw(st.sampled_from(["truncate", "flip", "flip", "insert", "zero_run"]))
        if damage == "truncate":
            data = data[: max(at, 4)]
        elif damage == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif damage == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        else:
            data = data[:at] + b"\x00" * draw(st.integers(1, 64)) + data[at + 64 :]
    return data


def any_file(header: list[str], rows: list[list], typed_rows: list[list], sheet_title: str):
    """(extension, bytes, kind) for one of: arbitrary bytes, mutated CSV, mutated XLSX."""
    return st.one_of(
        st.tuples(st.sampled_from([".csv", ".xlsx"]), st.binary(max_size=600), st.just("bytes")),
        st.tuples(
            st.just(".xlsx"),
            st.binary(max_size=300).map(lambda tail: b"PK\x03\x04" + tail),
            st.just("bytes"),
        ),
        st.tuples(st.just(".csv"), csv_bytes(header, rows), st.just("csv")),
        st.tuples(st.just(".csv"), csv_bytes(header, rows), st.just("csv")),
        st.tuples(st.just(".xlsx"), xlsx_bytes(header, typed_rows, sheet_title), st.just("xlsx")),
    )
