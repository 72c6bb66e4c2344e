"""A chart drawn in a real browser under the strict CSP: the demo meter's energy per day."""

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from poa_manager.accounts.models import User
from poa_manager.database import db
from poa_manager.demo import DEMO_PASSWORD
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import MeterReadingStatus
from poa_manager.sites.models import Site

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"  # kept by CI


def meter_with_readings(live, folder: Path) -> int:
    """A demo meter with readings; when the demo was seeded without its readings, a fortnight of
    daily ones for CPA-0001, sent through the real import path as the coordinator."""
    with live.app.app_context():
        meter_id = db.session.scalar(
            sa.select(MeterReadingStatus.meter_id).order_by(MeterReadingStatus.meter_id)
        )
        if meter_id is None:
            coordinator = db.session.scalar(
                sa.select(User).where(User.email == "coordinator@demo.example.org")
            )
            site = db.session.scalar(sa.select(Site).where(Site.reference == "CPA-0001").order_by(Site.id))
            meter = site.meters[0]
            rows = ["site_ref,meter_serial,reading_start,reading_end,value"]
            for n in range(14):
                day = date(2025, 9, 1) + timedelta(days=n)
                if n in (5, 6):
                    continue  # a gap the chart shows
                end = day + timedelta(days=1)
                rows.append(f"{site.reference},{meter.serial},{day}T00:00:00,{end}T00:00:00,{4200 + 37 * n}")
            upload, _new = monitoring_services.receive_readings(
                site.programme,
                actor=coordinator,
                filename="e2e-charts.csv",
                stream=io.BytesIO(("\n".join(rows) + "\n").encode()),
                folder=folder,
                site=site,
            )
            monitoring_services.start_upload(upload)
            assert monitoring_services.ingest_upload(upload, folder=folder).accepted, upload.errors
            db.session.commit()
            meter_id = meter.id
        db.session.remove()
    return meter_id


def test_the_meter_page_draws_its_energy_chart(page: Page, live):
    meter_id = meter_with_readings(live, Path(live.app.config["READINGS_UPLOAD_FOLDER"]))
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill("coordinator@demo.example.org")
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()

    page.goto(f"/meters/{meter_id}")
    canvas = page.locator('[data-testid="meter-readings-chart"] canvas')
    expect(canvas).to_have_attribute("data-chart-ready", "yes", timeout=15_000)
    box = canvas.bounding_box()
    assert box is not None and box["height"] > 250  # the .chart-normal box (320 px) sets it
    assert not [e for e in errors if "Content Security Policy" in e], errors
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator('[data-testid="meter-readings-chart"]').screenshot(path=SCREENSHOTS / "charts-meter.png")
