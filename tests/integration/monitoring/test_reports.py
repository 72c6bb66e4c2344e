"""Monitoring reports: the roll-up from readings, its numbers by hand, the workbook, the request."""

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from poa_manager.database import db as _db
from poa_manager.errors import RuleViolation
from poa_manager.monitoring import exports, services
from poa_manager.monitoring.models import Reading
from poa_manager.sites.models import MeterRole

HEADER = "site_ref,meter_serial,reading_start,reading_end,value"
TODAY = date(2026, 11, 22)


def daily(site_ref: str, serial: str, first: date, days: int, kwh: str) -> list[str]:
    rows = []
    for n in range(days):
        day = first + timedelta(days=n)
        rows.append(
            f"{site_ref},{serial},{day}T00:00:00+07:00,{day + timedelta(days=1)}T00:00:00+07:00,{kwh}"
        )
    return rows


def open_period(programme, world, start=date(2025, 1, 1), end=date(2025, 1, 31), **options):
    """Close a monitoring period as the coordinator (January 2025 unless told otherwise)."""
    return services.open_report(
        programme, actor=world.coordinator, period_start=start, period_end=end, today=TODAY, **options
    )


@pytest.fixture
def send(world, tmp_path):
    """Store readings through the real import path, as the coordinator."""

    def send_rows(programme, rows: list[str]):
        data = ("\n".join([HEADER, *rows]) + "\n").encode()
        upload, _ = services.receive_readings(
            programme, actor=world.coordinator, filename="r.csv", stream=io.BytesIO(data), folder=tmp_path
        )
        services.start_upload(upload)
        outcome = services.ingest_upload(upload, folder=tmp_path)
        assert outcome.accepted, upload.errors
        return upload

    return send_rows


@pytest.fixture
def january(monitored, make_crediting_site, send):
    """A: whole January (and 1 February) at 4,000 kWh/day.
    B: joined on 16 January, 3,000 kWh/day out, 100 in."""
    a = make_crediting_site(1)
    b = make_crediting_site(
        2,
        crediting_start=date(2025, 1, 16),
        meters=[{"serial": "EXP-0002"}, {"serial": "IMP-0002", "role": MeterRole.import_}],
    )
    send(
        monitored,
        daily("CPA-0001", "EXP-0001", date(2025, 1, 1), 32, "4000")  # and 1 February, outside
        + daily("CPA-0002", "EXP-0002", date(2025, 1, 16), 16, "3000")
        + daily("CPA-0002", "IMP-0002", date(2025, 1, 16), 16, "100"),
    )
    return a, b


def test_the_report_total_is_the_exact_sum_of_hand_computed_site_lines(monitored, january, world):
    report = open_period(monitored, world)
    lines = {line.site_reference: line for line in report.lines}
    # A: 31 × 4,000 kWh = 124 MWh × 0.6592 = 81.7408 tCO2e.
    assert lines["CPA-0001"].counted_wh == Decimal(124_000_000)
    assert lines["CPA-0001"].emission_reductions_tco2e == Decimal("81.7408")
    # B is pro-rated by its crediting start: 16 days, net of import: 16 × (3,000 − 100) kWh = 46.4 MWh.
    assert (lines["CPA-0002"].window_start, lines["CPA-0002"].window_end) == (
        date(2025, 1, 16),
        date(2025, 1, 31),
    )
    assert lines["CPA-0002"].net_wh == Decimal(46_400_000)
    assert lines["CPA-0002"].emission_reductions_tco2e == Decimal("30.58688")
    assert (
        lines["CPA-0002"]
        .sources["grid_emission_factor_tco2_per_mwh"]
        .startswith("grid emission factor VN 2025")
    )
    assert (
        report.total_tco2e
        == Decimal("112.32768")
        == sum(line.emission_reductions_tco2e for line in report.lines)
    )
    assert lines["CPA-0001"].completeness_percent == Decimal(100)


def test_the_workbook_and_the_request_agree_with_the_report(monitored, january, world):
    report = open_period(monitored, world)
    services.submit_report(report, actor=world.coordinator)
    workbook = openpyxl.load_workbook(io.BytesIO(exports.report_workbook(report)))
    sheet = workbook["Lines"]
    header = [cell.value for cell in sheet[1]]
    er = header.index("ER tCO2e")
    sheet_lines = [Decimal(str(row[er])) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sum(sheet_lines) == report.total_tco2e == Decimal("112.32768")  # T11: 0 mismatches
    assert Decimal(str(workbook["Summary"]["B8"].value)) == report.total_tco2e

    issuance = services.request_issuance(report, actor=world.coordinator)
    assert issuance.claimed_tco2e == report.total_tco2e
    assert issuance.credits_requested == 112  # rounded down once, on the request
    assert [(line.site_reference, line.period_start, line.period_end) for line in issuance.lines] == [
        ("CPA-0001", date(2025, 1, 1), date(2025, 1, 31)),
        ("CPA-0002", date(2025, 1, 16), date(2025, 1, 31)),
    ]
    with pytest.raises(RuleViolation, match="already"):
        services.request_issuance(report, actor=world.coordinator)


def test_lapsed_calibration_is_discounted_by_the_maximum_permissible_error(
    monitored, make_crediting_site, send, world
):
    make_crediting_site(3, meters=[{"serial": "EXP-0003", "calibration_valid_until": date(2025, 1, 20)}])
    send(monitored, daily("CPA-0003", "EXP-0003", date(2025, 1, 1), 31, "1000"))
    report = open_period(monitored, world)
    (line,) = report.lines
    # 21–31 January lapsed: 11 × 1,000 kWh at class 0.2S → −0.2 % = −22 kWh, so 30,978 kWh count.
    (meter,) = line.meters
    assert meter.lapsed_energy_wh == 11_000_000
    assert meter.adjustment_wh == Decimal(-22_000)
    assert line.counted_wh == Decimal(30_978_000)
    assert line.emission_reductions_tco2e == Decimal("20.4206976")  # 30.978 MWh × 0.6592
    assert "calibration_lapsed" in line.flags


def test_missing_days_earn_nothing_and_are_flagged(monitored, make_crediting_site, send, world):
    make_crediting_site(4)
    send(monitored, daily("CPA-0004", "EXP-0004", date(2025, 1, 1), 20, "1000"))  # 11 days missing
    report = open_period(monitored, world)
    (line,) = report.lines
    assert line.counted_wh == Decimal(20_000_000)
    assert line.completeness_percent == Decimal("64.51")  # 20/31, truncated
    assert "low_completeness" in line.flags

    # The conservative fill (a per-report choice, flagged) credits the lowest observed rate.
    services.discard_report(report, actor=world.coordinator)
    report = open_period(monitored, world, settings={"gap_fill": "lowest_rate"})
    (line,) = report.lines
    # 1,000 kWh a day is 41,666.67 Wh/h, floored to 41,666 Wh/h: 11 × 24 h fill 10,999,824 Wh.
    assert line.counted_wh == Decimal(20_000_000 + 10_999_824)
    assert "gap_filled" in line.flags


def test_periods_are_consecutive_and_must_have_ended(monitored, january, world):
    with pytest.raises(RuleViolation) as refused:
        open_period(monitored, world, date(2026, 11, 1), TODAY)
    assert refused.value.code == "period_not_ended"
    first = open_period(monitored, world, date(2025, 1, 1), date(2025, 1, 15))
    with pytest.raises(RuleViolation) as refused:
        open_period(monitored, world, date(2025, 1, 16), date(2025, 1, 31))
    assert refused.value.code == "draft_open"
    services.submit_report(first, actor=world.coordinator)
    with pytest.raises(RuleViolation) as refused:
        open_period(monitored, world, date(2025, 1, 17), date(2025, 1, 31))
    assert refused.value.code == "periods_not_consecutive"
    second = open_period(monitored, world, date(2025, 1, 16), date(2025, 1, 31))
    # Site A's two lines are consecutive and add up to the whole month.
    a_lines = [
        line for report in (first, second) for line in report.lines if line.site_reference == "CPA-0001"
    ]
    assert [(line.window_start, line.window_end) for line in a_lines] == [
        (date(2025, 1, 1), date(2025, 1, 15)),
        (date(2025, 1, 16), date(2025, 1, 31)),
    ]
    assert sum(line.emission_reductions_tco2e for line in a_lines) == Decimal("81.7408")


def test_a_period_across_new_year_is_split_per_vintage(monitored, make_crediting_site, send, world):
    monitored.current_version.grid_emission_factor_overrides = {"2025": "0.6592", "2026": "0.6000"}
    make_crediting_site(5)
    send(monitored, daily("CPA-0005", "EXP-0005", date(2025, 12, 30), 4, "1000"))
    report = open_period(monitored, world, date(2025, 12, 30), date(2026, 1, 2))
    assert [(line.vintage, line.emission_reductions_tco2e) for line in report.lines] == [
        (2025, Decimal("1.3184")),  # 2 MWh × 0.6592
        (2026, Decimal("1.2")),  # 2 MWh × 0.6000
    ]


def test_a_correction_after_submission_shows_as_a_discrepancy(monitored, january, world):
    report = open_period(monitored, world)
    services.submit_report(report, actor=world.coordinator)
    assert services.discrepancies(report) == []
    reading = _db.session.scalars(sa.select(Reading).order_by(Reading.reading_end)).first()
    services.correct_reading(reading, actor=world.coordinator, value="3000", reason="meter swapped channels")
    found = services.discrepancies(report)
    assert [(d.site_reference, d.field) for d in found] == [
        ("CPA-0001", "counted_wh"),
        ("CPA-0001", "emission_reductions_tco2e"),
    ]
    assert found[0].frozen - found[0].current == Decimal(1_000_000)
    assert report.total_tco2e == Decimal("112.32768")  # the submitted numbers did not move
    with pytest.raises(RuleViolation) as refused:
        services.request_issuance(report, actor=world.coordinator)
    assert refused.value.code == "report_discrepancies"
    services.reopen_report(report, actor=world.coordinator, reason="corrected reading of 1 January")
    services.submit_report(report, actor=world.coordinator)
    assert report.total_tco2e == Decimal("112.32768") - Decimal("0.6592")
    assert services.request_issuance(report, actor=world.coordinator).credits_requested == 111


def test_a_report_through_the_pages(monitored, january, world, login_as):
    client = login_as(world.coordinator)
    response = client.post(
        f"/programmes/{monitored.id}/monitoring",
        data={
            "period_start": "2025-01-01",
            "period_end": "2025-01-31",
            "gap_fill": "none",
            "completeness_threshold_percent": "95",
            "apply_found_error_beyond_mpe": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    report_url = response.headers["Location"]
    page = client.get(report_url).get_data(as_text=True)
    assert "112.32768" in page and "CPA-0002" in page
    report_id = int(report_url.rstrip("/").rsplit("/", 1)[-1])
    assert "112.32768" in client.get(f"/monitoring-reports/{report_id}/print").get_data(as_text=True)
    workbook = client.get(f"/monitoring-reports/{report_id}/workbook.xlsx")
    assert workbook.status_code == 200 and workbook.data[:2] == b"PK"
    assert client.post(f"/monitoring-reports/{report_id}/submit").status_code == 302
    response = client.post(f"/monitoring-reports/{report_id}/issuance-request")
    assert response.status_code == 302
    request_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<strong data-testid="credits-requested">112</strong>' in request_page
    # From the request to the site line, its meters and readings.
    line_id = services.get_report(report_id, actor=world.coordinator).lines[0].id
    line_page = client.get(f"/monitoring-lines/{line_id}").get_data(as_text=True)
    assert "EXP-0001" in line_page and "meter readings" in line_page
    # The line's "Readings" link lists exactly the readings the roll-up counted for it.
    link = (
        re.search(r'href="(/sites/\d+/readings\?[^"]+)">Readings<', line_page).group(1).replace("&amp;", "&")
    )
    readings_page = client.get(link).get_data(as_text=True)
    assert readings_page.count(">Details</a>") == 31  # January only: not 1 February
    assert client.get(link.split("&from=")[0]).get_data(as_text=True).count(">Details</a>") == 32


def test_reports_are_scoped_to_the_programme(monitored, january, world, client, api_headers_for):
    report = open_period(monitored, world)
    _db.session.commit()
    outsider = api_headers_for(world.outsider)
    assert client.get(f"/api/v1/monitoring-reports/{report.id}", headers=outsider).status_code == 404
    verifier = api_headers_for(world.verifier)
    answer = client.get(f"/api/v1/monitoring-reports/{report.id}/lines", headers=verifier)
    assert answer.status_code == 200 and len(answer.json) == 2
    refused = client.post(f"/api/v1/monitoring-reports/{report.id}/submit", headers=verifier)
    assert refused.status_code == 403


def test_missing_import_data_is_never_in_the_sites_favour(monitored, make_crediting_site, send, world):
    meters = [{"serial": "EXP-0006"}, {"serial": "IMP-0006", "role": MeterRole.import_}]
    make_crediting_site(6, meters=meters)
    make_crediting_site(7, meters=[{"serial": "EXP-0007"}, {"serial": "IMP-0007", "role": MeterRole.import_}])
    send(
        monitored,
        daily("CPA-0006", "EXP-0006", date(2025, 1, 1), 31, "1000")
        # Import readings for 21 of 31 days, at 100 and 200 kWh: the 10 missing days are filled at
        # the highest rate, 200 kWh a day, however the report fills export gaps.
        + daily("CPA-0006", "IMP-0006", date(2025, 1, 1), 11, "100")
        + daily("CPA-0006", "IMP-0006", date(2025, 1, 12), 10, "200")
        + daily("CPA-0007", "EXP-0007", date(2025, 1, 1), 31, "1000"),  # no import data at all
    )
    report = open_period(monitored, world)
    lines = {line.site_reference: line for line in report.lines}
    six = lines["CPA-0006"]
    # Import: 11 × 100 + 10 × 200 kWh read, and 10 days filled at 200 kWh/day = 8,333.3 Wh/h,
    # rounded up to 8,334 Wh/h: 240 h × 8,334 = 2,000,160 Wh. Net 31,000,000 − 5,100,160 Wh.
    assert six.import_wh == Decimal(5_100_160)
    assert six.net_wh == Decimal(25_899_840)
    assert "import_gap_filled" in six.flags
    seven = lines["CPA-0007"]
    assert seven.emission_reductions_tco2e == 0 and "no_import_data" in seven.flags
    assert "no readings to fill its gaps" in seven.problem


def test_the_whole_path_through_the_api(monitored, january, world, client, api_headers_for):
    headers = api_headers_for(world.coordinator)
    opened = client.post(
        f"/api/v1/programmes/{monitored.id}/monitoring-reports",
        json={"period_start": "2025-01-01", "period_end": "2025-01-31", "settings": {"gap_fill": "none"}},
        headers=headers,
    )
    assert opened.status_code == 201 and opened.json["total_tco2e"] == "112.32768"
    report_id = opened.json["id"]
    lines = client.get(f"/api/v1/monitoring-reports/{report_id}/lines", headers=headers).json
    assert sum(Decimal(line["emission_reductions_tco2e"]) for line in lines) == Decimal("112.32768")
    assert client.post(f"/api/v1/monitoring-reports/{report_id}/submit", headers=headers).status_code == 200
    requested = client.post(f"/api/v1/monitoring-reports/{report_id}/issuance-request", headers=headers)
    assert requested.status_code == 201 and requested.json["credits_requested"] == 112
    listed = client.get(f"/api/v1/programmes/{monitored.id}/issuance-requests", headers=headers).json
    assert [(r["label"], r["claimed_tco2e"]) for r in listed] == [("IR-001", "112.32768")]
    assert (
        client.get(
            f"/api/v1/programmes/{monitored.id}/issuance-requests", headers=api_headers_for(world.outsider)
        ).status_code
        == 404
    )
