"""Tables written for spreadsheets: CSV and XLSX that never run a cell as a formula.

One rule for every export (ASVS 5.0 V1.2.10; OWASP "CSV Injection"): a text cell starting with
= + - @ tab, carriage return or NUL gets a leading single quote, so a spreadsheet shows it instead of
evaluating it. Numbers (int, Decimal, float) stay numbers, so a negative meter correction is still
a number a verifier can sum. XLSX cells holding text are also typed as strings explicitly, because
openpyxl would otherwise write any string starting with "=" as a formula.

Pure: imports neither Flask nor SQLAlchemy.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"
_NUMBERS = (int, float, Decimal)


def neutralise(value: Any) -> Any:
    """The cell a spreadsheet will never evaluate: risky text quoted, numbers and dates untouched."""
    if type(value) is str:  # the common case first: exports call this for every cell
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool) or value is None or isinstance(value, (*_NUMBERS, date)):
        return value
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _csv_cell(value: Any) -> Any:
    value = neutralise(value)
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Line:
    """A file-like target for csv.writer that hands back what one row wrote."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The table as CSV, one line at a time (RFC 4180: CRLF line ends, quotes where needed).

    A generator, so a list of 100,000 rows streams to the client without being held in memory.
    With "\\n" alone the csv module would leave a field holding "\\r" unquoted and a reader would
    split the row there, hence CRLF.
    """
    line = _Line()
    writer = csv.writer(line, lineterminator="\r\n")
    writer.writerow([_csv_cell(name) for name in header])
    yield line.take()
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        yield line.take()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The whole CSV as one string (for small tables and tests)."""
    return "".join(csv_lines(header, rows))


def _xlsx_value(value: Any) -> Any:
    value = neutralise(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no time zones; the application stores UTC, so write UTC wall time.
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        # XML 1.0 cannot carry most control characters; openpyxl refuses them outright.
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _xlsx_cell(sheet, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"  # never "f": a string is text, whatever it starts with
    return cell


def write_xlsx(target, header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Export") -> None:
    """The table as a one-sheet XLSX workbook written to `target` (a path or a binary file).

    openpyxl's write-only mode streams rows to a temporary file, so memory stays flat however many
    rows there are; the bold header row is frozen.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for name in header:
        cell = _xlsx_cell(sheet, name)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    workbook.save(target)


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Export") -> bytes:
    """The workbook of `write_xlsx` as bytes."""
    buffer = io.BytesIO()
    write_xlsx(buffer, header, rows, title)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    # Excel sheet names: at most 31 characters, none of []:*?/\
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "Export")[:31]
