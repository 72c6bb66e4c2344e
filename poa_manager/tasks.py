"""The task queue: huey, with SQLite storage by default and Redis when POA_TASK_QUEUE_URL says so.

huey is a maintained, small queue whose SQLite storage needs no server, so `make run` works on a
fresh machine; production points it at Redis (docs/decisions.md). The worker is
`flask poa worker` (or `huey_consumer poa_manager.tasks.huey`).

The queue is configured from the environment when this module is imported, because the worker
imports it before any Flask app exists.
"""

import os
import threading
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey, crontab

from poa_manager.config import INSTANCE_PATH

PROGRESS_KEY = "upload-progress:{}"


def _make_queue() -> Huey:
    url = os.environ.get("POA_TASK_QUEUE_URL", "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("poa_manager", url=url)
    filename = (
        url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///")
        else str(INSTANCE_PATH / "tasks.sqlite3")
    )
    Path(filename).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("poa_manager", filename=filename)


huey = _make_queue()
_worker_app: Flask | None = None
# A worker runs jobs on several threads; two periodic jobs starting together must not both build
# (and half-register) an app, so the first build happens under a lock.
_worker_app_lock = threading.Lock()


def _app() -> Flask:
    """The app to run a job in: the caller's (immediate mode, CLI) or one per worker process."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    with _worker_app_lock:
        if _worker_app is None:
            from poa_manager import create_app

            _worker_app = create_app()
    return _worker_app


@huey.task(retries=0)
def process_upload(upload_id: int) -> str:
    """Check and write one readings upload; returns its final status."""
    from poa_manager.monitoring import jobs

    app = _app()
    folder = Path(app.config["READINGS_UPLOAD_FOLDER"])

    def report(phase: str, done: int, total: int | None) -> None:
        put_progress(upload_id, phase, done, total)

    def run() -> str:
        return jobs.run_upload(upload_id, folder=folder, progress=report).status.value

    try:
        if has_app_context():  # immediate mode, inside the request or command that queued it
            return run()
        with app.app_context():
            return run()
    finally:
        put_progress(upload_id, "done", 1, 1)


@huey.periodic_task(crontab(minute="*/5"), name="monitoring.recover_uploads")
def recover_uploads() -> list[int]:
    """Re-queue uploads whose worker died mid-job (monitoring.jobs.recover_stale_uploads)."""
    from poa_manager.monitoring import jobs

    with _app().app_context():
        return jobs.recover_stale_uploads()


def put_progress(upload_id: int, phase: str, done: int, total: int | None) -> None:
    huey.put(PROGRESS_KEY.format(upload_id), {"phase": phase, "done": done, "total": total})


def progress_of(upload_id: int) -> dict | None:
    """The running job's last report ({phase, done, total}); None before it starts or after."""
    return huey.get(PROGRESS_KEY.format(upload_id), peek=True)


def enqueue_upload(upload_id: int) -> None:
    process_upload(upload_id)
