"""Two imports of the same readings at the same moment, on a real database: stored once, never twice."""

import io
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import flask_migrate
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.monitoring import jobs
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import Reading, ReadingUpload, UploadStatus
from poa_manager.sites.models import Meter, MeterRole, SiteStatus
from tests.databases import fresh_database
from tests.factories import OrganisationFactory, SiteFactory, UserFactory, registered_programme

ROUNDS = 3
ROWS = 2_000


def _file(site_ref: str, serial: str, first: datetime) -> bytes:
    lines = ["site_ref,meter_serial,reading_start,reading_end,value"]
    for i in range(ROWS):
        start = first + timedelta(minutes=15 * i)
        lines.append(
            f"{site_ref},{serial},{start.isoformat()},{(start + timedelta(minutes=15)).isoformat()},7.5"
        )
    return ("\n".join(lines) + "\n").encode()


def test_the_same_readings_imported_twice_at_once_are_stored_once(tmp_path):
    outcomes = []
    with fresh_database(tmp_path) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, READINGS_UPLOAD_FOLDER=str(tmp_path / "up"))
        with app.app_context():
            flask_migrate.upgrade()
            coordinator = UserFactory(organisation=OrganisationFactory())
            verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            programme = registered_programme(coordinator, verifier, registry, title="Race")
            site = SiteFactory(
                programme=programme,
                status=SiteStatus.crediting,
                capacity_kw=Decimal(1000),
                crediting_start=date(2025, 1, 1),
            )
            site.meters.append(Meter(serial="RACE-1", role=MeterRole.export))
            db.session.commit()
            rounds = []
            for n in range(ROUNDS):
                data = _file(site.reference, "RACE-1", datetime(2025, 2 + n, 1, tzinfo=UTC))
                pair = []
                for _ in range(2):
                    upload, _new = monitoring_services.receive_readings(
                        programme,
                        actor=coordinator,
                        filename="race.csv",
                        stream=io.BytesIO(data),
                        folder=tmp_path,
                    )
                    pair.append(upload.id)
                rounds.append(pair)
            db.session.commit()

        def run(upload_id: int, start: threading.Barrier) -> None:
            with app.app_context():
                start.wait()
                try:
                    upload = jobs.run_upload(upload_id, folder=tmp_path)
                    outcomes.append((upload.status.value, upload.rows_written, upload.rows_already_stored))
                except Exception:  # noqa: BLE001 - the job records its own failure; we read it below
                    db.session.rollback()
                    failed = db.session.get(ReadingUpload, upload_id)
                    outcomes.append((failed.status.value, failed.failure))
                finally:
                    db.session.remove()

        for pair in rounds:
            start = threading.Barrier(2)
            threads = [threading.Thread(target=run, args=(upload_id, start)) for upload_id in pair]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Reading))
            statuses = db.session.scalars(sa.select(ReadingUpload.status)).all()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    print(f"{ROUNDS} races of 2 identical imports of {ROWS} readings: {outcomes}")
    assert stored == ROUNDS * ROWS  # never twice
    assert UploadStatus.queued not in statuses and UploadStatus.processing not in statuses
    written = [outcome for outcome in outcomes if outcome[0] == "accepted" and outcome[1] == ROWS]
    assert len(written) == ROUNDS  # exactly one import of each pair wrote the readings
    for outcome in outcomes:
        if outcome not in written:
            # The other one saw them stored, or lost the race on the key and says so.
            assert outcome == ("accepted", 0, ROWS) or outcome[0] == "failed", outcome
