"""The monitoring journey in a real browser: an operator uploads a month of 15-minute readings with
three bad rows, sees exactly those rows, fixes them and uploads again; the coordinator closes the
period, checks the report against its XLSX workbook and requests issuance."""

import io
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_browser_journey import screenshot
from tests.e2e.test_programme_journey import _log_in

pytestmark = pytest.mark.e2e

SITE, METER = "CPA-0001", "MTR-VN57-0001"  # the demo's crediting site and its export meter
OCTOBER = datetime(2025, 10, 1)  # naive: read in the site's time zone (Asia/Ho_Chi_Minh)
ROWS = 31 * 96


def october_csv(path: Path, *, faults: bool) -> Path:
    lines = ["site_ref,meter_serial,reading_start,reading_end,value"]
    for i in range(ROWS):
        start = OCTOBER + timedelta(minutes=15 * i)
        serial, value = METER, "50.125"
        if faults and i == 9:
            value = "-3"  # negative
        if faults and i == 500:
            value = "400"  # 400 kWh in 15 minutes on a 1,200 kW site
        if faults and i == 2000:
            serial = "MTR-NOT-OURS"  # unknown meter
        lines.append(
            f"{SITE},{serial},{start.isoformat()},{(start + timedelta(minutes=15)).isoformat()},{value}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def open_programme(page: Page, link: str | re.Pattern) -> None:
    page.goto("/programmes/")
    page.get_by_role("link", name="VN-JCM-PoA-001").click()
    page.get_by_role("link", name=link).click()


def test_operator_fixes_bad_rows_and_coordinator_requests_issuance(
    browser: Browser, live_server: str, tmp_path: Path
):
    operator = _log_in(browser, live_server, "operator@demo.example.org")
    open_programme(operator, re.compile("open the list"))
    operator.get_by_role("link", name=SITE, exact=True).click()
    operator.get_by_role("link", name="Meter readings").click()
    expect(operator.get_by_role("heading", level=1)).to_have_text(f"Readings of {SITE}")

    operator.get_by_label("Readings file").set_input_files(october_csv(tmp_path / "october.csv", faults=True))
    operator.get_by_role("button", name="Upload readings").click()
    expect(operator.get_by_test_id("upload-status")).to_have_text("rejected")
    expect(
        operator.get_by_role("heading", level=2, name="3 problems to fix — nothing was stored")
    ).to_be_visible()
    rows = operator.get_by_test_id("row-errors").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td:first-child")).to_have_text(["11", "502", "2002"])
    screenshot(operator, "readings-rejected.png")

    operator.get_by_role("link", name="upload the whole file again").click()
    operator.get_by_label("Readings file").set_input_files(
        october_csv(tmp_path / "october-fixed.csv", faults=False)
    )
    operator.get_by_role("button", name="Upload readings").click()
    expect(operator.get_by_test_id("upload-status")).to_have_text("accepted")
    expect(operator.get_by_test_id("upload-counts")).to_contain_text(f"{ROWS} rows: {ROWS} stored")

    coordinator = _log_in(browser, live_server, "coordinator@demo.example.org")
    open_programme(coordinator, "Monitoring reports and issuance requests")
    coordinator.get_by_label("Period start").fill("2025-10-01")
    coordinator.get_by_label("Period end").fill("2025-10-31")
    coordinator.get_by_role("button", name="Compute the report").click()
    expect(coordinator.get_by_role("status")).to_contain_text("computed: 1 site line(s)")

    # VN_AM007: 2,976 × 50.125 kWh = 149.172 MWh × 0.6592 tCO2/MWh = 98.3341824 tCO2e.
    expect(coordinator.get_by_test_id("report-total")).to_have_text("98.3341824")
    line_totals = coordinator.get_by_test_id("report-lines").locator("tbody tr td:nth-child(7)")
    expect(line_totals).to_have_text(["98.3341824"])
    screenshot(coordinator, "monitoring-report.png")

    with coordinator.expect_download() as download:
        coordinator.get_by_role("link", name="ER calculation workbook (XLSX)").click()
    workbook = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    sheet = workbook["Lines"]
    header = [cell.value for cell in sheet[1]]
    total = sum(
        Decimal(str(row[header.index("ER tCO2e")])) for row in sheet.iter_rows(min_row=2, values_only=True)
    )
    assert total == Decimal("98.3341824")

    coordinator.once("dialog", lambda dialog: dialog.accept())
    coordinator.get_by_role("button", name="Submit report").click()
    expect(coordinator.get_by_role("status")).to_contain_text("submitted and frozen")
    coordinator.get_by_role("button", name="Request issuance").click()
    expect(coordinator.get_by_test_id("credits-requested")).to_have_text("98")
    request_lines = coordinator.get_by_test_id("request-lines").locator("tbody tr")
    expect(request_lines).to_have_count(1)
    expect(request_lines.first).to_contain_text("2025-10-01 – 2025-10-31")
    screenshot(coordinator, "issuance-request.png")

    # Provenance: from the request's site line to the meter's readings and the upload behind them.
    request_lines.first.get_by_role("link", name=SITE).click()
    coordinator.get_by_role("link", name="Readings").first.click()
    coordinator.get_by_role("link", name="Details").first.click()
    coordinator.get_by_test_id("reading-history").locator("a[href*='/reading-uploads/']").first.click()
    expect(coordinator.locator("dl.facts")).to_contain_text("october-fixed.csv")
    expect(coordinator.locator("dl.facts")).to_contain_text("Hoa Operator")
