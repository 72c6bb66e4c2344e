"""Verification at scale: the project's verification steps next to the raw engine, on SQLite and PostgreSQL.

For each engine and request size (10,000 and 100,000 sites by default), in a fresh process (so peak
memory is the run's own):
- setup, untimed in the figures: organisations and people through the account services, a programme
  registered through the programme services (four eyes), the sites and one monitoring line per site
  bulk-inserted (claims 100.5–160.5 tCO2e, technology solar_pv/wind/biomass 60/30/10), then the real
  `request_issuance` on the submitted report;
- the verification through `poa_manager.verification.services`, one transaction per step as a page
  would do it: assign_verifier, draw (stratified by technology, proportional, 90/10, seed 2026: the
  frame of every site is frozen), record_finding for every sampled site (a few errors), compute_results,
  exports.results_payload (what the verification and sample pages compute on every view),
  draft_statement, approve_statement by a second person of the verifier organisation, and the
  exports (frame CSV, sample XLSX);
- next to the draw, the raw engine on the same database: a plain `INSERT … SELECT` and a DBAPI
  `executemany` (PostgreSQL: also `COPY`) of the same frame rows into the same table, committed, and a
  plain SELECT of the request's lines. The frame freeze's rows/s is compared with INSERT … SELECT's.

Each step prints its seconds, SQL statements and peak RSS (the Linux high-water mark is reset before
each step). PostgreSQL: a scratch database on postgresql://postgres@127.0.0.1:5432, created and
dropped; or the database of POA_BENCH_DATABASE_URL (postgresql://…) if set, left in place.

Run: `make bench-verification` or
`python bench/bench_verification.py [--sizes 10000,100000] [--skip-postgres]`.
"""

import argparse
import hashlib
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

SERVER = "postgresql://postgres@127.0.0.1:5432"
SIZES = os.environ.get("POA_BENCH_SIZES", "10000,100000")
PERIOD = (date(2025, 1, 1), date(2025, 6, 30))
SEED = 2026
PASSWORD = "amber-tide-lantern-orchard-58"  # bench accounts only, in a scratch database
TECHNOLOGIES = ["solar_pv"] * 6 + ["wind"] * 3 + ["biomass"]  # 60/30/10, interleaved by site number
ERROR_EVERY = 10  # every 10th sampled site (in draw order) is found over-claimed by 10 tCO2e

# The programme's registered design (as in the sites tests, the three technologies allowed).
CRITERIA = [
    {
        "code": "EC-01",
        "description": "Inside the programme boundary",
        "kind": "location_in_boundary",
        "params": {"require_coordinates": True},
    },
    {
        "code": "EC-02",
        "description": "Solar PV, wind or biomass",
        "kind": "technology_allowed",
        "params": {"technologies": ["solar_pv", "wind", "biomass"]},
    },
    {"code": "EC-03", "description": "Small scale", "kind": "capacity_range", "params": {"max_kw": "15000"}},
    {
        "code": "EC-04",
        "description": "Commissioned after the programme start",
        "kind": "commissioning_window",
        "params": {"not_before": "2024-01-01"},
    },
    {
        "code": "EC-05",
        "description": "Class 0.5S or better, calibrated",
        "kind": "meter_accuracy",
        "params": {"accepted_classes": ["0.2S", "0.5S"]},
    },
    {
        "code": "EC-06",
        "description": "CPA-DD present",
        "kind": "documents_present",
        "params": {"document_kinds": ["cpa_dd"]},
    },
    {
        "code": "EC-07",
        "description": "Not registered anywhere else",
        "kind": "no_double_counting",
        "params": {},
    },
]
BOUNDARY = {
    "geojson": {
        "type": "Polygon",
        "coordinates": [[[106.0, 10.5], [107.5, 10.5], [107.5, 11.5], [106.0, 11.5], [106.0, 10.5]]],
    }
}

STEPS = [
    "assign_verifier",
    "draw",
    "record_finding",
    "compute_results",
    "results_payload",
    "draft_statement",
    "approve_statement",
    "frame_csv",
    "sample_xlsx",
]


def _reset_peak_rss() -> None:
    """Make ru_maxrss this measurement's own peak (on Linux, clear_refs 5 resets the high-water mark)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the figure is the process's peak so far


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def claim_of(i: int) -> Decimal:
    """Claims that vary between sites (100.5 to 160.5 tCO2e), so the sample has spread."""
    return Decimal(100) + Decimal(i % 7) * 10 + Decimal("0.5")


def _world(tag: str) -> dict[str, int]:
    """Organisations and people through the account services; a programme registered through the
    programme services (validated by one verifier, registered by the registry: four eyes)."""
    from poa_manager.accounts import services as account_services
    from poa_manager.accounts.roles import OrganisationKind, Role
    from poa_manager.database import utcnow
    from poa_manager.programmes import services as programme_services
    from poa_manager.programmes.rules import Mechanism
    from poa_manager.sites import services as site_services

    settings = account_services.AccountSettings()
    admin = account_services.create_first_admin(
        email=f"admin-{tag}@bench.example.org",
        full_name="Bench Admin",
        organisation_name=f"Bench Registry {tag}",
        password=PASSWORD,
        settings=settings,
    )
    cme = account_services.create_organisation(
        actor=admin, name=f"Bench CME {tag}", kind=OrganisationKind.coordinating_entity, country_code="VN"
    )
    firm = account_services.create_organisation(
        actor=admin, name=f"Bench Verifier {tag}", kind=OrganisationKind.verifier, country_code="JP"
    )
    people = {}
    for key, full_name, organisation_id in [
        ("coordinator", "Bench Coordinator", cme.id),
        ("validator", "Bench Validator", firm.id),  # validated the programme: off the team
        ("auditor", "Bench Auditor", firm.id),  # draws, records findings, drafts
        ("reviewer", "Bench Reviewer", firm.id),  # approves the statement (four eyes)
        ("registry", "Bench Registry", admin.organisation_id),
    ]:
        people[key] = account_services.create_user(
            actor=admin,
            email=f"{key}-{tag}@bench.example.org",
            full_name=full_name,
            organisation_id=organisation_id,
            password=PASSWORD,
            settings=settings,
            must_change_password=False,
        )
    coordinator = people["coordinator"]
    programme = programme_services.create_programme(
        actor=coordinator,
        reference=f"VN-BENCH-{tag}",
        title="Bench verification",
        mechanism=Mechanism.jcm,
        host_country="VN",
        partner_country="JP",
        coordinating_entity_id=cme.id,
        methodology_code="AMS-I.D",
        boundary=BOUNDARY,
        start_date=date(2024, 1, 1),
        duration_years=28,
    )
    for key, role in (("validator", Role.verifier), ("registry", Role.registry_administrator)):
        programme_services.grant_role(programme, actor=admin, user_id=people[key].id, role=role)
    site_services.update_criteria(programme, actor=coordinator, criteria=CRITERIA)
    programme_services.submit_for_validation(programme, actor=coordinator, now=utcnow())
    programme_services.validate(programme, actor=people["validator"], now=utcnow())
    programme_services.register(programme, actor=people["registry"], now=utcnow())
    return {"programme": programme.id, "firm": firm.id} | {key: user.id for key, user in people.items()}


def _submitted_request(programme_id: int, coordinator_id: int, sites: int) -> tuple[int, dict[str, float]]:
    """A submitted monitoring report over `sites` new sites, and the real `request_issuance` on it.

    As tests/integration/verification/conftest.py `submitted_request` does, but the sites and lines
    are bulk-inserted: verification reads the request's lines, not readings or site objects.
    """
    import sqlalchemy as sa

    from poa_manager.accounts.models import User
    from poa_manager.database import db, utcnow
    from poa_manager.monitoring import services as monitoring_services
    from poa_manager.monitoring.models import MonitoringLine, MonitoringReport, ReportStatus
    from poa_manager.sites.models import Site, SiteStatus

    seconds = {}
    started = time.perf_counter()
    now = utcnow()
    db.session.execute(
        sa.insert(Site),
        [
            {
                "programme_id": programme_id,
                "reference": f"CPA-{i + 1:06d}",
                "name": f"Bench site {i + 1}",
                "status": SiteStatus.crediting,
                "technology": TECHNOLOGIES[i % len(TECHNOLOGIES)],
                "capacity_kw": Decimal(500),
                "crediting_start": PERIOD[0],
                "included_on": PERIOD[0],
                "timezone": "Asia/Ho_Chi_Minh",
                "equipment_serials": [],
                "documents": ["cpa_dd", "grid_connection_certificate"],
                "attributes": {},
                "created_at": now,
            }
            for i in range(sites)
        ],
    )
    site_ids = dict(
        db.session.execute(sa.select(Site.reference, Site.id).where(Site.programme_id == programme_id)).all()
    )
    seconds["sites"] = time.perf_counter() - started

    started = time.perf_counter()
    claims = [claim_of(i) for i in range(sites)]
    report = MonitoringReport(
        programme_id=programme_id,
        number=1,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        status=ReportStatus.submitted,
        submitted_at=now,
        submitted_by_id=coordinator_id,
        created_by_id=coordinator_id,
        total_tco2e=sum(claims, Decimal(0)),
    )
    db.session.add(report)
    db.session.flush()
    db.session.execute(
        sa.insert(MonitoringLine),
        [
            {
                "report_id": report.id,
                "site_id": site_ids[f"CPA-{i + 1:06d}"],
                "site_reference": f"CPA-{i + 1:06d}",
                "window_start": PERIOD[0],
                "window_end": PERIOD[1],
                "vintage": 2025,
                "window_from": 0,
                "window_until": 1,
                "flags": [],
                "parameters": {},
                "sources": {},
                "emission_reductions_tco2e": claim,
            }
            for i, claim in enumerate(claims)
        ],
    )
    db.session.commit()
    seconds["lines"] = time.perf_counter() - started

    started = time.perf_counter()
    request = monitoring_services.request_issuance(
        db.session.get(MonitoringReport, report.id), actor=db.session.get(User, coordinator_id)
    )
    db.session.commit()
    seconds["request_issuance"] = time.perf_counter() - started
    return request.id, seconds


def _statement_counter(engine):
    """Counts the SQL statements sent to the engine (an executemany batch counts once)."""
    import sqlalchemy as sa

    count = [0]

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_args, **_kwargs):
        count[0] += 1

    return count


def _raw_engine(verification_id: int, request_id: int) -> dict:
    """The engine's own rates for the draw's reads and writes, on the same tables, without the project.

    Each insert writes the frame rows of `verification_id` into verification_frame_entries (same
    columns, keys, indexes and foreign keys as the draw's) and commits; the rows are deleted again,
    untimed, before the project's draw (PostgreSQL: and vacuumed, so it finds no dead rows).
    """
    import sqlalchemy as sa

    from poa_manager.database import db

    postgres = db.engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    columns = "verification_id, site_id, site_reference, stratum, claimed_tco2e, problems"
    lines = f"SELECT * FROM issuance_request_lines WHERE request_id = {mark}"
    frame_select = (
        f"SELECT {mark}, l.site_id, l.site_reference, s.technology, l.claimed_tco2e, "
        + ("'[]'::json" if postgres else "'[]'")
        + f" FROM issuance_request_lines l JOIN sites s ON s.id = l.site_id WHERE l.request_id = {mark}"
    )
    figures = {}
    connection = db.engine.raw_connection()
    try:
        driver = connection.driver_connection

        def run(sql, *params, many=None):
            cursor = driver.cursor()
            if many is not None:
                cursor.executemany(sql, many)
            else:
                cursor.execute(sql, params)
            return cursor

        def in_transaction(work) -> float:
            started = time.perf_counter()
            if not postgres:
                run("BEGIN")  # the SQLite connection is in autocommit mode (database.py)
            work()
            if postgres:
                driver.commit()
            else:
                run("COMMIT")
            return time.perf_counter() - started

        def clean() -> None:
            in_transaction(
                lambda: run(
                    "DELETE FROM verification_frame_entries WHERE verification_id = " + mark, verification_id
                )
            )
            if postgres:
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
                    autocommit.execute(sa.text("VACUUM ANALYZE verification_frame_entries"))

        run(lines, request_id).fetchall()  # warm-up: caches, PostgreSQL's hint bits
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            rows = run(lines, request_id).fetchall()
            timings.append(time.perf_counter() - started)
        figures["select_lines_s"] = statistics.median(timings)
        figures["lines"] = len(rows)
        if postgres:
            driver.commit()

        figures["insert_select_s"] = in_transaction(
            lambda: run(
                f"INSERT INTO verification_frame_entries ({columns}) {frame_select}",
                verification_id,
                request_id,
            )
        )
        clean()

        # Untimed: the rows in hand, as the draw has them before its insert.
        frame_rows = [
            (verification_id, site_id, reference, technology, claimed, "[]")
            for site_id, reference, technology, claimed in run(
                "SELECT l.site_id, l.site_reference, s.technology, l.claimed_tco2e"
                " FROM issuance_request_lines l JOIN sites s ON s.id = l.site_id"
                f" WHERE l.request_id = {mark}",
                request_id,
            )
        ]
        if postgres:
            driver.commit()
        insert = f"INSERT INTO verification_frame_entries ({columns}) VALUES ({', '.join([mark] * 6)})"
        figures["executemany_s"] = in_transaction(lambda: run(insert, many=frame_rows))
        clean()

        if postgres:

            def copy() -> None:
                with driver.cursor() as cursor:
                    with cursor.copy(f"COPY verification_frame_entries ({columns}) FROM STDIN") as stream:
                        for row in frame_rows:
                            stream.write_row(row)

            figures["copy_s"] = in_transaction(copy)
            clean()
    finally:
        connection.close()
    return figures


def project(engine_url: str, sites: int, tag: str) -> dict:
    """The project's path on one database, in this (fresh) process."""
    import flask_migrate
    import sqlalchemy as sa

    from poa_manager import create_app
    from poa_manager.accounts.models import User
    from poa_manager.database import db
    from poa_manager.monitoring.models import IssuanceRequest, RequestStatus
    from poa_manager.verification import exports, services
    from poa_manager.verification.models import (
        Allocation,
        CheckMethod,
        FindingOutcome,
        FrameEntry,
        Opinion,
        Verification,
        VerificationStatus,
    )
    from poa_manager.verification.services import plans

    app = create_app("testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=engine_url)
    with app.app_context():
        flask_migrate.upgrade()
        started = time.perf_counter()
        ids = _world(tag)
        db.session.commit()
        setup_s = {"world": time.perf_counter() - started}
        request_id, seconds = _submitted_request(ids["programme"], ids["coordinator"], sites)
        setup_s |= seconds
        if db.engine.dialect.name == "postgresql":
            # Untimed: what autovacuum would do shortly after a bulk load (readings_raw.py does the same).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
                autocommit.execute(sa.text("ANALYZE"))
        setup_peak_mb = _peak_rss_mb()
        statements = _statement_counter(db.engine)

        def person(key: str) -> User:
            return db.session.get(User, ids[key])

        def verification() -> Verification:
            return db.session.scalar(sa.select(Verification).where(Verification.request_id == request_id))

        steps: dict[str, dict] = {}

        def measure(name: str, work, *, commit: bool = True):
            """One step: seconds (commit included), statements and its own peak RSS; a failure is kept."""
            _reset_peak_rss()
            before = statements[0]
            started = time.perf_counter()
            try:
                result = work()
                if commit:
                    db.session.commit()
                error = None
            except Exception as exc:  # reported with the figures; the run goes on
                db.session.rollback()
                result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            steps[name] = {
                "s": time.perf_counter() - started,
                "statements": statements[0] - before,
                "peak_mb": _peak_rss_mb(),
                "error": error,
            }
            return result

        request = db.session.get(IssuanceRequest, request_id)
        measure(
            "assign_verifier",
            lambda: services.assign_verifier(
                request,
                actor=person("coordinator"),
                organisation_id=ids["firm"],
                team_user_ids=[ids["auditor"]],
                lead_user_id=ids["auditor"],
            ),
        )
        verification_id = verification().id
        db.session.close()  # SQLite has one writer: end the session's transaction first
        raw = _raw_engine(verification_id, request_id)

        # The draw, with the frame's read and Python build timed inside it.
        build_timings = []
        build_frame = plans._build_frame

        def timed_build_frame(*args, **kwargs):
            t = time.perf_counter()
            result = build_frame(*args, **kwargs)
            build_timings.append(time.perf_counter() - t)
            return result

        plans._build_frame = timed_build_frame
        plan = services.PlanInput(
            confidence=Decimal("0.90"),
            relative_precision=Decimal("0.10"),
            stratify_by="technology",
            allocation=Allocation.proportional,
        )
        auditor = person("auditor")
        measure("draw", lambda: services.draw(verification(), actor=auditor, plan=plan, seed=SEED))
        plans._build_frame = build_frame
        steps["draw"]["build_frame_s"] = build_timings[0] if build_timings else None
        ver = verification()
        frame_rows = db.session.scalar(
            sa.select(sa.func.count()).select_from(FrameEntry).where(FrameEntry.verification_id == ver.id)
        )
        strata = {h: (s["N"], s["n"]) for h, s in sorted((ver.strata or {}).items())}

        # One finding per sampled site, each in its own transaction (one page submission each).
        sample = [
            (entry.site_id, entry.claimed_tco2e)
            for entry in db.session.scalars(services.frame_entries(ver, sampled_only=True))
        ]
        db.session.commit()

        def record_all() -> int:
            errors = 0
            for k, (site_id, claimed) in enumerate(sample):
                is_error = k % ERROR_EVERY == ERROR_EVERY - 1
                errors += is_error
                services.record_finding(
                    verification(),
                    actor=auditor,
                    site_id=site_id,
                    verified_tco2e=claimed - 10 if is_error else claimed,
                    outcome=FindingOutcome.error if is_error else FindingOutcome.conforming,
                    method=CheckMethod.site_visit if is_error else CheckMethod.remote,
                    evidence="Meter photo and invoices disagree."
                    if is_error
                    else "Readings and invoices agree.",
                )
                db.session.commit()
            return errors

        errors = measure("record_finding", record_all)
        results = measure("compute_results", lambda: services.compute_results(verification()), commit=False)
        db.session.rollback()
        # What the verification and sample pages compute on every view: results, hint, re-draw check.
        measure("results_payload", lambda: exports.results_payload(verification()), commit=False)
        db.session.rollback()
        measure(
            "draft_statement",
            lambda: services.draft_statement(
                verification(), actor=auditor, opinion=Opinion.positive, summary="Bench: sample verified."
            ),
        )
        measure(
            "approve_statement", lambda: services.approve_statement(verification(), actor=person("reviewer"))
        )
        ver = verification()
        status = (ver.status.value, db.session.get(IssuanceRequest, request_id).status.value)
        frame = measure("frame_csv", lambda: exports.frame_csv(verification()), commit=False)
        workbook = measure("sample_xlsx", lambda: exports.sample_workbook(verification()), commit=False)
        db.session.rollback()

        return {
            "sites": sites,
            "setup_s": setup_s,
            "setup_peak_mb": setup_peak_mb,
            "steps": steps,
            "raw": raw,
            "frame_rows": frame_rows,
            "sample": len(sample),
            "strata": strata,
            "errors": errors,
            "verified_tco2e": None if results is None else str(results.verified_tco2e),
            "claimed_tco2e": None if results is None else str(results.claimed_total),
            "status": status,
            "finished": status == (VerificationStatus.completed.value, RequestStatus.verified.value),
            "frame_csv_matches": frame is not None and hashlib.sha256(frame).hexdigest() == ver.frame_sha256,
            "frame_csv_mb": None if frame is None else len(frame) / 1e6,
            "xlsx_mb": None if workbook is None else len(workbook) / 1e6,
            "peak_rss_mb": max(step["peak_mb"] for step in steps.values()),
        }


def _in_subprocess(engine_url: str, sites: int, tag: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--project", engine_url, str(sites), tag],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {sites}-site run on {engine_url} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _scratch_database(name: str, create: bool) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        identifier = sql.Identifier(name)
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
        else:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))


def _run(engine: str, sites: int) -> dict:
    tag = f"{os.getpid()}-{sites}"
    if engine == "SQLite":
        with tempfile.TemporaryDirectory() as scratch:
            return _in_subprocess(f"sqlite:///{scratch}/bench.sqlite3", sites, tag)
    url = os.environ.get("POA_BENCH_DATABASE_URL")
    if url:
        return _in_subprocess(url, sites, tag)  # the caller's database: unique names per run
    name = f"bench_verification_{os.getpid()}_{sites}"
    _scratch_database(name, create=True)
    try:
        return _in_subprocess(f"{SERVER}/{name}", sites, tag)
    finally:
        _scratch_database(name, create=False)


def _print(engine: str, ours: dict) -> None:
    steps, raw, sites = ours["steps"], ours["raw"], ours["sites"]
    draw_s = steps["draw"]["s"]

    def seconds(name: str) -> str:
        return "failed" if steps[name]["error"] else f"{steps[name]['s']:.2f}"

    print(
        f"{engine:<11} {sites:>8,} {seconds('assign_verifier'):>7} {seconds('draw'):>7}"
        f" {sites / draw_s:>10,.0f} {sites / raw['insert_select_s']:>10,.0f}"
        f" {draw_s / raw['insert_select_s']:>6.1f}× {seconds('record_finding'):>9}"
        f" {seconds('compute_results'):>8} {seconds('results_payload'):>8}"
        f" {seconds('draft_statement'):>7} {seconds('approve_statement'):>8}"
        f" {seconds('frame_csv'):>9} {seconds('sample_xlsx'):>7} {ours['peak_rss_mb']:>8.0f}",
        flush=True,
    )
    pad = " " * 11
    setup = ", ".join(f"{k} {v:.2f}" for k, v in ours["setup_s"].items())
    print(f"{pad} setup (s, not in the figures): {setup}; peak {ours['setup_peak_mb']:.0f} MB")
    build = steps["draw"].get("build_frame_s")
    rest = "" if build is None else f"; of the draw, reading and building the frame {build:.2f} s"
    copy = f", COPY {raw['copy_s']:.2f} s ({sites / raw['copy_s']:,.0f} rows/s)" if "copy_s" in raw else ""
    print(
        f"{pad} raw engine, {sites:,} frame rows committed: INSERT … SELECT {raw['insert_select_s']:.2f} s,"
        f" executemany {raw['executemany_s']:.2f} s ({sites / raw['executemany_s']:,.0f} rows/s){copy};"
        f" SELECT of the {raw['lines']:,} request lines {raw['select_lines_s']:.3f} s{rest}"
    )
    strata = ", ".join(f"{h} {n}/{size:,}" for h, (size, n) in ours["strata"].items())
    print(
        f"{pad} frame {ours['frame_rows']:,} rows; sample {ours['sample']} ({strata});"
        f" {ours['errors']} errors; {ours['sample']} findings at"
        f" {1000 * steps['record_finding']['s'] / max(ours['sample'], 1):.1f} ms each;"
        f" claimed {ours['claimed_tco2e']} → verified {ours['verified_tco2e']} tCO2e;"
        f" verification/request {'/'.join(ours['status'])}"
    )
    print(
        f"{pad} exports: frame CSV {ours['frame_csv_mb'] or 0:.1f} MB"
        f" ({'matches' if ours['frame_csv_matches'] else 'DOES NOT match'} frame_sha256),"
        f" sample XLSX {ours['xlsx_mb'] or 0:.1f} MB"
    )
    print(
        f"{pad} SQL statements / peak MB per step: "
        + ", ".join(f"{name} {steps[name]['statements']}/{steps[name]['peak_mb']:.0f}" for name in STEPS)
    )
    for name in STEPS:
        if steps[name]["error"]:
            print(f"{pad} {name} FAILED after {steps[name]['s']:.2f} s: {steps[name]['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help="sites per request, comma-separated")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--project", nargs=3, metavar=("URL", "SITES", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.project:
        url, sites, tag = args.project
        print(json.dumps(project(url, int(sites), tag)))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        "verification: one issuance request, claims 100.5–160.5 tCO2e, solar_pv/wind/biomass 60/30/10;"
        f" draw stratified by technology, proportional, 90/10, seed {SEED}"
    )
    header = (
        f"{'engine':<11} {'sites':>8} {'assign':>7} {'draw s':>7} {'frame r/s':>10} {'raw r/s':>10}"
        f" {'vs raw':>7} {'findings':>9} {'results':>8} {'payload':>8} {'draft':>7} {'approve':>8}"
        f" {'frame CSV':>9} {'XLSX':>7} {'peak MB':>8}"
    )
    print("(seconds per step, commit included; frame r/s = frame rows frozen per second by the draw,")
    print(" raw r/s = the engine's INSERT … SELECT of the same rows; vs raw = draw s / INSERT … SELECT s;")
    print(" payload = exports.results_payload; peak MB = the highest of the steps' own peaks)")
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    engines = ["SQLite"] + ([] if args.skip_postgres else ["PostgreSQL"])
    for engine in engines:
        for sites in sizes:
            run_started = time.perf_counter()
            ours = _run(engine, sites)
            _print(engine, ours)
            print(f"{'':<11} (this run, setup included: {time.perf_counter() - run_started:.0f} s)")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
