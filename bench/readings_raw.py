"""Raw-engine baselines for the readings workload: what SQLite and PostgreSQL do without the project's code.

The project's import and roll-up paths are compared with these figures, measured in the same run:
- ingest, CSV file to committed rows in one transaction, into `raw_readings` with a unique
  (meter_serial, reading_start) index: the csv module into `sqlite3.executemany` in batches of 50k rows;
  psycopg 3 `COPY … FROM STDIN` of the file in 1 MB chunks;
- roll-up, `SUM(value) GROUP BY meter_serial` over one year: median of 3 runs after one warm-up.

Run: `python bench/readings_raw.py [--sites 10000] [--days 365] [--postgres DSN | --skip-postgres]`. Without
`--postgres` it creates a scratch database on postgresql://postgres@127.0.0.1 and drops it afterwards. The
generated CSV is kept in the temp dir and reused by later runs of the same size and seed.
"""

import argparse
import csv
import itertools
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_readings import generate  # noqa: E402

BATCH_ROWS = 50_000
COPY_CHUNK_BYTES = 1 << 20
ROLLUP_RUNS = 3
# Readings are local days in UTC+07:00: compare timestamps there so the year's bounds match the file's.
PG_TIME_ZONE = "Asia/Ho_Chi_Minh"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"

SQLITE_SCHEMA = (
    "CREATE TABLE raw_readings (site_ref TEXT, meter_serial TEXT, reading_start TEXT, reading_end TEXT,"
    " value NUMERIC)",
    "CREATE UNIQUE INDEX raw_readings_meter_start ON raw_readings (meter_serial, reading_start)",
)
PG_SCHEMA = (
    "DROP TABLE IF EXISTS raw_readings",
    "CREATE TABLE raw_readings (site_ref text, meter_serial text, reading_start timestamptz,"
    " reading_end timestamptz, value numeric)",
    "CREATE UNIQUE INDEX raw_readings_meter_start ON raw_readings (meter_serial, reading_start)",
)
ROLLUP = (
    "SELECT meter_serial, SUM(value) FROM raw_readings"
    " WHERE reading_start >= '2025-01-01' AND reading_start < '2026-01-01' GROUP BY meter_serial"
)


def _reset_peak_rss() -> None:
    """Make ru_maxrss this measurement's own peak (on Linux, clear_refs 5 resets the high-water mark)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the figure is the process's peak so far


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _figures(rows: int, seconds: float) -> dict[str, float]:
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": _peak_rss_mb()}


def sqlite_executemany(csv_path: str | PathLike[str], db_path: str | PathLike[str]) -> dict[str, float]:
    """Load the CSV into a fresh SQLite file: csv module, executemany in 50k batches, one transaction."""
    Path(db_path).unlink(missing_ok=True)
    connection = sqlite3.connect(db_path, isolation_level=None)  # explicit BEGIN/COMMIT below
    try:
        for statement in SQLITE_SCHEMA:
            connection.execute(statement)
        insert = "INSERT INTO raw_readings VALUES (?, ?, ?, ?, ?)"
        _reset_peak_rss()
        started = time.perf_counter()
        rows = 0
        with open(csv_path, newline="", encoding="utf-8") as source:
            reader = csv.reader(source)
            next(reader)  # header
            connection.execute("BEGIN")
            while batch := list(itertools.islice(reader, BATCH_ROWS)):
                connection.executemany(insert, batch)
                rows += len(batch)
            connection.execute("COMMIT")
        return _figures(rows, time.perf_counter() - started)
    finally:
        connection.close()


def postgres_copy(csv_path: str | PathLike[str], dsn: str) -> dict[str, float]:
    """Load the CSV into a fresh PostgreSQL table: COPY FROM STDIN in 1 MB chunks, one transaction."""
    with psycopg.connect(dsn) as connection:
        for statement in PG_SCHEMA:
            connection.execute(statement)
        connection.commit()  # the table exists before the clock starts, like a migrated schema
        _reset_peak_rss()
        started = time.perf_counter()
        with open(csv_path, "rb") as source, connection.cursor() as cursor:
            with cursor.copy("COPY raw_readings FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while chunk := source.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
            rows = cursor.rowcount
        connection.commit()
        figures = _figures(rows, time.perf_counter() - started)
        connection.execute("ANALYZE raw_readings")  # untimed: what autovacuum would do shortly after
        connection.commit()
    return figures


def _median_seconds(run: Callable[[], list]) -> float:
    run()  # warm-up: caches, and PostgreSQL's hint bits on freshly loaded rows
    timings = []
    for _ in range(ROLLUP_RUNS):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def sqlite_sum_group_by(db_path: str | PathLike[str]) -> float:
    """Seconds for the one-year roll-up on SQLite (median of 3 after a warm-up)."""
    connection = sqlite3.connect(db_path)
    try:
        return _median_seconds(lambda: connection.execute(ROLLUP).fetchall())
    finally:
        connection.close()


def postgres_sum_group_by(dsn: str) -> float:
    """Seconds for the one-year roll-up on PostgreSQL (median of 3 after a warm-up)."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(PG_TIME_ZONE)))
        return _median_seconds(lambda: connection.execute(ROLLUP).fetchall())


def _dataset(sites: int, days: int, seed: int) -> tuple[Path, float | None]:
    """The clean readings file for this size, generated once into the temp dir; seconds if generated now."""
    directory = Path(tempfile.gettempdir()) / "poa_bench"
    directory.mkdir(exist_ok=True)
    path = directory / f"readings_{sites}x{days}_seed{seed}.csv"
    if path.exists():
        return path, None
    partial = path.with_suffix(f".{os.getpid()}.partial")  # never reuse a half-written file
    started = time.perf_counter()
    generate(partial, sites, days, seed=seed)
    partial.replace(path)
    return path, time.perf_counter() - started


def _scratch_database(server: str, name: str, create: bool) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        identifier = sql.Identifier(name)
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
        else:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))


def _row(engine: str, ingest: dict[str, float], rollup: float) -> str:
    return (
        f"{engine:<11} {ingest['rows']:>10,} {ingest['seconds']:>9.2f} {ingest['rows_per_s']:>10,.0f}"
        f" {ingest['peak_rss_mb']:>8.0f} {rollup * 1000:>10,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", metavar="DSN", help="use this database instead of a scratch one")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    csv_path, generated = _dataset(args.sites, args.days, args.seed)
    size_mb = csv_path.stat().st_size / 1e6
    origin = f"generated in {generated:.1f} s" if generated is not None else "reused"
    print(f"readings: {csv_path} ({size_mb:,.0f} MB, {origin})")
    print(f"engines: SQLite {sqlite3.sqlite_version}, psycopg {psycopg.__version__}")
    header = f"{'engine':<11} {'rows':>10} {'ingest s':>9} {'rows/s':>10} {'peak MB':>8} {'roll-up ms':>10}"
    print(header)
    print("-" * len(header))

    with tempfile.TemporaryDirectory() as scratch:
        db_path = Path(scratch) / "raw_readings.sqlite3"
        ingest = sqlite_executemany(csv_path, db_path)
        print(_row("SQLite", ingest, sqlite_sum_group_by(db_path)), flush=True)

    if args.skip_postgres:
        return
    scratch_name = None
    dsn = args.postgres
    if dsn is None:
        scratch_name = f"bench_raw_{os.getpid()}"
        _scratch_database(DEFAULT_SERVER, scratch_name, create=True)
        dsn = f"{DEFAULT_SERVER}/{scratch_name}"
    try:
        ingest = postgres_copy(csv_path, dsn)
        print(_row("PostgreSQL", ingest, postgres_sum_group_by(dsn)))
        with psycopg.connect(dsn, autocommit=True) as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
            if scratch_name is None:  # leave a caller's database as we found it
                connection.execute("DROP TABLE raw_readings")
        print(f"(PostgreSQL {version}; roll-up = SUM(value) GROUP BY meter_serial over 2025)")
    finally:
        if scratch_name is not None:
            _scratch_database(DEFAULT_SERVER, scratch_name, create=False)


if __name__ == "__main__":
    main()
