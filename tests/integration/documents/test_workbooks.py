"""The exports that existed before the shared rule still neutralise data and keep their own formulas."""

import io
from decimal import Decimal

import openpyxl

from poa_manager.monitoring import exports
from poa_manager.sites import importer
from tests.integration.documents.conftest import PAYLOADS
from tests.verification_support import submitted_request


def test_monitoring_workbook_keeps_live_er_formulas_and_neutralises_data(
    world, registered, db, formula_report
):
    request = submitted_request(registered, world.coordinator, [Decimal("10.5"), Decimal("20.25")])
    report = request.report
    report.lines[0].site_reference = "=HYPERLINK(1)"
    report.lines[0].problem = "-2+3"
    sheet = openpyxl.load_workbook(io.BytesIO(exports.report_workbook(report)))["Lines"]
    header = [cell.value for cell in sheet[1]]
    site, problem, check = (header.index(h) for h in ("Site", "Problem", "ER check (BE − PE − LE)"))
    rows = list(sheet.iter_rows(min_row=2))
    by_site = {row[site].value: row for row in rows}
    risky = by_site["'=HYPERLINK(1)"]
    assert (risky[site].data_type, risky[problem].value, risky[problem].data_type) == ("s", "'-2+3", "s")
    formula_report["exported"] += 2
    formula_report["formulas"] += (risky[site].data_type == "f") + (risky[problem].data_type == "f")
    # The workbook's own arithmetic stays live: one ER formula per line, written on purpose.
    assert [row[check].data_type for row in rows] == ["f"] * len(rows)
    assert rows[0][check].value.startswith("=")
    assert formula_report["formulas"] == 0


def test_site_import_error_report_uses_the_shared_rule():
    errors = [importer.RowError(2, "name", "bad", payload, payload) for payload in PAYLOADS]
    text = importer.error_report_csv(errors)
    for payload in PAYLOADS:
        assert f"'{payload}" in text
