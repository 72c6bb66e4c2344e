"""The one formula-injection rule and the CSV/XLSX writers of poa_manager/tabular.py."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from poa_manager import tabular
from poa_manager.accounts.roles import Role

PAYLOADS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "\0=1+1", '=HYPERLINK("x")']


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_trigger_gets_a_leading_quote(payload):
    assert tabular.neutralise(payload) == "'" + payload


@pytest.mark.parametrize("value", [-2, Decimal("-12.5"), 0, 3.5, True, None, date(2025, 1, 2)])
def test_numbers_dates_and_empties_are_untouched(value):
    assert tabular.neutralise(value) is value


def test_plain_text_and_enums():
    assert tabular.neutralise("Solar 1") == "Solar 1"
    assert tabular.neutralise("it's = fine inside") == "it's = fine inside"
    assert tabular.neutralise(Role.coordinator) == Role.coordinator.value


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_quotes_per_rfc_4180_and_neutralises():
    rows = [["=1+1", -2, Decimal("1.50"), 'say "hi"\r\nline', None, date(2025, 3, 4)]]
    text = tabular.csv_text(["name", "n", "d", "comment", "empty", "on"], rows)
    assert text.endswith("\r\n")
    assert _read_csv(text) == [
        ["name", "n", "d", "comment", "empty", "on"],
        ["'=1+1", "-2", "1.50", 'say "hi"\r\nline', "", "2025-03-04"],
    ]
    assert '"say ""hi""\r\nline"' in text


def test_csv_lines_is_a_generator_of_one_line_per_row():
    lines = tabular.csv_lines(["a"], ([i] for i in range(3)))
    assert next(lines) == "a\r\n"
    assert list(lines) == ["0\r\n", "1\r\n", "2\r\n"]


def test_xlsx_reads_back_as_inert_text_and_real_numbers(tmp_path):
    rows = [[payload, -2, Decimal("-0.5")] for payload in PAYLOADS]
    rows.append(["aware", datetime(2025, 1, 2, 3, 4, tzinfo=UTC), date(2025, 1, 2)])
    data = tabular.xlsx_bytes(["Text", "Int", "Decimal"], rows, title="Sites: [all]")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet.title == "Sites   all"
    cells = list(sheet.iter_rows(min_row=2, values_only=False))
    formulas = [cell for row in cells for cell in row if cell.data_type == "f"]
    assert formulas == []
    texts = [row[0].value for row in cells[: len(PAYLOADS)]]
    # XML turns a carriage return into a line feed; NUL cannot be stored, so it becomes U+FFFD.
    expected = ["'" + p.replace("\r", "\n").replace("\0", "\ufffd") for p in PAYLOADS]
    assert texts == expected
    assert all(row[0].data_type == "s" for row in cells[: len(PAYLOADS)])
    assert [(row[1].value, row[1].data_type) for row in cells[:2]] == [(-2, "n"), (-2, "n")]
    assert cells[0][2].value == -0.5 and cells[0][2].data_type == "n"
    assert cells[-1][1].value == datetime(2025, 1, 2, 3, 4)
    print(f"{len(PAYLOADS)} trigger payloads exported: {len(formulas)} evaluate as formulas")


def test_an_unneutralised_string_would_be_a_formula_in_openpyxl():
    # Why the explicit string type: openpyxl itself treats "=..." as a formula.
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "=1+1"
    assert workbook.active["A1"].data_type == "f"
