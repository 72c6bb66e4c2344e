"""The programme acceptance journey in a real browser: register once, define criteria, upload 500 sites
with 20 faulty rows, see exactly those errors, fix them, and include every eligible site."""

import csv
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from poa_manager.demo import DEMO_PASSWORD
from tests.e2e.test_browser_journey import complete_two_factor, screenshot

pytestmark = pytest.mark.e2e

SITES = 500
REFERENCE = "VN-CDM-PoA-100"
BOUNDARY = {
    "type": "Polygon",
    "coordinates": [[[106.0, 10.0], [108.0, 10.0], [108.0, 12.0], [106.0, 12.0], [106.0, 10.0]]],
}
COLUMNS = [
    "reference",
    "name",
    "latitude",
    "longitude",
    "technology",
    "capacity_kw",
    "commissioned_on",
    "equipment_serials",
    "documents",
    "meter_1_serial",
    "meter_1_role",
    "meter_1_accuracy_class",
    "meter_1_calibrated_on",
    "meter_1_calibration_valid_until",
]
# (row index, column, bad value): 20 faults of different kinds, each in its own row.
FAULTS = [
    (i * 25 + 3, column, value)
    for i, (column, value) in enumerate(
        [
            ("latitude", "95"),
            ("longitude", "east"),
            ("capacity_kw", "-5"),
            ("capacity_kw", "1,5"),
            ("commissioned_on", "2025-13-01"),
            ("commissioned_on", "yesterday"),
            ("meter_1_role", "solar"),
            ("meter_1_calibrated_on", "01/02/2025"),
            ("latitude", ""),
            ("name", ""),
            ("latitude", "-91"),
            ("capacity_kw", "12kW"),
            ("meter_1_calibration_valid_until", "soon"),
            ("longitude", "181"),
            ("capacity_kw", "NaN"),
            ("commissioned_on", "2025-02-30"),
            ("meter_1_role", "exporter"),
            ("latitude", "10,95"),
            ("name", ""),
            ("capacity_kw", "-0.5"),
        ]
    )
]


def _rows() -> list[dict[str, str]]:
    """500 valid rooftop PV sites on a 25 × 20 grid about 900 m apart, each with its own serials."""
    return [
        {
            "reference": f"CPA-{n:04d}",
            "name": f"Rooftop {n}",
            "latitude": f"{10.2 + (n % 25) * 0.008:.6f}",
            "longitude": f"{106.2 + (n // 25) * 0.008:.6f}",
            "technology": "solar_pv",
            "capacity_kw": "750",
            "commissioned_on": "2025-04-01",
            "equipment_serials": f"INV-{n:05d}",
            "documents": "cpa_dd",
            "meter_1_serial": f"MTR-{n:05d}",
            "meter_1_role": "export",
            "meter_1_accuracy_class": "0.5S",
            "meter_1_calibrated_on": "2025-03-01",
            "meter_1_calibration_valid_until": "2030-03-01",
        }
        for n in range(1, SITES + 1)
    ]


def _csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _log_in(browser: Browser, base: str, email: str) -> Page:
    page = browser.new_context(base_url=base).new_page()
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    complete_two_factor(page, email)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    return page


def _open_programme(page: Page) -> None:
    page.goto("/programmes/")
    page.get_by_role("link", name=REFERENCE).click()


def test_register_a_programme_upload_sites_fix_errors_and_include_them(
    browser: Browser, live_server: str, tmp_path: Path
):
    coordinator = _log_in(browser, live_server, "coordinator@demo.example.org")
    coordinator.goto("/programmes/new")
    coordinator.get_by_label("Reference").fill(REFERENCE)
    coordinator.get_by_label("Title").fill("Rooftop solar PV for industrial parks")
    coordinator.get_by_label("Host country").fill("VN")
    coordinator.get_by_label("Methodology", exact=True).select_option("AMS-I.D")
    coordinator.get_by_label("Geographic boundary").fill(json.dumps(BOUNDARY))
    coordinator.get_by_label("Programme start date").fill("2025-01-01")
    coordinator.get_by_label("Inclusion").select_option("coordinator")
    coordinator.get_by_role("button", name="Create programme").click()
    expect(coordinator.get_by_role("status")).to_contain_text("created as a draft")

    coordinator.get_by_role("link", name="0 — edit").click()
    criteria = [
        ("EC-01", "Inside the boundary", "location_in_boundary", {}),
        ("EC-02", "Solar PV", "technology_allowed", {"technologies": ["solar_pv"]}),
        (
            "EC-03",
            "Revenue meter class 0.5S or better",
            "meter_accuracy",
            {"accepted_classes": ["0.2S", "0.5S"]},
        ),
        ("EC-04", "Not registered elsewhere", "no_double_counting", {}),
    ]
    for batch in (criteria[:2], criteria[2:]):  # the editor offers two empty rows at a time
        rows = coordinator.locator("table.criteria-editor tbody tr")
        first_empty = rows.count() - 2
        for offset, (code, description, kind, params) in enumerate(batch):
            row = rows.nth(first_empty + offset)
            row.get_by_label("Code").fill(code)
            row.get_by_label("Description").fill(description)
            row.get_by_label("Kind").select_option(kind)
            row.get_by_label("Parameters").fill(json.dumps(params))
        coordinator.get_by_role("button", name="Save criteria").click()
        expect(coordinator.get_by_role("status")).to_contain_text("eligibility criteria saved")

    # The platform admin gives the TPE and the secretariat their roles on the new programme.
    admin = _log_in(browser, live_server, "admin@demo.example.org")
    _open_programme(admin)
    for email, role in (
        ("verifier@demo.example.org", "verifier"),
        ("registry@demo.example.org", "registry_administrator"),
    ):
        admin.get_by_label("User").select_option(
            label=admin.locator("#grant-user_id option", has_text=email).inner_text()
        )
        admin.get_by_label("Role").select_option(role)
        admin.get_by_role("button", name="Grant role").click()
        expect(admin.get_by_role("status")).to_contain_text("Role granted")

    _open_programme(coordinator)
    coordinator.get_by_role("button", name="Submit version 1 for validation").click()
    expect(coordinator.get_by_role("status")).to_contain_text("Submitted for validation")
    verifier = _log_in(browser, live_server, "verifier@demo.example.org")
    _open_programme(verifier)
    verifier.get_by_role("button", name="Validate version 1").click()
    expect(verifier.get_by_role("status")).to_contain_text("Design validated")
    registry = _log_in(browser, live_server, "registry@demo.example.org")
    _open_programme(registry)
    registry.get_by_role("button", name="Register version 1").click()
    expect(registry.get_by_role("heading", level=1)).to_contain_text("registered")

    rows = _rows()
    faulty = [dict(row) for row in rows]
    for index, column, value in FAULTS:
        faulty[index][column] = value
    (tmp_path / "sites.csv").write_text(_csv(faulty))
    (tmp_path / "sites-fixed.csv").write_text(_csv(rows))

    _open_programme(coordinator)
    coordinator.get_by_role("link", name="0 — open the list").click()
    coordinator.get_by_role("button", name="Upload CSV/XLSX").click()
    coordinator.get_by_label("CSV, XLSX, GeoJSON, KML or KMZ file").set_input_files(tmp_path / "sites.csv")
    coordinator.get_by_label("Check eligibility on").fill("2026-11-01")
    coordinator.get_by_role("button", name="Upload").click()
    errors = coordinator.get_by_test_id("import-errors").locator("tbody tr")
    expect(errors).to_have_count(len(FAULTS))
    reported = {
        (
            int(errors.nth(i).locator("td").nth(0).inner_text()),
            errors.nth(i).locator("td").nth(1).inner_text(),
        )
        for i in range(len(FAULTS))
    }
    assert reported == {(index + 2, column) for index, column, _ in FAULTS}  # header is row 1
    screenshot(coordinator, "site-import-errors.png")

    coordinator.get_by_label("CSV, XLSX, GeoJSON, KML or KMZ file").set_input_files(
        tmp_path / "sites-fixed.csv"
    )
    coordinator.get_by_label("Check eligibility on").fill("2026-11-01")
    coordinator.get_by_role("button", name="Upload").click()
    expect(coordinator.get_by_role("status")).to_contain_text(f"{SITES} sites imported")
    coordinator.get_by_label("Inclusion date").fill("2026-11-02")
    coordinator.get_by_role("button", name=f"Include all {SITES} eligible sites").click()
    expect(coordinator.get_by_role("status")).to_contain_text(f"{SITES} included, 0 waiting")
    expect(coordinator.get_by_test_id("sites").locator("tbody tr").first).to_contain_text("included")
    screenshot(coordinator, "sites-included.png")
