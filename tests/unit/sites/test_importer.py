"""The bulk-upload parser: every check, both file formats, the templates and the error report."""

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from poa_manager.sites import importer
from poa_manager.sites.importer import FILE, RowError

VALID = {
    "reference": "CPA-0001",
    "name": "Factory rooftop 1",
    "operator": "Solar Operations Ltd",
    "latitude": "10.9",
    "longitude": "106.8",
    "area_code": "VN-57",
    "technology": "solar_pv",
    "capacity_kw": "850",
    "commissioned_on": "2025-03-01",
    "equipment_serials": "INV-00001",
    "documents": "cpa_dd",
    "financial_support_declared": "no",
    "funding_sources": "",
    "meter_1_serial": "MTR-00001",
    "meter_1_role": "generation",
    "meter_1_accuracy_class": "0.5S",
    "meter_1_calibrated_on": "2025-02-01",
    "meter_1_calibration_valid_until": "2030-02-01",
}


def row(n: int = 1, **overrides: str) -> dict[str, str]:
    """A valid row with unique reference and serials for each n, then the overrides."""
    return (
        VALID
        | {
            "reference": f"CPA-{n:04d}",
            "name": f"Factory rooftop {n}",
            "equipment_serials": f"INV-{n:05d}",
            "meter_1_serial": f"MTR-{n:05d}",
        }
        | overrides
    )


def csv_file(rows: list[dict[str, str]], *, columns=None, delimiter: str = ",", bom: bool = False) -> bytes:
    columns = columns or list(dict.fromkeys(name for r in rows for name in r)) or list(VALID)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(columns)
    for values in rows:
        writer.writerow([values.get(name, "") for name in columns])
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def found(parsed: importer.ParsedFile) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.code) for error in parsed.errors]


def facts(n: int = 1, **overrides) -> dict:
    """The facts VALID parses into, for row(n)."""
    return {
        "reference": f"CPA-{n:04d}",
        "name": f"Factory rooftop {n}",
        "operator": "Solar Operations Ltd",
        "latitude": Decimal("10.9"),
        "longitude": Decimal("106.8"),
        "area_code": "VN-57",
        "technology": "solar_pv",
        "capacity_kw": Decimal("850"),
        "commissioned_on": date(2025, 3, 1),
        "equipment_serials": [f"INV-{n:05d}"],
        "documents": ["cpa_dd"],
        "financial_support_declared": False,
        "funding_sources": None,
        "meters": [
            {
                "serial": f"MTR-{n:05d}",
                "role": "generation",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2025, 2, 1),
                "calibration_valid_until": date(2030, 2, 1),
            }
        ],
    } | overrides


# --- one cell at a time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "column", "code"),
    [
        ({"reference": ""}, "reference", "required"),
        ({"name": "  "}, "name", "required"),
        ({"name": "x" * 201}, "name", "too_long"),
        ({"reference": "C" * 41}, "reference", "too_long"),
        ({"area_code": "VN-SOMEWHERE"}, "area_code", "too_long"),
        ({"latitude": "90.000001"}, "latitude", "out_of_range"),
        ({"latitude": "-95"}, "latitude", "out_of_range"),
        ({"longitude": "180.5"}, "longitude", "out_of_range"),
        ({"longitude": "-181"}, "longitude", "out_of_range"),
        ({"latitude": "10.1234567"}, "latitude", "too_many_decimals"),
        ({"latitude": "10,5"}, "latitude", "decimal_comma"),
        ({"latitude": "north"}, "latitude", "not_a_number"),
        ({"longitude": ""}, "longitude", "coordinates_incomplete"),
        ({"latitude": ""}, "latitude", "coordinates_incomplete"),
        ({"capacity_kw": "-0.5"}, "capacity_kw", "out_of_range"),
        ({"capacity_kw": "1,5"}, "capacity_kw", "decimal_comma"),
        ({"capacity_kw": "1,234.5"}, "capacity_kw", "not_a_number"),
        ({"capacity_kw": "1e3"}, "capacity_kw", "not_a_number"),
        ({"capacity_kw": "1_000"}, "capacity_kw", "not_a_number"),
        ({"capacity_kw": "NaN"}, "capacity_kw", "not_a_number"),
        ({"capacity_kw": "0.0005"}, "capacity_kw", "too_many_decimals"),
        ({"capacity_kw": "1000000000"}, "capacity_kw", "out_of_range"),
        ({"commissioned_on": "01/03/2025"}, "commissioned_on", "not_a_date"),
        ({"commissioned_on": "2025-02-30"}, "commissioned_on", "not_a_date"),
        ({"commissioned_on": "20250301"}, "commissioned_on", "not_a_date"),
        ({"commissioned_on": "2025-03-01T00:00"}, "commissioned_on", "not_a_date"),
        ({"financial_support_declared": "maybe"}, "financial_support_declared", "not_yes_no"),
        ({"equipment_serials": "INV-1, INV-2"}, "equipment_serials", "list_separator"),
        ({"equipment_serials": "INV-1;" + "X" * 61}, "equipment_serials", "too_long"),
        ({"documents": "cpa_dd,eia"}, "documents", "list_separator"),
        ({"meter_1_role": "exported"}, "meter_1_role", "invalid_choice"),
        ({"meter_1_serial": ""}, "meter_1_serial", "meter_serial_missing"),
        ({"meter_1_serial": "M" * 61}, "meter_1_serial", "too_long"),
        ({"meter_1_accuracy_class": "0.5S-extended"}, "meter_1_accuracy_class", "too_long"),
        ({"meter_1_calibrated_on": "2025-13-01"}, "meter_1_calibrated_on", "not_a_date"),
        (
            {"meter_1_calibration_valid_until": "2024-01-01"},
            "meter_1_calibration_valid_until",
            "calibration_order",
        ),
        ({"meter_2_accuracy_class": "0.2S"}, "meter_2_serial", "meter_serial_missing"),
        ({"meter_3_role": "import"}, "meter_3_serial", "meter_serial_missing"),
    ],
)
def test_a_bad_cell_is_reported_on_its_row_and_column(overrides, column, code):
    columns = list(VALID) + ["meter_2_serial", "meter_2_accuracy_class", "meter_3_serial", "meter_3_role"]
    parsed = importer.parse_csv(csv_file([row(1), row(2, **overrides), row(3)], columns=columns))
    assert found(parsed) == [(3, column, code)]
    assert parsed.errors[0].message
    assert [r.row for r in parsed.rows] == [2, 4]  # the bad row is left out, the others are kept
    assert parsed.data_rows == 3


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"latitude": "-0.5", "longitude": "+106"},
            {"latitude": Decimal("-0.5"), "longitude": Decimal("106")},
        ),
        ({"latitude": ".5"}, {"latitude": Decimal("0.5")}),
        ({"latitude": "", "longitude": ""}, {"latitude": None, "longitude": None}),
        ({"latitude": "10.123456", "capacity_kw": "0"}, {"latitude": Decimal("10.123456"), "capacity_kw": 0}),
        ({"latitude": "10.1234560"}, {"latitude": Decimal("10.1234560")}),  # trailing zero: still 6 decimals
        ({"capacity_kw": "999999999.999"}, {"capacity_kw": Decimal("999999999.999")}),
        ({"financial_support_declared": "YES"}, {"financial_support_declared": True}),
        ({"financial_support_declared": "False"}, {"financial_support_declared": False}),
        ({"financial_support_declared": ""}, {"financial_support_declared": None}),
        ({"operator": ""}, {"operator": None}),
        ({"commissioned_on": ""}, {"commissioned_on": None}),
        ({"equipment_serials": " INV-1 ; inv-1;INV-2 ;"}, {"equipment_serials": ["INV-1", "inv-1", "INV-2"]}),
        ({"documents": "CPA_DD; eia"}, {"documents": ["CPA_DD", "eia"]}),
        ({"name": "  Nhà máy An Phú  "}, {"name": "Nhà máy An Phú"}),
        ({"name": "=HYPERLINK(1)"}, {"name": "=HYPERLINK(1)"}),  # stored as typed; exports escape it
    ],
)
def test_a_good_cell_is_read_into_the_facts_create_site_takes(overrides, expected):
    parsed = importer.parse_csv(csv_file([row(1, **overrides)]))
    assert parsed.errors == []
    assert parsed.rows[0].facts == facts(1) | expected


def test_meters_are_read_with_an_empty_role_left_to_create_site():
    columns = list(VALID) + [f"meter_2_{field}" for field in importer.METER_FIELDS]
    values = row(1, meter_1_role="Export", meter_2_serial="MTR-X", meter_2_accuracy_class="1")
    [site] = importer.parse_csv(csv_file([values], columns=columns)).rows
    assert site.facts["meters"] == [
        facts(1)["meters"][0] | {"role": "export"},
        {
            "serial": "MTR-X",
            "role": None,
            "accuracy_class": "1",
            "calibrated_on": None,
            "calibration_valid_until": None,
        },
    ]


def test_a_row_with_only_the_required_columns_has_every_fact_create_site_knows():
    [site] = importer.parse_csv(b"reference,name\nCPA-1,Rooftop\n").rows
    assert site.reference == "CPA-1"
    assert site.facts == {
        "reference": "CPA-1",
        "name": "Rooftop",
        "operator": None,
        "latitude": None,
        "longitude": None,
        "area_code": None,
        "technology": None,
        "capacity_kw": None,
        "commissioned_on": None,
        "equipment_serials": [],
        "documents": [],
        "financial_support_declared": None,
        "funding_sources": None,
        "meters": [],
    }


def test_every_error_of_a_row_and_of_the_file_is_reported_not_only_the_first():
    bad = row(2, latitude="95", capacity_kw="-1", commissioned_on="yesterday", meter_1_role="both")
    parsed = importer.parse_csv(csv_file([row(1), bad, row(3, name="", longitude="1,5")]))
    assert found(parsed) == [
        (3, "latitude", "out_of_range"),
        (3, "capacity_kw", "out_of_range"),
        (3, "commissioned_on", "not_a_date"),
        (3, "meter_1_role", "invalid_choice"),
        (4, "name", "required"),
        (4, "longitude", "decimal_comma"),
    ]
    assert parsed.errors[1] == RowError(3, "capacity_kw", "out_of_range", "Cannot be negative.", "-1")
    assert "1.5" in parsed.errors[-1].message


# --- across rows ----------------------------------------------------------------------------------


def test_a_repeated_reference_is_reported_on_the_repeat_whatever_its_case():
    parsed = importer.parse_csv(
        csv_file([row(1), row(2, reference="cpa-0001"), row(3, reference="CPA-0001")])
    )
    assert found(parsed) == [
        (3, "reference", "duplicate_reference_in_file"),
        (4, "reference", "duplicate_reference_in_file"),
    ]
    assert parsed.errors[0].message == "cpa-0001 is already on row 2."
    assert [r.row for r in parsed.rows] == [2]


def test_a_shared_meter_serial_is_reported_on_every_row_that_has_it():
    parsed = importer.parse_csv(csv_file([row(1), row(2), row(3, meter_1_serial=" mtr-00001 ")]))
    assert found(parsed) == [
        (2, "meter_1_serial", "duplicate_meter_serial_in_file"),
        (4, "meter_1_serial", "duplicate_meter_serial_in_file"),
    ]
    assert parsed.errors[0].message == "Meter serial MTR-00001 is also on row 4."
    assert parsed.errors[1].value == "mtr-00001"


def test_the_same_meter_twice_in_one_row_is_reported_on_both_columns():
    columns = list(VALID) + ["meter_2_serial"]
    parsed = importer.parse_csv(csv_file([row(1, meter_2_serial="MTR-00001")], columns=columns))
    assert found(parsed) == [
        (2, "meter_1_serial", "duplicate_meter_serial_in_file"),
        (2, "meter_2_serial", "duplicate_meter_serial_in_file"),
    ]
    assert parsed.errors[0].message == "Meter serial MTR-00001 is also in meter_2_serial of this row."


def test_a_shared_equipment_serial_is_reported_on_every_row_that_has_it():
    parsed = importer.parse_csv(
        csv_file([row(1, equipment_serials="INV-A;INV-B"), row(2, equipment_serials="inv-b"), row(3)])
    )
    assert found(parsed) == [
        (2, "equipment_serials", "duplicate_equipment_serial_in_file"),
        (3, "equipment_serials", "duplicate_equipment_serial_in_file"),
    ]
    assert parsed.errors[0].value == "INV-B"


def test_a_row_with_another_error_is_still_checked_for_shared_serials():
    parsed = importer.parse_csv(csv_file([row(1), row(2, meter_1_serial="MTR-00001", latitude="99")]))
    assert (2, "meter_1_serial", "duplicate_meter_serial_in_file") in found(parsed)
    assert (3, "latitude", "out_of_range") in found(parsed)


# --- the file -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b" \r\n\r\n", "empty_file"),
        ("\ufeff".encode(), "empty_file"),
        (b",,,\n,,\n", "empty_file"),
        (b"reference,name\r\n", "no_rows"),
        (b"reference,name\n,\n\n", "no_rows"),
        ("reference,name\nCPA-1,Usine Château\n".encode("latin-1"), "not_utf8"),
        ("reference,name\nCPA-1,x\n".encode("utf-16"), "not_utf8"),
        (b'reference,name\nCPA-1,"Roof"top\n', "not_csv"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_error_about_the_file(data, code):
    parsed = importer.parse_csv(data)
    assert found(parsed) == [(FILE, "", code)]
    assert parsed.rows == []


def test_a_file_not_in_utf8_names_the_line_and_the_fix():
    data = b"reference,name\nCPA-1,ok\n" + "CPA-2,Usine Château\n".encode("cp1252")
    [error] = importer.parse_csv(data).errors
    assert "line 3" in error.message and "CSV UTF-8" in error.message


def test_a_byte_order_mark_is_not_part_of_the_first_column_name():
    parsed = importer.parse_csv(csv_file([row(1)], bom=True))
    assert parsed.errors == [] and parsed.rows[0].facts == facts(1)


def test_a_semicolon_file_from_a_european_spreadsheet_is_read():
    parsed = importer.parse_csv(csv_file([row(1, name="Roof; east")], delimiter=";", bom=True))
    assert parsed.errors == []
    assert parsed.rows[0].facts == facts(1, name="Roof; east")


def test_a_semicolon_file_with_decimal_commas_asks_for_points():
    parsed = importer.parse_csv(csv_file([row(1, latitude="10,9", longitude="106,8")], delimiter=";"))
    assert found(parsed) == [(2, "latitude", "decimal_comma"), (2, "longitude", "decimal_comma")]
    assert parsed.errors[0].message == "Use a point as the decimal separator: 10.9."


def test_column_names_are_matched_trimmed_and_in_any_case():
    parsed = importer.parse_csv(b" Reference ,NAME,Latitude ,LONGITUDE\nCPA-1,Roof,10.9,106.8\n")
    assert parsed.errors == []
    assert parsed.rows[0].facts["latitude"] == Decimal("10.9")


def test_an_unknown_column_is_an_error_with_a_suggestion_and_the_rows_are_still_checked():
    parsed = importer.parse_csv(b"reference,name,latitud,colour\nCPA-1,,10.9,red\n")
    assert found(parsed) == [
        (1, "colour", "unknown_column"),
        (1, "latitud", "unknown_column"),
        (2, "name", "required"),
    ]
    assert "Did you mean latitude?" in parsed.errors[1].message


def test_a_missing_required_column_is_reported_once_on_the_header():
    parsed = importer.parse_csv(b"reference,latitude,longitude\nCPA-1,10,106\nCPA-2,10,107\n")
    assert found(parsed) == [(1, "name", "missing_column")]


def test_a_repeated_column_is_an_error():
    parsed = importer.parse_csv(b"reference,name,Name\nCPA-1,a,b\n")
    assert found(parsed) == [(1, "name", "duplicate_column")]


def test_values_under_no_header_are_an_error_but_empty_trailing_columns_are_not():
    assert importer.parse_csv(b"reference,name,,\nCPA-1,a,,\n").errors == []
    parsed = importer.parse_csv(b"reference,name\nCPA-1,a,stray\nCPA-2,b\n")
    assert found(parsed) == [(1, "column C", "unnamed_column")]


def test_row_numbers_are_those_the_user_sees_with_blank_and_multi_line_rows():
    data = b'\nreference,name\n\nCPA-1,"Roof\nnorth"\n,\nCPA-2,\n'
    parsed = importer.parse_csv(data)
    assert found(parsed) == [(6, "name", "required")]  # header on row 2; row 3 is blank
    assert parsed.rows[0].row == 4 and parsed.rows[0].facts["name"] == "Roof\nnorth"


def test_a_file_of_the_maximum_size_is_read_and_one_row_more_is_refused():
    rows = [f"CPA-{n},Roof {n}" for n in range(importer.MAX_ROWS)]
    data = ("reference,name\n" + "\n".join(rows) + "\n").encode()
    assert len(importer.parse_csv(data).rows) == importer.MAX_ROWS
    assert found(importer.parse_csv(data + b"CPA-X,Roof X\n")) == [(FILE, "", "too_many_rows")]


# --- templates ------------------------------------------------------------------------------------

TEMPLATE_FACTS = {
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
    "meters": [
        {
            "serial": "MTR-0001",
            "role": "generation",
            "accuracy_class": "0.5S",
            "calibrated_on": date(2025, 2, 1),
            "calibration_valid_until": date(2030, 2, 1),
        }
    ],
}


def test_the_template_columns_are_the_site_facts_and_three_meters():
    assert importer.TEMPLATE_COLUMNS[:3] == ("reference", "name", "operator")
    assert len(importer.TEMPLATE_COLUMNS) == 13 + 3 * 5
    assert importer.TEMPLATE_COLUMNS[-1] == "meter_3_calibration_valid_until"


def test_the_csv_template_parses_back_to_exactly_its_example_row():
    text = importer.template_csv()
    assert text.splitlines()[0] == ",".join(importer.TEMPLATE_COLUMNS)
    parsed = importer.parse_csv(text.encode())
    assert parsed.errors == []
    assert [(site.row, site.facts) for site in parsed.rows] == [(2, TEMPLATE_FACTS)]


def test_the_xlsx_template_parses_back_to_exactly_its_example_row_and_explains_each_column():
    data = importer.template_xlsx()
    parsed = importer.parse_xlsx(data)
    assert parsed.errors == []
    assert [(site.row, site.facts) for site in parsed.rows] == [(2, TEMPLATE_FACTS)]

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Sites", "Help"]
    sheet = workbook["Sites"]
    assert [cell.value for cell in sheet[1]] == list(importer.TEMPLATE_COLUMNS)
    assert isinstance(sheet["D2"].value, int | float) and sheet["I2"].is_date  # typed cells, as users type
    assert all(sheet.column_dimensions[letter].width >= 12 for letter in ("A", "B", "J"))
    help_rows = {r[0]: r for r in workbook["Help"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert set(importer.TEMPLATE_COLUMNS) <= set(help_rows)
    assert "kW" in help_rows["capacity_kw"][2] and "decimal degrees" in help_rows["latitude"][2]
    assert help_rows["reference"][1] == "yes" and help_rows["operator"][1] == "no"


# --- XLSX -----------------------------------------------------------------------------------------


def xlsx_file(rows: list[list], *, sheet_title: str | None = None, extra_sheet_first: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if extra_sheet_first:
        sheet.title = "Notes"
        sheet.append(["not the data"])
        sheet = workbook.create_sheet("Sites")
    elif sheet_title:
        sheet.title = sheet_title
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


HEADER = ["reference", "name", "latitude", "longitude", "capacity_kw", "commissioned_on"]
HEADER += ["financial_support_declared", "equipment_serials", "meter_1_serial", "meter_1_accuracy_class"]


def test_xlsx_typed_cells_round_trip_to_exact_decimals_dates_and_text():
    data = xlsx_file(
        [
            HEADER,
            ["CPA-1", "Roof", 10.98, 106.8, 850, datetime(2025, 3, 1), False, "INV-1;INV-2", 12345, 1],
            ["CPA-2", "Roof 2", "10.97", "106.81", "850.25", "2025-03-02", "yes", None, "M-2", "0.5S"],
            ["CPA-3", "Roof 3", 1 / 3, 106.8, 2 / 3, 45717, "sometimes", None, None, None],
        ],
        sheet_title="My sites",
    )
    parsed = importer.parse_xlsx(data)
    first, second = (site.facts for site in parsed.rows)
    assert first["latitude"] == Decimal("10.98") and str(first["latitude"]) == "10.98"  # no float noise
    assert (first["capacity_kw"], first["commissioned_on"]) == (Decimal(850), date(2025, 3, 1))
    assert first["financial_support_declared"] is False
    assert first["meters"][0]["serial"] == "12345" and first["meters"][0]["accuracy_class"] == "1"
    assert (second["capacity_kw"], second["commissioned_on"]) == (Decimal("850.25"), date(2025, 3, 2))
    assert second["financial_support_declared"] is True
    # A formula-like result with float noise asks to be rounded; a bare number is not a date.
    assert found(parsed) == [
        (4, "latitude", "too_many_decimals"),
        (4, "capacity_kw", "too_many_decimals"),
        (4, "commissioned_on", "not_a_date"),
        (4, "financial_support_declared", "not_yes_no"),
    ]
    assert parsed.errors[0].value == "0.3333333333333333"


def test_xlsx_prefers_the_sheet_named_sites():
    data = xlsx_file([["reference", "name"], ["CPA-1", "Roof"]], extra_sheet_first=True)
    assert [site.reference for site in importer.parse_xlsx(data).rows] == ["CPA-1"]


def test_xlsx_reports_errors_as_csv_does():
    data = xlsx_file([["Reference", "Name", "colour"], ["CPA-1", None, "red"], [], ["cpa-1", "Roof", None]])
    assert found(importer.parse_xlsx(data)) == [
        (1, "colour", "unknown_column"),
        (2, "name", "required"),
        (4, "reference", "duplicate_reference_in_file"),
    ]


def test_an_xlsx_formula_is_read_as_its_value_never_as_the_formula():
    # openpyxl stores no computed values, so a formula it wrote reads back as empty.
    data = xlsx_file([["reference", "name"], ["CPA-1", '=CONCAT("a","b")']])
    assert found(importer.parse_xlsx(data)) == [(2, "name", "required")]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"reference,name\nCPA-1,Roof\n", "not_xlsx"),  # a CSV renamed .xlsx
        (b"PK\x03\x04" + b"\x00" * 100, "not_xlsx"),  # looks like a ZIP, is not one
        (xlsx_file([["reference"]])[:300], "not_xlsx"),  # truncated
        (xlsx_file([]), "empty_file"),
        (xlsx_file([["reference", "name"]]), "no_rows"),
    ],
)
def test_an_xlsx_that_cannot_be_read_is_one_error_about_the_file(data, code):
    assert found(importer.parse_xlsx(data))[-1:] == [(FILE, "", code)]


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_a_zip_that_is_not_a_workbook_is_refused():
    assert found(importer.parse_xlsx(_zip({"hello.txt": b"hi"}))) == [(FILE, "", "not_xlsx")]


def test_an_archive_with_too_many_entries_is_refused_before_it_is_opened():
    data = _zip({f"xl/media/image{n}.png": b"" for n in range(importer.MAX_ZIP_ENTRIES + 1)})
    assert found(importer.parse_xlsx(data)) == [(FILE, "", "too_many_entries")]


def test_an_archive_that_would_expand_too_far_is_refused_before_it_is_opened():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            chunk = b"\0" * 2**20
            for _ in range(importer.MAX_UNCOMPRESSED_BYTES // 2**20 + 1):
                entry.write(chunk)
    data = out.getvalue()
    assert len(data) < 200_000  # a small upload...
    assert found(importer.parse_xlsx(data)) == [(FILE, "", "archive_too_large")]  # ...that is a bomb


def test_an_xml_entity_in_a_workbook_is_refused():
    source = zipfile.ZipFile(io.BytesIO(xlsx_file([["reference", "name"], ["CPA-1", "Roof"]])))
    entries = {info.filename: source.read(info) for info in source.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"].decode()
    assert "Roof" in sheet  # an inline string, where an entity would be expanded
    entries["xl/worksheets/sheet1.xml"] = (
        '<!DOCTYPE x [<!ENTITY boom "Roof">]>' + sheet.replace("Roof", "&boom;")
    ).encode()
    assert found(importer.parse_xlsx(_zip(entries))) == [(FILE, "", "not_xlsx")]


# --- the error report -----------------------------------------------------------------------------


def test_row_errors_are_json_safe():
    error = RowError(3, "latitude", "out_of_range", "Must be between -90 and 90.", "95")
    assert json.loads(json.dumps(error.as_dict())) == {
        "row": 3,
        "column": "latitude",
        "code": "out_of_range",
        "message": "Must be between -90 and 90.",
        "value": "95",
    }


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+2", "'+1+2"),
        ("-5", "'-5"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\0=1", "'\0=1"),
        ("10,5", "10,5"),
        ('Roof "east"', 'Roof "east"'),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_the_error_report_escapes_formula_triggers_in_text_cells(value, written):
    report = importer.error_report_csv([RowError(7, "name", "too_long", "At most 200 characters.", value)])
    [header, line] = list(csv.reader(io.StringIO(report, newline="")))
    assert header == ["row", "column", "code", "message", "value"]
    assert line == ["7", "name", "too_long", "At most 200 characters.", written]


def test_the_error_report_escapes_every_text_column_and_quotes_per_rfc_4180():
    report = importer.error_report_csv([RowError(0, "=A1", "-x", "@y", "a,b\nc")])
    assert report == "row,column,code,message,value\r\n0,'=A1,'-x,'@y,\"a,b\nc\"\r\n"


@pytest.mark.parametrize("parse", [importer.parse_csv, importer.parse_xlsx])
def test_a_file_over_the_size_limit_is_refused_unread(parse, monkeypatch):
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 100)
    data = csv_file([row(1)]) if parse is importer.parse_csv else xlsx_file([["reference", "name"]])
    assert found(parse(data)) == [(FILE, "", "file_too_large")]
