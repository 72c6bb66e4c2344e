"""Monitoring charts against the database: a meter's energy per local day (gaps, flags, corrections,
clock changes), ERs per site and per period, their API equivalents, and who may see them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from poa_manager.database import db
from poa_manager.monitoring import services
from poa_manager.monitoring.models import MonitoringLine
from poa_manager.sites.models import MeterUnit, ReadingType
from tests.verification_support import claims_of, submitted_request

VN = timedelta(hours=7)  # Viet Nam: no daylight saving time


def quarter_hours(site_ref: str, serial: str, day: date, kwh: list[str], offset=VN) -> list[str]:
    """One row per 15 minutes from the local midnight of `day`, with the given values in turn."""
    midnight = datetime.combine(day, datetime.min.time(), UTC) - offset
    rows = []
    for i, value in enumerate(kwh):
        start = midnight + timedelta(minutes=15 * i)
        rows.append(
            f"{site_ref},{serial},{start.isoformat()},{(start + timedelta(minutes=15)).isoformat()},{value}"
        )
    return rows


def chart_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    config = response.get_json()
    # What static/js/charts.js hands to `new Chart`: a type, labels and datasets of equal length.
    assert config["type"] in {"line", "bar"}
    labels = config["data"]["labels"]
    assert all(len(d["data"]) == len(labels) for d in config["data"]["datasets"])
    assert config["options"]["maintainAspectRatio"] is False
    return config


@pytest.fixture
def ten_days(monitored, make_crediting_site, send):
    """1–10 January 2025 in quarter hours at 1.5 kWh, except: nothing on 4 and 5 January (a gap),
    only the first 12 hours of 7 January, and 2.25 kWh per interval on 9 January."""
    site = make_crediting_site(1)
    rows = []
    for n in range(10):
        day = date(2025, 1, 1) + timedelta(days=n)
        if day in (date(2025, 1, 4), date(2025, 1, 5)):
            continue
        values = ["1.5"] * (48 if day == date(2025, 1, 7) else 96)
        if day == date(2025, 1, 9):
            values = ["2.25"] * 96
        rows += quarter_hours(site.reference, "EXP-0001", day, values)
    send(monitored, rows)
    return site


def test_energy_per_day_equals_the_sum_of_the_quarter_hours_and_gaps_are_null(world, ten_days, login_as):
    meter = ten_days.meters[0]
    client = login_as(world.coordinator)
    config = chart_json(client, f"/meters/{meter.id}/readings-chart.json?from=2025-01-01&to=2025-01-10")
    assert config["type"] == "line"
    assert config["data"]["labels"] == [(date(2025, 1, 1) + timedelta(days=n)).isoformat() for n in range(10)]
    energy, flagged = config["data"]["datasets"]
    # 96 × 1.5 = 144 kWh; 48 × 1.5 = 72; 96 × 2.25 = 216.
    assert energy["data"] == ["144", "144", "144", None, None, "144", "72", "144", "216", "144"]
    assert energy["spanGaps"] is False
    assert flagged["data"] == [None] * 10  # nothing was flagged
    assert "Asia/Ho_Chi_Minh" in energy["label"]

    # By default: up to the latest reading's local day, from the first reading (less than a year).
    default = chart_json(client, f"/meters/{meter.id}/readings-chart.json")
    assert default["data"] == config["data"]


def test_by_default_a_long_history_shows_its_last_365_days(world, monitored, make_crediting_site, send):
    site = make_crediting_site(5, crediting_start=date(2024, 1, 1))
    send(
        monitored,
        [
            f"CPA-0005,EXP-0005,{day}T00:00:00+07:00,{day + timedelta(days=1)}T00:00:00+07:00,100"
            for day in (date(2024, 1, 1), date(2025, 6, 30))
        ],
    )
    series = services.meter_daily_energy(site.meters[0].id, actor=world.coordinator)
    assert (series.first_day, series.last_day, len(series.days)) == (date(2024, 7, 1), date(2025, 6, 30), 365)
    assert [d.energy_kwh for d in series.days if d.energy_kwh is not None] == [Decimal(100)]


def test_a_corrected_reading_counts_once_as_corrected(world, ten_days, login_as):
    meter = ten_days.meters[0]
    first = db.session.scalars(
        services.list_readings(ten_days, actor=world.coordinator, meter=meter).order_by(None)
    ).first()
    day = first.ends_at.astimezone(UTC) + VN
    services.correct_reading(
        first, actor=world.coordinator, value=Decimal("3.5"), reason="Logger clock fixed"
    )
    series = services.meter_daily_energy(
        meter.id, actor=world.coordinator, first_day=day.date(), last_day=day.date()
    )
    (only,) = series.days
    expected = Decimal("144") - Decimal("1.5") + Decimal("3.5")  # 96 readings still, one replaced
    assert (only.energy_kwh, only.readings) == (expected, 96)


def test_days_with_flagged_readings_are_highlighted(world, monitored, make_crediting_site, send, login_as):
    """A 5-digit kWh register that rolls over past 99,999 on 3 January: that reading is flagged."""
    site = make_crediting_site(
        2,
        meters=[
            {
                "serial": "CUM-0002",
                "reading_type": ReadingType.cumulative,
                "unit": MeterUnit.kWh,
                "register_digits": 5,
            }
        ],
    )
    registers = ["95000", "98000", "99500", "01500", "04000"]  # daily deltas: 3,000, 1,500, 2,000, 2,500
    rows = [
        f"CPA-0002,CUM-0002,,{(datetime(2025, 1, 1 + n, tzinfo=UTC) - VN).isoformat()},{value}"
        for n, value in enumerate(registers)
    ]
    send(monitored, rows)
    client = login_as(world.coordinator)
    config = chart_json(
        client, f"/meters/{site.meters[0].id}/readings-chart.json?from=2024-12-31&to=2025-01-04"
    )
    energy, flagged = config["data"]["datasets"]
    # Each reading ends at a local midnight, so it belongs to the day before; the opening reading
    # (1 January 00:00, 0 kWh) to 31 December.
    assert energy["data"] == ["0", "3000", "1500", "2000", "2500"]
    assert flagged["data"] == [None, None, None, "2000", None]

    api = client.get(f"/api/v1/meters/{site.meters[0].id}/daily-energy?from=2025-01-01&to=2025-01-04")
    assert api.status_code == 401  # the API wants a bearer token, not the session


def test_a_day_of_a_clock_change_has_its_23_hours(world, monitored, make_crediting_site, send):
    """Berlin, 30 March 2025: 23 hourly readings belong to the local day, none to its neighbours."""
    site = make_crediting_site(3, timezone="Europe/Berlin")
    start = datetime(2025, 3, 28, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    rows = []
    for h in range(24 * 4 - 1):  # 28 March 00:00 to 31 March 24:00 local = 95 hours
        begin = start + timedelta(hours=h)
        rows.append(f"CPA-0003,EXP-0003,{begin.isoformat()},{(begin + timedelta(hours=1)).isoformat()},10")
    send(monitored, rows)
    series = services.meter_daily_energy(
        site.meters[0].id, actor=world.coordinator, first_day=date(2025, 3, 28), last_day=date(2025, 3, 31)
    )
    assert [(d.day.day, d.readings, d.energy_kwh) for d in series.days] == [
        (28, 24, Decimal(240)),
        (29, 24, Decimal(240)),
        (30, 23, Decimal(230)),
        (31, 24, Decimal(240)),
    ]


def test_the_api_returns_the_same_days_with_exact_values(world, ten_days, api_headers_for, db_get):
    meter = ten_days.meters[0]
    response = db_get(
        api_headers_for(world.coordinator),
        f"/api/v1/meters/{meter.id}/daily-energy?from=2025-01-03&to=2025-01-07",
    )
    body = response.get_json()
    assert body["meter_id"] == meter.id and body["timezone"] == "Asia/Ho_Chi_Minh"
    assert [(d["day"], d["energy_kwh"], d["readings"]) for d in body["days"]] == [
        ("2025-01-03", "144", 96),
        ("2025-01-04", None, 0),
        ("2025-01-05", None, 0),
        ("2025-01-06", "144", 96),
        ("2025-01-07", "72", 48),
    ]


@pytest.fixture
def db_get(client):
    def get(headers, url):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.data[:300]
        return response

    return get


def test_a_meter_of_a_site_the_user_cannot_see_is_not_found(
    world, ten_days, login_as, api_headers_for, client
):
    meter = ten_days.meters[0]
    for outsider in (world.outsider, world.site_operator):  # another programme; another site's operator
        assert login_as(outsider).get(f"/meters/{meter.id}/readings-chart.json").status_code == 404
        api = client.get(f"/api/v1/meters/{meter.id}/daily-energy", headers=api_headers_for(outsider))
        assert api.status_code == 404
    assert login_as(world.verifier).get(f"/meters/{meter.id}/readings-chart.json").status_code == 200


def test_too_long_or_backwards_windows_are_refused(world, ten_days, login_as):
    client = login_as(world.coordinator)
    meter = ten_days.meters[0]
    assert (
        client.get(f"/meters/{meter.id}/readings-chart.json?from=2020-01-01&to=2025-01-10").status_code == 422
    )
    assert (
        client.get(f"/meters/{meter.id}/readings-chart.json?from=2025-01-10&to=2025-01-01").status_code == 422
    )
    assert client.get(f"/meters/{meter.id}/readings-chart.json?from=yesterday").status_code == 422


def test_a_meter_without_readings_gives_an_empty_chart(world, make_crediting_site, login_as):
    site = make_crediting_site(4)
    config = chart_json(login_as(world.coordinator), f"/meters/{site.meters[0].id}/readings-chart.json")
    assert config["data"]["labels"] == [] and all(d["data"] == [] for d in config["data"]["datasets"])


def test_the_meter_page_carries_the_chart_and_no_inline_script(world, ten_days, login_as):
    page = login_as(world.coordinator).get(f"/meters/{ten_days.meters[0].id}").get_data(as_text=True)
    assert f'data-chart-src="/meters/{ten_days.meters[0].id}/readings-chart.json"' in page
    assert "js/charts.js" in page and "vendor/chartjs/chart.umd.min.js" in page
    assert "<script>" not in page and " style=" not in page
    chosen = login_as(world.coordinator).get(f"/meters/{ten_days.meters[0].id}?from=2025-01-02&to=2025-01-05")
    assert "readings-chart.json?from=2025-01-02&amp;to=2025-01-05" in chosen.get_data(as_text=True)


# --- emission reductions ---------------------------------------------------------------------------


def test_sites_beyond_fifty_are_one_others_bar_with_their_exact_sum(
    world, registered, login_as, api_headers_for, client
):
    claims = claims_of(55)
    request = submitted_request(registered, world.coordinator, claims)
    report = request.report
    # A second window of CPA-0001 (vintage 2026) adds to that site's bar.
    site = next(line for line in report.lines if line.site_reference == "CPA-0001")
    db.session.add(
        MonitoringLine(
            report_id=report.id,
            site_id=site.site_id,
            site_reference=site.site_reference,
            window_start=date(2026, 1, 1),
            window_end=date(2026, 1, 31),
            vintage=2026,
            window_from=0,
            window_until=1,
            emission_reductions_tco2e=Decimal("70.000001"),
        )
    )
    db.session.flush()
    config = chart_json(login_as(world.coordinator), f"/monitoring-reports/{report.id}/sites-chart.json")
    labels, (dataset,) = config["data"]["labels"], config["data"]["datasets"]
    assert config["type"] == "bar" and len(labels) == 51
    first_claim = claims[0] + Decimal("70.000001")  # CPA-0001: 100.5 + 70.000001, the largest
    assert (labels[0], dataset["data"][0]) == ("CPA-0001", "170.500001")
    others = sorted(claims[1:])[:5]  # the five smallest of the other 54
    assert labels[-1] == "others (5 sites)" and Decimal(dataset["data"][-1]) == sum(others)
    shown = sum(Decimal(v) for v in dataset["data"])
    assert shown == sum(claims) + Decimal("70.000001") and first_claim == Decimal("170.500001")

    page = client.get(
        f"/api/v1/monitoring-reports/{report.id}/site-emission-reductions?page=2&page_size=20",
        headers=api_headers_for(world.coordinator),
    )
    assert page.status_code == 200
    assert len(page.get_json()) == 20 and '"total": 55' in page.headers["X-Pagination"]
    assert all(isinstance(row["emission_reductions_tco2e"], str) for row in page.get_json())

    assert (
        login_as(world.outsider).get(f"/monitoring-reports/{report.id}/sites-chart.json").status_code == 404
    )
    denied = client.get(
        f"/api/v1/monitoring-reports/{report.id}/site-emission-reductions",
        headers=api_headers_for(world.outsider),
    )
    assert denied.status_code == 404


def test_periods_stack_by_vintage_and_equal_their_lines(world, registered, login_as, api_headers_for, client):
    first = submitted_request(registered, world.coordinator, [Decimal("100.5"), Decimal("20.25")]).report
    second = submitted_request(registered, world.coordinator, [Decimal("7.125")]).report
    db.session.add(
        MonitoringLine(
            report_id=second.id,
            site_id=second.lines[0].site_id,
            site_reference=second.lines[0].site_reference,
            window_start=date(2026, 1, 1),
            window_end=date(2026, 1, 31),
            vintage=2026,
            window_from=0,
            window_until=1,
            emission_reductions_tco2e=Decimal("3"),
        )
    )
    db.session.flush()
    config = chart_json(login_as(world.verifier), f"/programmes/{registered.id}/monitoring/er-chart.json")
    assert config["data"]["labels"][0].startswith(first.label) and config["data"]["labels"][1].startswith(
        second.label
    )
    assert [(d["label"], d["data"]) for d in config["data"]["datasets"]] == [
        ("2025", ["120.75", "7.125"]),
        ("2026", ["0", "3"]),
    ]
    assert config["options"]["scales"]["x"]["stacked"] is True

    api = client.get(
        f"/api/v1/programmes/{registered.id}/emission-reductions-by-period",
        headers=api_headers_for(world.coordinator),
    ).get_json()
    assert [(p["label"], p["total_tco2e"]) for p in api] == [
        (first.label, "120.75"),
        (second.label, "10.125"),
    ]
    assert api[1]["vintages"] == [
        {"vintage": 2025, "emission_reductions_tco2e": "7.125"},
        {"vintage": 2026, "emission_reductions_tco2e": "3"},
    ]
    assert (
        login_as(world.outsider).get(f"/programmes/{registered.id}/monitoring/er-chart.json").status_code
        == 404
    )


def test_report_and_programme_pages_carry_their_charts(world, registered, login_as):
    report = submitted_request(registered, world.coordinator, [Decimal(1)]).report
    client = login_as(world.coordinator)
    assert 'data-testid="report-sites-chart"' in client.get(f"/monitoring-reports/{report.id}").get_data(
        as_text=True
    )
    page = client.get(f"/programmes/{registered.id}/monitoring").get_data(as_text=True)
    assert f'data-chart-src="/programmes/{registered.id}/monitoring/er-chart.json"' in page
