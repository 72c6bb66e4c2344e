"""Fixtures for the printable documents, list exports and pagination tests."""

import csv
import io

import openpyxl
import pytest

from tests.integration.sites.conftest import make_site, registered  # noqa: F401  (fixtures)

# Spreadsheet formula-injection payloads (OWASP "CSV Injection"; ASVS 5.0 V1.2.10).
PAYLOADS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def read_xlsx(response) -> tuple[list[str], list[list]]:
    """The header and the cells (openpyxl Cell objects) of the export's one sheet."""
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = list(sheet.iter_rows())
    return [cell.value for cell in rows[0]], [list(row) for row in rows[1:]]


@pytest.fixture
def formula_report():
    """Counts trigger payloads exported and those that a spreadsheet would evaluate; prints the tally."""
    tally = {"exported": 0, "formulas": 0}
    yield tally
    print(f"\n{tally['exported']} trigger payloads exported: {tally['formulas']} evaluate as formulas")
