"""meter_reading_status follows every write: imports add to it, corrections recompute it."""

import io
from datetime import timedelta

import sqlalchemy as sa

from poa_manager.database import db as _db
from poa_manager.monitoring.models import MeterReadingStatus, Reading, ReadingUpload, UploadStatus
from tests.integration.monitoring.test_readings import JANUARY, csv_file, quarter_hours


def aggregate(meter_id: int) -> tuple:
    """The figures straight from the readings: current versions only (the migration's back-fill)."""
    return tuple(
        _db.session.execute(
            sa.text(
                """
                SELECT MIN(r.reading_end), MAX(r.reading_end), COUNT(*),
                       SUM(CASE WHEN r.flags <> 0 THEN 1 ELSE 0 END)
                FROM readings r
                WHERE r.meter_id = :meter AND r.version = (
                    SELECT MAX(v.version) FROM readings v
                    WHERE v.meter_id = r.meter_id AND v.reading_end = r.reading_end)
                """
            ),
            {"meter": meter_id},
        ).one()
    )


def status(meter_id: int) -> tuple:
    row = _db.session.get(MeterReadingStatus, meter_id)
    _db.session.refresh(row)
    return (row.first_reading_end, row.last_reading_end, row.reading_count, row.flagged_count)


def upload(client, site, rows, name):
    response = client.post(
        f"/sites/{site.id}/readings",
        data={"file": (io.BytesIO(csv_file(rows)), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    latest = _db.session.scalars(sa.select(ReadingUpload).order_by(ReadingUpload.id.desc())).first()
    assert latest.status is UploadStatus.accepted, latest.errors


def test_imports_and_a_correction_keep_the_status_equal_to_the_readings(
    make_crediting_site, operator_of, login_as
):
    site = make_crediting_site(3)
    meter = site.meters[0]
    client = login_as(operator_of(site))
    assert _db.session.get(MeterReadingStatus, meter.id) is None

    upload(client, site, quarter_hours(site.reference, meter.serial, JANUARY, 96), "day1.csv")
    first_end = int((JANUARY + timedelta(minutes=15)).timestamp())
    assert status(meter.id) == aggregate(meter.id) == (first_end, first_end + 95 * 900, 96, 0)

    # A second file, the next two days: added to the row, not recomputed.
    upload(
        client, site, quarter_hours(site.reference, meter.serial, JANUARY + timedelta(days=1), 192), "d2.csv"
    )
    assert status(meter.id) == aggregate(meter.id)
    assert status(meter.id)[2] == 288 and status(meter.id)[1] == first_end + 287 * 900

    # A re-sent file stores nothing and changes nothing.
    upload(client, site, quarter_hours(site.reference, meter.serial, JANUARY, 96), "day1-again.csv")
    assert status(meter.id)[2] == 288

    # A correction supersedes: still 288 current readings, the row recomputed from the readings.
    original = _db.session.scalars(
        sa.select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.reading_end.desc())
    ).first()
    url = f"/meters/{meter.id}/readings/{original.reading_end}/1"
    assert client.post(url, data={"value": "10", "reason": "Invoice"}).status_code == 302
    assert (
        _db.session.scalar(
            sa.select(sa.func.count()).select_from(Reading).where(Reading.meter_id == meter.id)
        )
        == 289
    )
    assert status(meter.id) == aggregate(meter.id)
    assert status(meter.id)[2] == 288
