"""Bulk site upload: the project's path (parse, validate, create, audit, check) next to a raw insert.

Run: `make bench` (SQLite) or `POA_BENCH_DATABASE_URL=postgresql://… make bench`. Prints rows/s for
each stage and the ratio to the engine's raw `executemany` of the same site rows.
"""

import csv
import io
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from poa_manager import create_app  # noqa: E402
from poa_manager.accounts.roles import OrganisationKind  # noqa: E402
from poa_manager.database import db, utcnow  # noqa: E402
from poa_manager.programmes.rules import InclusionRoute  # noqa: E402
from poa_manager.sites import importer  # noqa: E402
from poa_manager.sites import services as site_services  # noqa: E402
from tests.factories import OrganisationFactory, UserFactory, registered_programme  # noqa: E402

SIZES = [int(size) for size in os.environ.get("POA_BENCH_SIZES", "500,2000").split(",")]


def _csv(count: int, offset: int) -> bytes:
    rows = []
    for n in range(offset, offset + count):
        row = dict.fromkeys(importer.TEMPLATE_COLUMNS, "")
        row |= {
            "reference": f"CPA-{n:05d}",
            "name": f"Rooftop {n}",
            "latitude": f"{10.55 + (n % 100) * 0.009:.6f}",
            "longitude": f"{106.05 + (n // 100) * 0.009:.6f}",
            "technology": "solar_pv",
            "capacity_kw": "750",
            "commissioned_on": "2025-04-01",
            "equipment_serials": f"INV-{n:06d}",
            "documents": "cpa_dd",
            "meter_1_serial": f"MTR-{n:06d}",
            "meter_1_role": "export",
            "meter_1_accuracy_class": "0.5S",
            "meter_1_calibrated_on": "2025-03-01",
            "meter_1_calibration_valid_until": "2030-03-01",
        }
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=importer.TEMPLATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _setup():
    coordinator = UserFactory(organisation=OrganisationFactory())
    verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
    registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
    programme = registered_programme(coordinator, verifier, registry, title="Bench")
    programme.current_version.inclusion_route = InclusionRoute.coordinator
    db.session.commit()
    return programme, coordinator


def _raw_insert(count: int, programme_id: int) -> float:
    """The engine's own rate for the same site rows: one executemany, no validation, no audit."""
    rows = [
        {
            "programme_id": programme_id,
            "reference": f"RAW-{n:05d}",
            "name": f"Raw {n}",
            "status": "draft",
            "equipment_serials": "[]",
            "documents": "[]",
            "attributes": "{}",
            "created_at": utcnow(),
        }
        for n in range(count)
    ]
    table = sa.table("sites", *(sa.column(name) for name in rows[0]))
    started = time.perf_counter()
    with db.engine.begin() as connection:
        connection.execute(table.insert(), rows)
    elapsed = time.perf_counter() - started
    with db.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM sites WHERE reference LIKE 'RAW-%'"))
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("POA_BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        app = create_app("testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            flask_migrate.upgrade()
            programme, coordinator = _setup()
            print(f"engine: {db.engine.dialect.name}")
            print(
                f"{'rows':>6} {'parse':>10} {'import':>10} {'import+check':>13} {'include':>10} "
                f"{'raw insert':>11} {'import/raw':>10}"
            )
            offset = 0
            for size in SIZES:
                programme = db.session.merge(programme)
                coordinator = db.session.merge(coordinator)
                data = _csv(size, offset)
                started = time.perf_counter()
                parsed = importer.parse_csv(data)
                parse = time.perf_counter() - started
                assert not parsed.errors

                started = time.perf_counter()
                site_services.import_sites(programme, actor=coordinator, filename="b.csv", data=data)
                db.session.rollback()  # measured, then undone
                imported = time.perf_counter() - started

                started = time.perf_counter()
                result = site_services.import_sites(
                    programme, actor=coordinator, filename="b.csv", data=data, check_on=date(2026, 11, 1)
                )
                checked = time.perf_counter() - started
                assert result.checked.get("eligible") == size, result.checked

                started = time.perf_counter()
                site_services.include_sites(
                    programme,
                    actor=coordinator,
                    site_ids=[s.id for s in result.sites],
                    included_on=date(2026, 11, 2),
                )
                db.session.commit()
                included = time.perf_counter() - started
                programme_id = programme.id
                db.session.close()  # SQLite has one writer: end the session's transaction first
                raw = _raw_insert(size, programme_id)
                offset += size
                print(
                    f"{size:>6} {size / parse:>8.0f}/s {size / imported:>8.0f}/s {size / checked:>11.0f}/s "
                    f"{size / included:>8.0f}/s {size / raw:>9.0f}/s {raw / imported:>10.3f}"
                )
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


if __name__ == "__main__":
    main()
