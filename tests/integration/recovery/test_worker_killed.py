"""Failure and recovery (issue 8): a real task worker is killed (SIGKILL) in the middle of writing a
large readings upload. Nothing of the upload is visible afterwards, the upload is left
"processing", `flask poa recover-uploads` puts it back on the queue, and a new worker then stores
every row exactly once. Runs on the engine under test (a scratch SQLite file, or a scratch
PostgreSQL database when POA_TEST_DATABASE_URL is set)."""

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from huey import SqliteHuey

from poa_manager import create_app, tasks
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.monitoring import services as monitoring_services
from poa_manager.sites.models import Meter, MeterRole, MeterUnit, ReadingType, SiteStatus
from tests.databases import fresh_database
from tests.factories import OrganisationFactory, SiteFactory, UserFactory, registered_programme

ROOT = Path(__file__).resolve().parents[3]
FLASK = str(Path(sys.executable).with_name("flask"))
SITES = 16
QUARTER_HOURS = 96 * 120  # 120 days of quarter-hours per meter: 184,320 rows, written in 4 batches
START = datetime(2025, 1, 1, tzinfo=UTC)


def _readings_csv() -> bytes:
    lines = ["site_ref,meter_serial,reading_start,reading_end,value"]
    stamps = [
        (START + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ") for q in range(QUARTER_HOURS + 1)
    ]
    for n in range(1, SITES + 1):
        prefix = f"KILL-{n:03d},KM-{n:03d},"
        lines.extend(f"{prefix}{stamps[q]},{stamps[q + 1]},12.5" for q in range(QUARTER_HOURS))
    return ("\n".join(lines) + "\n").encode()


def _seed(folder: Path) -> tuple[int, int]:
    """A registered programme with crediting sites and meters, and one received upload (queued)."""
    coordinator = UserFactory(organisation=OrganisationFactory())
    verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
    registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
    programme = registered_programme(coordinator, verifier, registry, title="Recovery")
    for n in range(1, SITES + 1):
        site = SiteFactory(
            programme=programme,
            reference=f"KILL-{n:03d}",
            status=SiteStatus.crediting,
            capacity_kw=Decimal(1000),
            technology="solar_pv",
            included_on=date(2025, 1, 1),
            crediting_start=date(2025, 1, 1),
        )
        site.meters.append(
            Meter(
                serial=f"KM-{n:03d}",
                role=MeterRole.export,
                accuracy_class="0.2S",
                calibrated_on=date(2024, 12, 1),
                calibration_valid_until=date(2029, 12, 1),
                unit=MeterUnit.kWh,
                multiplier=Decimal(1),
                reading_type=ReadingType.interval,
            )
        )
    db.session.flush()
    upload, _new = monitoring_services.receive_readings(
        programme, actor=coordinator, filename="year.csv", stream=io.BytesIO(_readings_csv()), folder=folder
    )
    db.session.commit()
    return upload.id, SITES * QUARTER_HOURS


def _state(engine: sa.Engine, upload_id: int) -> dict:
    with engine.connect() as connection:
        status, rows_written = connection.execute(
            sa.text("SELECT status, rows_written FROM reading_uploads WHERE id = :id"), {"id": upload_id}
        ).one()
        return {
            "status": status,
            "rows_written": rows_written,
            "readings": connection.scalar(sa.text("SELECT count(*) FROM readings")),
            "of_upload": connection.scalar(
                sa.text("SELECT count(*) FROM readings WHERE upload_id = :id"), {"id": upload_id}
            ),
            "distinct": connection.scalar(
                sa.text("SELECT count(*) FROM (SELECT DISTINCT meter_id, reading_end FROM readings) AS d")
            ),
            "status_rows": connection.scalar(
                sa.text("SELECT coalesce(sum(reading_count), 0) FROM meter_reading_status")
            ),
            "requeued": connection.scalar(
                sa.text("SELECT count(*) FROM audit_entries WHERE action = 'readings.upload_requeued'")
            ),
        }


def _wait(condition, *, seconds: float, what: str, worker: subprocess.Popen | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) while waiting for {what}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_killed_mid_write_leaves_nothing_and_the_upload_runs_again_once(tmp_path, figures):
    folder, queue_file = tmp_path / "uploads", tmp_path / "tasks.sqlite3"
    with fresh_database(tmp_path) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, READINGS_UPLOAD_FOLDER=str(folder))
        with app.app_context():
            flask_migrate.upgrade()
            upload_id, total = _seed(folder)
            # The session's connection first: dispose() closes only the connections in the pool,
            # and one still checked out would be dropped later without being closed.
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("POA_")},
            "FLASK_APP": "poa_manager",
            "POA_ENV": "development",
            "POA_DATABASE_URL": url,
            "POA_TASK_QUEUE_URL": f"sqlite:///{queue_file}",
            "POA_READINGS_UPLOAD_FOLDER": str(folder),
            "POA_SECRET_KEY": "recovery-test-" + "k" * 32,
        }
        queue = SqliteHuey("poa_manager", filename=str(queue_file))
        engine = sa.create_engine(url)
        logs = tmp_path / "worker.log"
        try:
            # The web app queues a large upload; here a process with the same settings does it.
            subprocess.run(
                [sys.executable, "-c", f"from poa_manager import tasks; tasks.enqueue_upload({upload_id})"],
                env=env,
                cwd=ROOT,
                check=True,
                timeout=60,
            )
            with open(logs, "ab") as log:
                worker = subprocess.Popen(
                    [FLASK, "poa", "worker", "--workers", "1"], env=env, cwd=ROOT, stdout=log, stderr=log
                )
            try:
                progress = _wait(
                    lambda: (
                        (p := queue.get(tasks.PROGRESS_KEY.format(upload_id), peek=True))
                        and p["phase"] == "writing"
                        and p["done"] > 0
                        and p
                    ),
                    seconds=180,
                    what="the job to start writing",
                    worker=worker,
                )
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=20)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            killed = _state(engine, upload_id)
            percent = 100 * progress["done"] / total
            assert killed["status"] == "processing", killed
            assert (killed["readings"], killed["of_upload"], killed["status_rows"]) == (0, 0, 0), (
                f"worker killed at {percent:.0f} % of {total} rows: half-written rows {killed}"
            )

            recovered = subprocess.run(
                [FLASK, "poa", "recover-uploads", "--older-than-minutes", "0"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert recovered.returncode == 0, recovered.stderr
            assert f"1 uploads re-queued: {upload_id}." in recovered.stdout, recovered.stdout

            started = time.monotonic()
            with open(logs, "ab") as log:
                worker = subprocess.Popen(
                    [FLASK, "poa", "worker", "--workers", "1"], env=env, cwd=ROOT, stdout=log, stderr=log
                )
            try:
                final = _wait(
                    lambda: (s := _state(engine, upload_id))["status"] not in ("queued", "processing") and s,
                    seconds=300,
                    what="the re-queued upload to finish",
                    worker=worker,
                )
            finally:
                _stop(worker)
            line = (
                f"worker killed at {percent:.0f} % of {total} rows ({progress['done']} sent to the "
                f"database): 0 half-written rows; after `flask poa recover-uploads` and a new worker: "
                f"{final['status']}, "
                f"{final['of_upload']} rows stored once in {time.monotonic() - started:.1f} s"
            )
            assert final["status"] == "accepted", (line, logs.read_text()[-3000:])
            assert (
                final["of_upload"] == final["readings"] == final["distinct"] == final["rows_written"] == total
            ), line
            assert final["status_rows"] == total and final["requeued"] == 1, final
            print(line)
            figures.append(line)
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
