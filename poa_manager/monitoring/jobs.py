"""The entry point that runs an upload's check-and-write, from the worker, the CLI or a request.

Like a view, it owns the transaction: it commits once the readings are written (or the upload is
marked rejected), and on any failure rolls everything back and records the failure in a fresh
transaction, so a broken job leaves no half-written readings (quality.md: nothing is lost).
"""

import logging
from collections.abc import Callable
from pathlib import Path

from poa_manager.database import db
from poa_manager.monitoring import services
from poa_manager.monitoring.models import ReadingUpload, UploadStatus

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int | None], None]


def run_upload(upload_id: int, *, folder: Path, progress: Progress | None = None) -> ReadingUpload:
    upload = db.session.get(ReadingUpload, upload_id)
    if upload is None:
        raise LookupError(f"No upload {upload_id}")
    if upload.status is not UploadStatus.queued:
        return upload  # already done: a re-delivered job must not run twice
    try:
        services.start_upload(upload)
        db.session.commit()  # "processing" is visible to the page while the job runs
        services.ingest_upload(upload, folder=folder, progress=progress)
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        upload = db.session.get(ReadingUpload, upload_id)
        services.fail_upload(upload, f"{type(error).__name__}: {error}")
        db.session.commit()
        raise
    return upload


def dispatch_upload(upload: ReadingUpload, *, folder: Path, inline_max_bytes: int) -> ReadingUpload:
    """Check a small upload now, so the sender sees the result at once; queue a large one.

    The upload row must be committed first: the worker reads it from its own connection.
    """
    if upload.status is not UploadStatus.queued:
        return upload  # a re-sent batch: the first delivery's outcome stands
    if upload.byte_size <= inline_max_bytes:
        try:
            return run_upload(upload.id, folder=folder)
        except Exception:
            logger.exception("upload %s failed", upload.id)
            return db.session.get(ReadingUpload, upload.id)
    from poa_manager import tasks

    tasks.enqueue_upload(upload.id)
    db.session.expire(upload)
    return upload
