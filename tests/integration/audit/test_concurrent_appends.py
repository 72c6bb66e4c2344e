"""Concurrent requests append to one unbroken chain: the head row serialises them (T2)."""

import threading

import flask_migrate
import pytest
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.audit import services as audit
from poa_manager.audit.models import AuditEntry
from poa_manager.database import db
from tests.databases import fresh_database

THREADS = 8
APPENDS_PER_THREAD = 15


@pytest.mark.postgres
def test_concurrent_appends_never_fork_the_chain(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=url,
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS, "max_overflow": 0},
        )
        with app.app_context():
            flask_migrate.upgrade()
        start = threading.Barrier(THREADS)
        failures: list[BaseException] = []

        def append(worker: int) -> None:
            try:
                with app.app_context():
                    start.wait()
                    for i in range(APPENDS_PER_THREAD):
                        audit.record(
                            "test.concurrent",
                            actor=None,
                            entity_type="worker",
                            entity_id=worker,
                            data={"i": i},
                        )
                        db.session.commit()  # one transaction per append, like one per request
            except BaseException as error:  # reported below, with the thread's own traceback
                failures.append(error)

        threads = [threading.Thread(target=append, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        with app.app_context():
            seqs = list(db.session.scalars(sa.select(AuditEntry.seq).order_by(AuditEntry.seq)))
            report = audit.verify_chain()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    assert failures == []
    assert seqs == list(range(1, THREADS * APPENDS_PER_THREAD + 1))
    assert report.intact
    print(f"{THREADS} threads x {APPENDS_PER_THREAD} appends: {len(seqs)} rows, chain intact")
