"""The entry point that runs an upload's check-and-write, from the worker, the CLI or a request.

Like a view, it owns the transaction: it commits once the readings are written (or the upload is
marked rejected), and on any failure rolls everything back and records the failure in a fresh
transaction, so a broken job leaves no half-written readings (quality.md: nothing is lost).
"""

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.exc import IntegrityError

from poa_manager.database import begin_writing, db, utcnow
from poa_manager.monitoring import services
from poa_manager.monitoring.models import ReadingUpload, UploadStatus
from poa_manager.monitoring.services.readings import requeue_stale_uploads

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int | None], None]
# An upload "processing" for longer than this has lost its worker. Far above the longest import
# measured (a year of quarter-hours for 10,000 sites, docs/performance.md), so a live job is left alone.
STALE_AFTER = timedelta(minutes=60)


def run_upload(upload_id: int, *, folder: Path, progress: Progress | None = None) -> ReadingUpload:
    begin_writing()
    upload = db.session.get(ReadingUpload, upload_id)
    if upload is None:
        raise LookupError(f"No upload {upload_id}")
    if upload.status is not UploadStatus.queued:
        return upload  # already done: a re-delivered job must not run twice
    try:
        services.start_upload(upload)
        db.session.commit()  # "processing" is visible to the page while the job runs
        begin_writing()
        upload = db.session.get(ReadingUpload, upload_id)
        services.ingest_upload(upload, folder=folder, progress=progress)
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        begin_writing()
        upload = db.session.get(ReadingUpload, upload_id)
        services.fail_upload(upload, _reason(error))
        db.session.commit()
        raise
    return upload


def recover_stale_uploads(*, older_than: timedelta = STALE_AFTER, now: datetime | None = None) -> list[int]:
    """Put uploads whose worker died mid-job back on the queue; returns their ids.

    Run when a worker starts, every few minutes by the worker, and by `flask poa recover-uploads`.
    `older_than` must exceed the longest real import, or a live job would be queued a second time.
    """
    begin_writing()
    stale = requeue_stale_uploads(started_before=(now or utcnow()) - older_than)
    ids = [upload.id for upload in stale]
    db.session.commit()  # queued first: the worker reads the row from its own connection
    if ids:
        from poa_manager import tasks

        for upload_id in ids:
            tasks.enqueue_upload(upload_id)
        logger.warning("re-queued uploads left processing by a stopped worker: %s", ids)
    return ids


def dispatch_upload(upload: ReadingUpload, *, folder: Path, inline_max_bytes: int) -> ReadingUpload:
    """Check a small upload now, so the sender sees the result at once; queue a large one.

    The upload row must be committed first: the worker reads it from its own connection.
    """
    if upload.status is not UploadStatus.queued:
        return upload  # a re-sent batch: the first delivery's outcome stands
    if upload.byte_size <= inline_max_bytes:
        # Reading the committed upload above began a reader's transaction; on SQLite it could not
        # become a writer once another request commits ("database is locked" at once: the load
        # test's concurrent readings pushes). End it, so run_upload begins as a writer (and read
        # the id first: after the commit, reading it would begin another reader's transaction).
        upload_id = upload.id
        db.session.commit()
        try:
            return run_upload(upload_id, folder=folder)
        except Exception:
            logger.exception("upload %s failed", upload.id)
            return db.session.get(ReadingUpload, upload.id)
    from poa_manager import tasks

    tasks.enqueue_upload(upload.id)
    db.session.expire(upload)
    return upload


def _reason(error: Exception) -> str:
    # The bulk paths raise the driver's own error (COPY, executemany), the ORM SQLAlchemy's.
    if isinstance(error, IntegrityError | psycopg.IntegrityError | sqlite3.IntegrityError):
        # The readings' key refused a row another import wrote after this one was checked.
        return (
            "Another upload stored some of these readings at the same time; nothing from this file "
            "was stored. Send it again: the readings already stored are skipped."
        )
    return f"{type(error).__name__}: {error}"
