"""Failure and recovery (issue 8): the database connection drops in the middle of a write request
(a site import through the API, a few hundred statements in one transaction). On PostgreSQL the
request's backend is terminated (pg_terminate_backend from another connection) at statement k of
n; on SQLite the driver raises the OperationalError a failing disk gives. The request answers 500,
the database holds nothing of it, and the app serves the next request (pool_pre_ping replaces the
dead connection). Runs on a scratch database of the engine under test."""

import io
import sqlite3

import flask_migrate
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.accounts import services as account_services
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db, utcnow
from poa_manager.sites import importer
from tests.databases import fresh_database
from tests.factories import OrganisationFactory, UserFactory, registered_programme

SITES = 20


def _sites_csv(prefix: str) -> bytes:
    lines = [",".join(importer.TEMPLATE_COLUMNS)]
    for n in range(SITES):
        cells = {
            "reference": f"{prefix}-{n:03d}",
            "name": f"Rooftop {prefix} {n}",
            "latitude": f"{10.6 + n * 0.01:.2f}",
            "longitude": f"{106.6 + (ord(prefix[0]) - 64) * 0.03:.2f}",
            "area_code": "VN-57",
            "technology": "solar_pv",
            "capacity_kw": "850",
            "commissioned_on": "2025-03-01",
            "equipment_serials": f"INV-{prefix}-{n:03d}",
            "documents": "cpa_dd",
            "financial_support_declared": "no",
            "meter_1_serial": f"MTR-{prefix}-{n:03d}",
            "meter_1_role": "generation",
            "meter_1_accuracy_class": "0.5S",
            "meter_1_calibrated_on": "2025-02-01",
            "meter_1_calibration_valid_until": "2030-02-01",
        }
        lines.append(",".join(cells.get(name, "") for name in importer.TEMPLATE_COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def _counts() -> tuple[int, ...]:
    with db.engine.connect() as connection:
        return tuple(
            connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # fixed table names
            for table in ("sites", "meters", "eligibility_checks", "identifier_claims", "audit_entries")
        )


def test_a_connection_dropped_mid_request_leaves_nothing_and_the_next_request_is_served(tmp_path, figures):
    with fresh_database(tmp_path) as url:
        # PROPAGATE_EXCEPTIONS off: the request answers as in production, not with the test's traceback.
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, PROPAGATE_EXCEPTIONS=False)
        with app.app_context():
            flask_migrate.upgrade()
            coordinator = UserFactory(organisation=OrganisationFactory())
            verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            programme = registered_programme(coordinator, verifier, registry, title="Dropped")
            _token, plain = account_services.create_api_token(
                actor=coordinator, name="drop", expires_in_days=1, now=utcnow()
            )
            db.session.commit()
            programme_id, headers = programme.id, {"Authorization": f"Bearer {plain}"}
            engine = db.engine
            postgresql = engine.dialect.name == "postgresql"
            admin = sa.create_engine(url, isolation_level="AUTOCOMMIT") if postgresql else None
            state = {"count": 0, "kill_at": None, "killed": False}

            def statement(connection, cursor, sql, parameters, context, executemany):
                state["count"] += 1
                if state["count"] != state["kill_at"]:
                    return
                state["killed"] = True
                if postgresql:
                    pid = connection.connection.dbapi_connection.info.backend_pid
                    with admin.connect() as other:
                        # PostgreSQL 14+: wait up to 5 s until the backend is gone.
                        assert other.scalar(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
                else:
                    raise sqlite3.OperationalError("disk I/O error (injected by the test)")

            sa.event.listen(engine, "before_cursor_execute", statement)
            client = app.test_client()

            def post(data: bytes):
                state["count"] = 0
                return client.post(
                    f"/api/v1/programmes/{programme_id}/site-imports",
                    data={"file": (io.BytesIO(data), "sites.csv"), "check_on": "2026-11-01"},
                    content_type="multipart/form-data",
                    headers=headers,
                )

            try:
                # One clean import measures n, the statements such a request runs.
                first = post(_sites_csv("A"))
                assert first.status_code == 201, first.json
                statements = state["count"]
                before = _counts()

                state["kill_at"] = statements // 2
                dropped = post(_sites_csv("B"))
                assert state["killed"]
                assert dropped.status_code == 500, (dropped.status_code, dropped.data[:500])
                after = _counts()
                state["kill_at"] = None

                again = post(_sites_csv("B"))  # the same file: nothing of the dropped one is in the way
                assert again.status_code == 201, again.json
                assert again.json["imported"] == SITES
                left = tuple(a - b for a, b in zip(after, before, strict=True))
                line = (
                    f"{engine.dialect.name}: connection dropped at statement {statements // 2} of "
                    f"{statements} "
                    f"(a {SITES}-site import): {sum(left)} rows left (sites, meters, checks, claims, audit); "
                    f"answered {dropped.status_code}; the next request answered {again.status_code}"
                )
                assert after == before, line
                assert _counts()[0] == before[0] + SITES, line
                print(line)
                figures.append(line)
            finally:
                sa.event.remove(engine, "before_cursor_execute", statement)
                if admin is not None:
                    admin.dispose()
                db.session.remove()
                for each in db.engines.values():
                    each.dispose()
