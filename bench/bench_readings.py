"""Readings at scale: the project's import and roll-up next to the raw engine, on SQLite and PostgreSQL.

For each engine, in a fresh process (so peak memory is the path's own):
- ingest: the readings CSV (10,000 sites × 365 daily readings by default, `generate_readings.py`)
  through the real import path: receive (hash, keep), parse and validate every row, check against
  stored readings, bulk write; next to the raw engine's own bulk insert of the same file
  (`readings_raw.py`: sqlite3 `executemany` / PostgreSQL `COPY` into a table with the same unique
  index). Target: at least 50 % of raw, peak memory under 1.5 GB.
- roll-up: one year's monitoring report for every site (`open_report`: windows, SQL aggregation,
  calibration and gap rules, the methodology, lines written), next to the engine's own
  `SUM(energy_wh) GROUP BY meter_id` over the same readings table. Target: at most 2×.

Run: `make bench-readings` or `python bench/bench_readings.py [--sites N] [--days D] [--skip-postgres]`.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SERVER = "postgresql://postgres@127.0.0.1:5432"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _seed(sites: int):
    """A registered AMS-I.D programme with `sites` crediting sites and one export meter each.

    Sites are bulk-inserted: the benchmark measures readings, not site inclusion.
    """
    import sqlalchemy as sa

    from poa_manager.accounts.roles import OrganisationKind
    from poa_manager.database import db, utcnow
    from poa_manager.sites.models import Meter, Site
    from tests.factories import OrganisationFactory, UserFactory, registered_programme

    coordinator = UserFactory(organisation=OrganisationFactory())
    verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
    registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
    programme = registered_programme(
        coordinator, verifier, registry, title="Bench", grid_emission_factor_overrides={"2025": "0.6592"}
    )
    db.session.flush()
    now = utcnow()
    db.session.execute(
        sa.insert(Site),
        [
            {
                "programme_id": programme.id,
                "reference": f"BENCH-{n:05d}",
                "name": f"Bench site {n}",
                "status": "crediting",
                "capacity_kw": Decimal(1000),
                "technology": "solar_pv",
                "crediting_start": date(2025, 1, 1),
                "included_on": date(2025, 1, 1),
                "timezone": "Asia/Ho_Chi_Minh",
                "equipment_serials": [],
                "documents": [],
                "attributes": {},
                "created_at": now,
            }
            for n in range(1, sites + 1)
        ],
    )
    site_ids = dict(
        db.session.execute(sa.select(Site.reference, Site.id).where(Site.programme_id == programme.id)).all()
    )
    db.session.execute(
        sa.insert(Meter),
        [
            {
                "site_id": site_ids[f"BENCH-{n:05d}"],
                "serial": f"BM-{n:05d}",
                "role": "export",
                "accuracy_class": "0.5S",
                "calibrated_on": date(2024, 12, 1),
                "calibration_valid_until": date(2029, 12, 1),
                "created_at": now,
            }
            for n in range(1, sites + 1)
        ],
    )
    db.session.commit()
    return programme.id, coordinator.id


def project(engine_url: str, csv_path: str) -> dict:
    """The project's path on one database, in this (fresh) process."""
    import flask_migrate
    import sqlalchemy as sa

    from poa_manager import create_app
    from poa_manager.accounts.models import User
    from poa_manager.database import db
    from poa_manager.monitoring import services
    from poa_manager.monitoring.services import reports
    from poa_manager.programmes.models import Programme

    sites = int(os.environ["BENCH_SITES"])
    with tempfile.TemporaryDirectory() as uploads:
        app = create_app(
            "testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=engine_url, READINGS_UPLOAD_FOLDER=uploads
        )
        with app.app_context():
            flask_migrate.upgrade()
            programme_id, coordinator_id = _seed(sites)
            programme, coordinator = (
                db.session.get(Programme, programme_id),
                db.session.get(User, coordinator_id),
            )
            baseline_rss = _peak_rss_mb()

            started = time.perf_counter()
            with open(csv_path, "rb") as stream:
                upload, _ = services.receive_readings(
                    programme, actor=coordinator, filename="bench.csv", stream=stream, folder=Path(uploads)
                )
            db.session.commit()
            services.start_upload(upload)
            db.session.commit()
            received_s = time.perf_counter() - started
            outcome = services.ingest_upload(upload, folder=Path(uploads))
            db.session.commit()
            ingest_s = time.perf_counter() - started
            assert outcome.accepted, upload.errors[:5]
            phase_s = {"receive": round(received_s, 2), **outcome.seconds}
            phase_s["commit"] = round(ingest_s - sum(phase_s.values()), 2)

            def raw_group_by():
                return db.session.execute(
                    sa.text("SELECT meter_id, SUM(energy_wh) FROM readings GROUP BY meter_id")
                ).all()

            raw_group_by()  # warm-up
            raw_runs = []
            for _ in range(3):
                t = time.perf_counter()
                raw_group_by()
                raw_runs.append(time.perf_counter() - t)
            db.session.rollback()

            programme, coordinator = (
                db.session.get(Programme, programme_id),
                db.session.get(User, coordinator_id),
            )
            started = time.perf_counter()
            report = services.open_report(
                programme,
                actor=coordinator,
                period_start=date(2025, 1, 1),
                period_end=date(2025, 12, 31),
                today=date(2026, 11, 22),
            )
            db.session.commit()
            rollup_s = time.perf_counter() - started
            lines = len(report.lines)
            total = report.total_tco2e

            # The same roll-up without writing the lines, and its SQL aggregation alone.
            timings = []
            aggregate = reports._aggregate

            def timed_aggregate(*args, **kwargs):
                t = time.perf_counter()
                result = aggregate(*args, **kwargs)
                timings.append(time.perf_counter() - t)
                return result

            reports._aggregate = timed_aggregate
            started = time.perf_counter()
            computed = reports.roll_up(report)
            compute_s = time.perf_counter() - started
            reports._aggregate = aggregate
            assert reports.exact_sum(line.er for line in computed) == total
            return {
                "rows": outcome.rows_written,
                "ingest_s": ingest_s,
                "rows_per_s": outcome.rows_written / ingest_s,
                "peak_rss_mb": _peak_rss_mb(),
                "rss_before_ingest_mb": baseline_rss,
                "raw_group_by_s": statistics.median(raw_runs),
                "phase_s": phase_s,
                "rollup_s": rollup_s,
                "compute_s": compute_s,
                "aggregate_s": timings[0],
                "lines": lines,
                "total_tco2e": str(total),
            }


def _in_subprocess(engine_url: str, csv_path: Path, sites: int) -> dict:
    env = {**os.environ, "BENCH_SITES": str(sites)}
    done = subprocess.run(
        [sys.executable, __file__, "--project", engine_url, str(csv_path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    import readings_raw

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--project", nargs=2, metavar=("URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.project:
        print(json.dumps(project(*args.project)))
        return

    csv_path, _ = readings_raw._dataset(args.sites, args.days, 1)
    print(
        f"readings: {csv_path} ({csv_path.stat().st_size / 1e6:,.0f} MB), "
        f"{args.sites} sites × {args.days} days"
    )
    header = (
        f"{'engine':<11} {'path':<9} {'rows':>10} {'ingest s':>9} {'rows/s':>10} {'vs raw':>7} {'peak MB':>8}"
        f" {'roll-up s':>10} {'SUM GROUP BY s':>15} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    engines = [("SQLite", None)] + ([] if args.skip_postgres else [("PostgreSQL", SERVER)])
    for name, server in engines:
        with tempfile.TemporaryDirectory() as scratch:
            if server is None:
                raw = readings_raw.sqlite_executemany(csv_path, Path(scratch) / "raw.sqlite3")
                url = f"sqlite:///{scratch}/project.sqlite3"
                ours = _in_subprocess(url, csv_path, args.sites)
            else:
                raw_db, our_db = f"bench_raw_{os.getpid()}", f"bench_project_{os.getpid()}"
                for database in (raw_db, our_db):
                    readings_raw._scratch_database(server, database, create=True)
                try:
                    raw = readings_raw.postgres_copy(csv_path, f"{server}/{raw_db}")
                    ours = _in_subprocess(
                        f"{server.replace('postgresql', 'postgresql+psycopg')}/{our_db}", csv_path, args.sites
                    )
                finally:
                    for database in (raw_db, our_db):
                        readings_raw._scratch_database(server, database, create=False)
        print(
            f"{name:<11} {'raw':<9} {raw['rows']:>10,} {raw['seconds']:>9.2f}"
            f" {raw['rows_per_s']:>10,.0f} {'':>7}"
            f" {raw['peak_rss_mb']:>8.0f}"
        )
        print(
            f"{name:<11} {'project':<9} {ours['rows']:>10,} {ours['ingest_s']:>9.2f}"
            f" {ours['rows_per_s']:>10,.0f}"
            f" {ours['rows_per_s'] / raw['rows_per_s']:>6.0%} {ours['peak_rss_mb']:>8.0f}"
            f" {ours['rollup_s']:>10.2f} {ours['raw_group_by_s']:>15.2f}"
            f" {ours['rollup_s'] / ours['raw_group_by_s']:>5.1f}×",
            flush=True,
        )
        print(f"{'':<11} import phases (s): {ours['phase_s']}")
        print(
            f"{'':<11} report: {ours['lines']:,} site lines, total {ours['total_tco2e']} tCO2e; computing "
            f"without writing the lines {ours['compute_s']:.2f} s, of which the SQL aggregation "
            f"{ours['aggregate_s']:.2f} s ({ours['aggregate_s'] / ours['raw_group_by_s']:.1f}× SUM GROUP BY)"
        )


if __name__ == "__main__":
    main()
