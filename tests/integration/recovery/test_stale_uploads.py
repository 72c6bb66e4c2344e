"""The stale-upload sweep re-queues only uploads whose worker has been gone longer than the
threshold: a live job, however long, is never queued a second time."""

import io
from datetime import timedelta

import sqlalchemy as sa

from poa_manager import tasks
from poa_manager.audit.models import AuditEntry
from poa_manager.database import db as _db
from poa_manager.database import utcnow
from poa_manager.monitoring import jobs
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import Reading, UploadStatus

CSV = (
    "site_ref,meter_serial,reading_start,reading_end,value\n"
    "CPA-0001,EXP-0001,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,12.5\n"
    "CPA-0001,EXP-0001,2025-03-01T01:00:00Z,2025-03-01T02:00:00Z,13.5\n"
)


def test_only_uploads_processing_past_the_threshold_are_requeued_and_then_run_once(
    app, make_crediting_site, world, tmp_path, monkeypatch
):
    make_crediting_site(1)
    uploads = []
    for started_minutes_ago in (90, 10):  # a dead worker's upload, and a live one
        upload, _ = monitoring_services.receive_readings(
            world.programme,
            actor=world.coordinator,
            filename=f"{started_minutes_ago}.csv",
            stream=io.BytesIO(CSV.replace("12.5", str(started_minutes_ago)).encode()),
            folder=tmp_path,
        )
        monitoring_services.start_upload(upload, now=utcnow() - timedelta(minutes=started_minutes_ago))
        uploads.append(upload)
    _db.session.flush()
    stale, live = uploads
    monkeypatch.setattr(tasks.huey, "immediate", True)  # the re-queued job runs at once, here
    monkeypatch.setitem(app.config, "READINGS_UPLOAD_FOLDER", str(tmp_path))

    requeued = jobs.recover_stale_uploads()  # the default threshold: an hour

    assert requeued == [stale.id]
    _db.session.refresh(stale)
    _db.session.refresh(live)
    assert (stale.status, live.status) == (UploadStatus.accepted, UploadStatus.processing)
    assert _db.session.scalar(sa.select(sa.func.count()).where(Reading.upload_id == stale.id)) == 2
    assert _db.session.scalar(sa.select(sa.func.count()).where(Reading.upload_id == live.id)) == 0
    assert (
        _db.session.scalar(
            sa.select(sa.func.count()).where(
                AuditEntry.action == "readings.upload_requeued", AuditEntry.entity_id == str(stale.id)
            )
        )
        == 1
    )
    assert jobs.recover_stale_uploads() == []  # nothing left to recover
