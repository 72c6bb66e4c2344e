"""A 15-minute meter with a year of readings (35,040 rows): the daily chart is one grouped range
scan of the readings' primary key, fast on both engines, with or without corrections."""

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from poa_manager.database import db
from poa_manager.monitoring import services

VN = timedelta(hours=7)


def test_a_year_of_quarter_hours_charts_in_well_under_a_second(world, monitored, make_crediting_site, send):
    site = make_crediting_site(1)
    midnight = datetime(2025, 1, 1, tzinfo=UTC) - VN
    rows = []
    for i in range(365 * 96):
        start = midnight + timedelta(minutes=15 * i)
        rows.append(
            f"CPA-0001,EXP-0001,{start.isoformat()},{(start + timedelta(minutes=15)).isoformat()},0.25"
        )
    send(monitored, rows)
    meter = site.meters[0]

    def timed() -> tuple[float, services.MeterDailyEnergy]:
        began = time.perf_counter()
        series = services.meter_daily_energy(meter.id, actor=world.coordinator)
        return time.perf_counter() - began, series

    timed()  # warm the page cache and the statement cache
    seconds, series = timed()
    assert len(series.days) == 365 and series.days[0].day == date(2025, 1, 1)
    assert {d.energy_kwh for d in series.days} == {Decimal(24)}  # 96 × 0.25 kWh every day
    assert sum(d.readings for d in series.days) == 35_040

    first = db.session.scalars(services.list_readings(site, actor=world.coordinator, meter=meter)).first()
    services.correct_reading(first, actor=world.coordinator, value=Decimal("1.25"), reason="Checked on site")
    corrected_seconds, corrected = timed()
    assert corrected.days[-1].energy_kwh == Decimal(25) and corrected.days[-1].readings == 96
    ms, corrected_ms = seconds * 1000, corrected_seconds * 1000
    print(f"daily chart of 35,040 readings: {ms:.0f} ms; with a correction: {corrected_ms:.0f} ms")
    assert seconds < 1.0 and corrected_seconds < 1.0
