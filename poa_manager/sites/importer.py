"""Reading sites for bulk upload from CSV or XLSX, and the template to fill in. Pure: no Flask or database."""

import csv
import difflib
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from poa_manager import tabular

MAX_ROWS = 5_000  # data rows per file; larger programmes upload in parts
MAX_SCANNED_ROWS = 20 * MAX_ROWS  # blank rows included
MAX_FILE_BYTES = 20 * 1024 * 1024  # far above 5,000 rows of CSV; the web layer's limit is the first gate
MAX_ZIP_ENTRIES = 1_000  # an XLSX workbook holds a few dozen parts
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_METERS = 3
METER_ROLES = ("export", "import", "generation", "consumption")  # the values of models.MeterRole
SEPARATOR = ";"
SHEET_NAME = "Sites"
FILE = 0  # the row of errors about the file as a whole


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | decimal | date | list | yes_no | role
    meaning: str
    format: str
    max_length: int | None = None  # the database column's length, so PostgreSQL never truncates
    low: Decimal | None = None
    high: Decimal | None = None
    places: int | None = None  # the database column's scale: more decimals would be rounded silently
    required: bool = False


SITE_COLUMNS = (
    Column("reference", "text", "The site's reference as in its CPA-DD/VPA-DD.", "text", 40, required=True),
    Column("name", "text", "A name people recognise.", "text", 200, required=True),
    Column(
        "operator",
        "text",
        "The operating organisation, by its name on the platform. Leave empty if not known yet.",
        "text",
        200,
    ),
    Column(
        "latitude",
        "decimal",
        "Latitude of the site (WGS 84).",
        "decimal degrees, -90 to 90, at most 6 decimals, point as decimal separator",
        low=Decimal(-90),
        high=Decimal(90),
        places=6,
    ),
    Column(
        "longitude",
        "decimal",
        "Longitude of the site (WGS 84).",
        "decimal degrees, -180 to 180, at most 6 decimals, point as decimal separator",
        low=Decimal(-180),
        high=Decimal(180),
        places=6,
    ),
    Column("area_code", "text", "Province or region (ISO 3166-2).", "code, e.g. VN-57", 10),
    Column(
        "technology", "text", "Technology, as the programme's criteria name it.", "text, e.g. solar_pv", 60
    ),
    Column(
        "capacity_kw",
        "decimal",
        "Installed capacity.",
        "kW (kilowatts), 0 or more, at most 3 decimals",
        low=Decimal(0),
        high=Decimal("999999999.999"),
        places=3,
    ),
    Column("commissioned_on", "date", "Date the equipment started operating.", "date, YYYY-MM-DD"),
    Column(
        "equipment_serials",
        "list",
        "Serial numbers of the main equipment (inverters, turbines...).",
        "serials separated by ;",
        60,
    ),
    Column(
        "documents",
        "list",
        "Kinds of document on file for the site, e.g. cpa_dd, eia.",
        "kinds separated by ;",
        60,
    ),
    Column(
        "financial_support_declared",
        "yes_no",
        "Has the site received public financial support?",
        "yes, no, or empty if not declared",
    ),
    Column("funding_sources", "text", "Where the funding came from.", "text", 500),
)


def _meter_columns(n: int) -> tuple[Column, ...]:
    return (
        Column(f"meter_{n}_serial", "text", f"Serial number of meter {n}.", "text", 60),
        Column(
            f"meter_{n}_role",
            "role",
            f"What meter {n} measures. Empty means generation.",
            "export, import, generation or consumption",
        ),
        Column(f"meter_{n}_accuracy_class", "text", f"Accuracy class of meter {n}.", "text, e.g. 0.5S", 10),
        Column(f"meter_{n}_calibrated_on", "date", f"Last calibration of meter {n}.", "date, YYYY-MM-DD"),
        Column(
            f"meter_{n}_calibration_valid_until",
            "date",
            f"Date the calibration of meter {n} expires.",
            "date, YYYY-MM-DD",
        ),
    )


METER_FIELDS = ("serial", "role", "accuracy_class", "calibrated_on", "calibration_valid_until")
COLUMNS = SITE_COLUMNS + tuple(c for n in range(1, MAX_METERS + 1) for c in _meter_columns(n))
COLUMNS_BY_NAME = {column.name: column for column in COLUMNS}
TEMPLATE_COLUMNS = tuple(column.name for column in COLUMNS)
REQUIRED_COLUMNS = tuple(column.name for column in COLUMNS if column.required)

# The template's example row, as typed values; the CSV writes them as text, the XLSX as typed cells.
EXAMPLE_ROW: dict[str, Any] = {
    "reference": "CPA-0001",
    "name": "An Phu factory rooftop",
    "operator": None,
    "latitude": Decimal("10.980123"),
    "longitude": Decimal("106.650456"),
    "area_code": "VN-57",
    "technology": "solar_pv",
    "capacity_kw": Decimal("850.5"),
    "commissioned_on": date(2025, 3, 1),
    "equipment_serials": ["INV-0001", "INV-0002"],
    "documents": ["cpa_dd"],
    "financial_support_declared": False,
    "funding_sources": "Company equity",
    "meter_1_serial": "MTR-0001",
    "meter_1_role": "generation",
    "meter_1_accuracy_class": "0.5S",
    "meter_1_calibrated_on": date(2025, 2, 1),
    "meter_1_calibration_valid_until": date(2030, 2, 1),
}


@dataclass(frozen=True)
class RowError:
    """One problem, located as the user sees it: row 1 is the header, row 0 the file as a whole."""

    row: int
    column: str
    code: str
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SiteRow:
    """A clean row: `facts` are create_site's keyword arguments, with the operator still a name."""

    row: int
    facts: dict[str, Any]

    @property
    def reference(self) -> str:
        return self.facts["reference"]


@dataclass
class ParsedFile:
    """The clean rows and every error; a row with any error is not in `rows`."""

    rows: list[SiteRow]
    errors: list[RowError]
    data_rows: int = 0  # non-blank rows below the header, clean or not


# --- templates --------------------------------------------------------------------------------


def _as_cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return SEPARATOR.join(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def template_csv() -> str:
    """The header and one example row, comma-separated, UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerow([_as_cell_text(EXAMPLE_ROW.get(name)) for name in TEMPLATE_COLUMNS])
    return out.getvalue()


def template_xlsx() -> bytes:
    """A workbook with the header, an example row, and a Help sheet describing each column."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append(TEMPLATE_COLUMNS)
    # Numbers and dates as typed cells, as a user's spreadsheet holds them; the rest as text.
    sheet.append(
        [
            value
            if isinstance(value := EXAMPLE_ROW.get(name), Decimal | date)
            else _as_cell_text(value) or None
            for name in TEMPLATE_COLUMNS
        ]
    )
    for index, name in enumerate(TEMPLATE_COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        column = COLUMNS_BY_NAME[name]
        if column.kind == "date":
            sheet[f"{letter}2"].number_format = "yyyy-mm-dd"
        width = max(len(name), len(_as_cell_text(EXAMPLE_ROW.get(name))), 10) + 2
        sheet.column_dimensions[letter].width = width
        if column.kind in ("role", "yes_no"):
            choices = ",".join(METER_ROLES) if column.kind == "role" else "yes,no"
            validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"

    help_sheet = workbook.create_sheet("Help")
    help_sheet.append(["column", "required", "format and units", "meaning"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        help_sheet.append([column.name, "yes" if column.required else "no", column.format, column.meaning])
    help_sheet.append([])
    help_sheet.append(
        [
            "Notes",
            "",
            f"One row per site, at most {MAX_ROWS} rows. Up to {MAX_METERS} meters per site.",
            "Every error in the file is reported at once; nothing is imported until there are none.",
        ]
    )
    for letter, width in zip("ABCD", (34, 10, 60, 80), strict=True):
        help_sheet.column_dimensions[letter].width = width

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- reading files -----------------------------------------------------------------------------


def _file_error(code: str, message: str) -> ParsedFile:
    return ParsedFile(rows=[], errors=[RowError(FILE, "", code, message)])


def parse_csv(data: bytes) -> ParsedFile:
    """A comma- or semicolon-separated UTF-8 file (with or without a byte order mark)."""
    if len(data) > MAX_FILE_BYTES:
        return _file_error("file_too_large", f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return _file_error(
            "not_utf8",
            f"The file is not UTF-8 text (the first unreadable character is on line {line}). "
            "Save it as 'CSV UTF-8'.",
        )
    if not text.strip():
        return _file_error("empty_file", "The file is empty.")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    try:
        # Only the header is sniffed: column names never hold a comma or a semicolon, data may.
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;").delimiter
    except csv.Error:
        delimiter = ","  # a single column: any delimiter reads it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = _collect(reader)
    except csv.Error as error:
        return _file_error(
            "not_csv", f"The file is not valid CSV near line {reader.line_num}: {error}. Check the quotes."
        )
    return _parse_table(records) if records is not None else _too_many_rows()


def parse_xlsx(data: bytes) -> ParsedFile:
    """The sheet named Sites, or the first sheet, of an XLSX workbook."""
    if not data:
        return _file_error("empty_file", "The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        return _file_error("file_too_large", f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")
    not_xlsx = _file_error(
        "not_xlsx", "The file is not an XLSX workbook. Save it as 'Excel Workbook (.xlsx)'."
    )
    # An XLSX file is a ZIP archive: check what it would expand to before openpyxl inflates it
    # (ASVS 5.0 V5.2.3). zipfile never inflates an entry past its declared size, so the declared
    # sizes bound the real ones.
    if not data.startswith(b"PK\x03\x04"):
        return not_xlsx
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return not_xlsx
    if len(entries) > MAX_ZIP_ENTRIES:
        return _file_error("too_many_entries", f"The workbook has more than {MAX_ZIP_ENTRIES} parts.")
    if sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
        return _file_error(
            "archive_too_large",
            f"The workbook would expand to more than {MAX_UNCOMPRESSED_BYTES // 2**20} MB.",
        )
    try:
        # data_only: a formula's last computed value, never the formula. openpyxl parses the XML
        # through defusedxml when it is installed (it is a dependency), so entities are refused.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # a hostile or broken file can fail anywhere inside openpyxl
        return not_xlsx
    try:
        sheet = workbook[SHEET_NAME] if SHEET_NAME in workbook.sheetnames else workbook.worksheets[0]
        # read_only yields every row from row 1, empty ones included, so the count is the row number.
        records = _collect(list(values) for values in sheet.iter_rows(values_only=True))
    except Exception:
        return not_xlsx
    finally:
        workbook.close()
    return _parse_table(records) if records is not None else _too_many_rows()


def _collect(rows: Iterable[list[Any]]) -> list[tuple[int, list[Any]]] | None:
    """The rows numbered from 1, or None when there are more than MAX_ROWS sites below the header."""
    records: list[tuple[int, list[Any]]] = []
    filled = 0
    for number, values in enumerate(rows, start=1):
        records.append((number, values))
        filled += not _blank_record(values)
        # Blank rows are skipped but bounded too, so a sheet of a million styled empty rows stops early.
        if filled > MAX_ROWS + 1 or number > MAX_SCANNED_ROWS:
            return None
    return records


def _too_many_rows() -> ParsedFile:
    return _file_error("too_many_rows", f"The file has more than {MAX_ROWS} sites: split it into parts.")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _blank_record(values: list[Any]) -> bool:
    return all(_blank(value) for value in values)


# --- rows --------------------------------------------------------------------------------------


def _parse_table(records: list[tuple[int, list[Any]]]) -> ParsedFile:
    filled = [(number, values) for number, values in records if not _blank_record(values)]
    if not filled:
        return _file_error("empty_file", "The file is empty.")
    (header_row, header), data = filled[0], filled[1:]
    columns, errors = _read_header(header_row, header)
    if not data:
        return ParsedFile(rows=[], errors=[*errors, RowError(FILE, "", "no_rows", "The file has no sites.")])
    present = {name for name in columns if name}
    unnamed_with_data: set[int] = set()
    rows: list[_Row] = []
    for number, values in data:
        cells: dict[str, Any] = {}
        for index, value in enumerate(values):
            name = columns[index] if index < len(columns) else None
            if name:
                cells[name] = value
            elif name is None and not _blank(value):
                unnamed_with_data.add(index)
        rows.append(_Row(number, cells, present))
    for index in sorted(unnamed_with_data):
        letter = get_column_letter(index + 1)
        errors.append(
            RowError(
                header_row,
                f"column {letter}",
                "unnamed_column",
                f"Column {letter} has values but no header: name it or delete it.",
            )
        )
    for row in rows:
        row.read()
    _find_duplicates(rows)
    for row in rows:
        errors.extend(row.errors)
    order = {name: index for index, name in enumerate(TEMPLATE_COLUMNS)}
    errors.sort(key=lambda e: (e.row, order.get(e.column, len(order)), e.column, e.code))
    # Without a required column no row can become a site, though the error is the header's alone
    # (found by fuzzing: create_site was handed a row with no reference).
    usable = all(name in present for name in REQUIRED_COLUMNS)
    return ParsedFile(
        rows=[SiteRow(row.number, row.facts) for row in rows if usable and not row.errors],
        errors=errors,
        data_rows=len(rows),
    )


def _read_header(row: int, header: list[Any]) -> tuple[list[str | None], list[RowError]]:
    """Column names by position: a name, "" for a column already reported, None for no header."""
    columns: list[str | None] = []
    errors: list[RowError] = []
    for value in header:
        original = _text(value) or ""
        name = original.lower()
        if not name:
            columns.append(None)
        elif name in columns:
            errors.append(RowError(row, name, "duplicate_column", f"Column {name} appears twice.", original))
            columns.append("")
        elif name not in COLUMNS_BY_NAME:
            guess = difflib.get_close_matches(name, TEMPLATE_COLUMNS, n=1)
            hint = f" Did you mean {guess[0]}?" if guess else " Use the columns of the template."
            errors.append(
                RowError(row, original, "unknown_column", f"Unknown column {original}.{hint}", original)
            )
            columns.append("")
        else:
            columns.append(name)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            errors.append(RowError(row, name, "missing_column", f"The file needs a {name} column."))
    return columns, errors


_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")  # no exponents, no underscores (Decimal takes both)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks stay allowed
_YES = frozenset({"yes", "true"})  # TRUE/FALSE: how spreadsheets export a boolean cell to CSV
_NO = frozenset({"no", "false"})


def _text(value: Any) -> str | None:
    """A cell as trimmed text, whatever its type in the file; None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # see _Row.read_decimal
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def normalise_serial(serial: str) -> str:
    """As services.records.normalise_serial: serials compare trimmed, single-spaced and upper-case."""
    return " ".join(serial.split()).upper()


class _Row:
    """One data row being read: its cells by column name, the facts read so far, and its errors."""

    def __init__(self, number: int, cells: dict[str, Any], present: set[str]):
        self.number = number
        self.cells = cells
        self.present = present
        self.facts: dict[str, Any] = {}
        self.errors: list[RowError] = []

    def error(self, column: str, code: str, message: str, value: str | None = None) -> None:
        shown = value if value is not None else _text(self.cells.get(column)) or ""
        self.errors.append(RowError(self.number, column, code, message, shown))

    def read(self) -> None:
        for column in SITE_COLUMNS:
            self.facts[column.name] = self.read_cell(column)
        if (self.facts["latitude"] is None) != (self.facts["longitude"] is None) and not any(
            error.column in ("latitude", "longitude") for error in self.errors
        ):
            missing = "latitude" if self.facts["latitude"] is None else "longitude"
            self.error(missing, "coordinates_incomplete", "Give both latitude and longitude, or neither.")
        self.facts["meters"] = [meter for n in range(1, MAX_METERS + 1) if (meter := self.read_meter(n))]

    def read_cell(self, column: Column) -> Any:
        raw = self.cells.get(column.name)
        if _blank(raw):
            # A missing required column is reported once, on the header, not on every row.
            if column.required and column.name in self.present:
                self.error(column.name, "required", f"Give the {column.name}.")
            return [] if column.kind == "list" else None
        if isinstance(raw, str) and _CONTROL.search(raw):
            # PostgreSQL text refuses NUL; no other control character belongs in a cell either
            # (found by fuzzing: a name with a NUL failed the insert instead of the row).
            self.error(column.name, "control_character", "Remove the control character from this cell.")
            return [] if column.kind == "list" else None
        return getattr(self, f"read_{column.kind}")(column, raw)

    def read_text(self, column: Column, raw: Any) -> str | None:
        text = _text(raw)
        if text is not None and column.max_length and len(text) > column.max_length:
            self.error(column.name, "too_long", f"At most {column.max_length} characters.")
        return text

    def read_decimal(self, column: Column, raw: Any) -> Decimal | None:
        if isinstance(raw, bool | date | time):
            self.error(column.name, "not_a_number", "Give a number.")
            return None
        if isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            # An XLSX numeric cell arrives as a binary float. Decimal(raw) would keep the float's
            # noise (10.98 -> 10.980000000000000426...). repr() is the shortest text that reads back
            # as the same float, which is what the user typed: Excel keeps at most 15 significant
            # digits and 15 always survive a float. A formula result with more digits then fails the
            # decimal-places check below, which asks the user to round it.
            value = Decimal(repr(raw))
        else:
            text = _text(raw) or ""
            if _DECIMAL_COMMA.fullmatch(text):
                fixed = text.replace(",", ".")
                self.error(column.name, "decimal_comma", f"Use a point as the decimal separator: {fixed}.")
                return None
            if not _DECIMAL.fullmatch(text):
                hint = " without thousands separators" if "," in text else ""
                self.error(
                    column.name, "not_a_number", f"Give a number{hint}, with a point for decimals: 10.5."
                )
                return None
            value = Decimal(text)
        if not value.is_finite():
            self.error(column.name, "not_a_number", "Give a number.")
            return None
        if not column.low <= value <= column.high:
            negative = column.low == 0 and value < 0
            message = (
                "Cannot be negative." if negative else f"Must be between {column.low} and {column.high}."
            )
            self.error(column.name, "out_of_range", message)
            return None
        if value.normalize().as_tuple().exponent < -column.places:
            self.error(column.name, "too_many_decimals", f"At most {column.places} decimals.")
            return None
        return value

    def read_date(self, column: Column, raw: Any) -> date | None:
        if isinstance(raw, datetime):
            return raw.date()  # spreadsheets hold dates as datetimes at midnight
        if isinstance(raw, date):
            return raw
        text = _text(raw) or ""
        if isinstance(raw, str) and _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                self.error(column.name, "not_a_date", f"{text} is not a day of the calendar.")
                return None
        self.error(column.name, "not_a_date", "Write dates as YYYY-MM-DD, e.g. 2025-03-01.")
        return None

    def read_list(self, column: Column, raw: Any) -> list[str]:
        items = [item.strip() for item in (_text(raw) or "").split(SEPARATOR) if item.strip()]
        if any("," in item for item in items):
            # A comma-separated list would become one long serial and slip past the guard.
            self.error(column.name, "list_separator", f"Separate the items with {SEPARATOR}, not a comma.")
        elif column.max_length and any(len(item) > column.max_length for item in items):
            self.error(column.name, "too_long", f"At most {column.max_length} characters per item.")
        return items

    def read_yes_no(self, column: Column, raw: Any) -> bool | None:
        if isinstance(raw, bool):
            return raw
        text = (_text(raw) or "").lower()
        if text in _YES or text in _NO:
            return text in _YES
        self.error(column.name, "not_yes_no", "Answer yes or no, or leave it empty.")
        return None

    def read_role(self, column: Column, raw: Any) -> str | None:
        text = (_text(raw) or "").lower()
        if text not in METER_ROLES:
            self.error(column.name, "invalid_choice", f"Use one of: {', '.join(METER_ROLES)}.")
            return None
        return text

    def read_meter(self, n: int) -> dict[str, Any] | None:
        names = [f"meter_{n}_{field}" for field in METER_FIELDS]
        if all(_blank(self.cells.get(name)) for name in names):
            return None
        meter = {
            field: self.read_cell(COLUMNS_BY_NAME[name])
            for field, name in zip(METER_FIELDS, names, strict=True)
        }
        if meter["serial"] is None:
            self.error(names[0], "meter_serial_missing", f"Meter {n} has details but no serial.")
        valid_from, valid_until = meter["calibrated_on"], meter["calibration_valid_until"]
        if valid_from and valid_until and valid_until < valid_from:
            self.error(names[4], "calibration_order", "The calibration expires before the calibration date.")
        return meter


def _find_duplicates(rows: list[_Row]) -> None:
    """References repeated in the file (each repeat is reported), and shared serials (every row is)."""
    first: dict[str, int] = {}
    for row in rows:
        reference = row.facts["reference"]
        if not reference:
            continue
        key = reference.lower()  # create_site compares references case-insensitively
        if key in first:
            row.error(
                "reference", "duplicate_reference_in_file", f"{reference} is already on row {first[key]}."
            )
        else:
            first[key] = row.number

    for kind, serials_of in (("meter", _meter_serials), ("equipment", _equipment_serials)):
        places: dict[str, list[tuple[_Row, str, str]]] = defaultdict(list)
        for row in rows:
            for column, serial in serials_of(row):
                places[normalise_serial(serial)].append((row, column, serial))
        for serial, found in places.items():
            for row, column, written in found:
                others = [
                    f"in {other_column} of this row" if other is row else f"on row {other.number}"
                    for other, other_column, _ in found
                    if (other, other_column) != (row, column)
                ]
                if others:
                    where = ", ".join(dict.fromkeys(others))
                    message = f"{kind.capitalize()} serial {serial} is also {where}."
                    row.error(column, f"duplicate_{kind}_serial_in_file", message, written)


def _meter_serials(row: _Row) -> Iterator[tuple[str, str]]:
    for n in range(1, MAX_METERS + 1):
        serial = _text(row.cells.get(f"meter_{n}_serial"))
        if serial:
            yield f"meter_{n}_serial", serial


def _equipment_serials(row: _Row) -> Iterator[tuple[str, str]]:
    # A repeat inside one row is harmless: create_site keeps each serial once.
    unique = {normalise_serial(serial): serial for serial in row.facts["equipment_serials"]}
    for serial in unique.values():
        yield "equipment_serials", serial


# --- error reports ------------------------------------------------------------------------------

REPORT_COLUMNS = ("row", "column", "code", "message", "value")


def escape_formula(text: str) -> str:
    """A leading ' so a spreadsheet shows the text instead of running it (ASVS 5.0 V1.2.10)."""
    return tabular.neutralise(text)


def error_report_csv(row_errors: Iterable[RowError]) -> str:
    """The errors as CSV (RFC 4180 quoting); text cells escaped against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for error in row_errors:
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
