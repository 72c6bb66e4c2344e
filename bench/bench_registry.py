"""Registry at scale: the project's registry steps next to the raw engine, on SQLite and PostgreSQL.

For each engine and request size (1,000, 10,000 and 100,000 sites by default), in a fresh process (so
peak memory is the run's own):
- setup, untimed in the figures: as bench_verification.py (organisations and people through the
  account services, a programme registered through the programme services, sites and one monitoring
  line per site bulk-inserted, claims 100.5–160.5 tCO2e, the real `request_issuance`), then the real
  verification services with a small sample (no strata, 90/10, expected CV 0.5, seed 2026), every
  sampled site conforming, the statement drafted and approved by a second person; then the
  governments of Japan and Viet Nam, a second person of the coordinating entity, a host-government
  person, and the allocation table 50 % Japan / 10 % Viet Nam / 40 % the coordinating entity;
- the registry through `poa_manager.registry.services`, one transaction per step as a page would do
  it, commit included:
  1. `approve_issuance` (one block and one ledger row per site, serials from the counter);
  2. `forward_issuance` (the pending blocks split by the allocation table);
  3. 100 transfers of half a block each from the coordinating entity's holding account to Japan's
     (`initiate_transaction`, committed, then `approve_transaction` by a second person, committed);
  4. `reconcile()`;
  5. `lookup_serial` of one transferred sub-block (median of 5 calls) and `public_csv("issuances")`;
  6. Article 6.2: `record_authorization` by Viet Nam's government (first international transfer),
     `authorize_units` for 10 % of the credits, `generate_aef_report` for VN and the current year;
- just before step 1, the raw engine on the same database: SQLAlchemy Core `insert()` executemany (in
  2,000-row batches) of the same block rows and issuance ledger rows (same apportionment and serials,
  built untimed) into twin tables (same columns, indexes, foreign keys and overlap backstop: SQLite's
  trigger, PostgreSQL's exclusion constraint), committed; PostgreSQL: also `COPY`; then the
  executemany again with the overlap backstop dropped. The rows point at a placeholder issuance that
  is deleted with the twins, so the approval starts from the same state.

Each step prints its seconds, rows/s where it applies, SQL statements (an executemany batch counts
once), the seconds spent inside the driver's execute (SQL s) and peak RSS (the Linux high-water
mark is reset before each step). A step that runs past the step limit (60 s; --step-limit or
POA_BENCH_STEP_LIMIT) is stopped at its next SQL statement and rolled back, and its figure is printed
with "(stopped)"; the steps that need it are skipped. The raw lines stop at half the limit.
`--profile DIR` writes a cProfile file per step (slower; for finding where the time goes).
PostgreSQL: a scratch database on postgresql://postgres@127.0.0.1:5432, created and dropped; or the
database of POA_BENCH_DATABASE_URL (postgresql://…) if set, left in place.

Run: `make bench-registry` or `python bench/bench_registry.py [--sizes 1000,10000,100000]
[--skip-postgres] [--skip-sqlite] [--step-limit 60] [--profile DIR]`.
"""

import argparse
import cProfile
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import bench_verification as bv  # next to this file: its world, bulk request and memory helpers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = os.environ.get("POA_BENCH_SIZES", "1000,10000,100000")
STEP_LIMIT = float(os.environ.get("POA_BENCH_STEP_LIMIT", "60"))
SEED = 2026
TRANSFERS = 100
RAW_BATCH = 2_000  # small enough to stop near the limit
SHARES = (("japan", Decimal(50)), ("host", Decimal(10)), ("cme", Decimal(40)))
AUTHORIZATION = {
    "reference": "MONRE/LoA/BENCH-001",
    "cooperative_approach": "CA0001",
    "purposes": ["ndc", "oimp"],
    "sector": "Energy",
    "activity_type": "Solar PV",
    "authorized_on": date(2025, 12, 1),
    "vintage_first": 2025,
    "vintage_last": 2025,
    "using_parties": ["JP"],
    "using_entities": [{"name": "Japan Airlines", "country": "JP"}],
}

# (key, label); the raw-engine lines are printed under approve_issuance.
STEPS = [
    ("approve_issuance", "1 approve_issuance"),
    ("forward_issuance", "2 forward_issuance"),
    ("transfers", f"3 {TRANSFERS} transfers"),
    ("reconcile", "4 reconcile"),
    ("lookup_serial", "5 lookup_serial"),
    ("public_csv", "5 public_csv issuances"),
    ("record_authorization", "6 record_authorization"),
    ("authorize_units", "6 authorize_units 10 %"),
    ("generate_aef_report", "6 generate_aef_report"),
]
NEEDS = {  # a step is skipped when a step it needs did not finish
    "forward_issuance": ["approve_issuance"],
    "transfers": ["forward_issuance"],
    "reconcile": ["approve_issuance"],
    "lookup_serial": ["approve_issuance"],
    "public_csv": ["approve_issuance"],
    "record_authorization": ["approve_issuance"],
    "authorize_units": ["record_authorization"],
    "generate_aef_report": ["authorize_units"],
}


class Stopped(Exception):
    """The step ran past the step limit: raised at its next SQL statement (or raw batch)."""


def _sql_meter(engine) -> dict:
    """SQL statements sent to the engine (an executemany batch counts once), the seconds spent inside
    the driver's execute, and the step deadline, checked before every statement."""
    import sqlalchemy as sa

    meter = {"count": 0, "seconds": 0.0, "deadline": None, "started": []}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(*_args, **_kwargs):
        deadline = meter["deadline"]
        if deadline is not None and time.perf_counter() > deadline:
            raise Stopped
        meter["count"] += 1
        meter["started"].append(time.perf_counter())

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(*_args, **_kwargs):
        meter["seconds"] += time.perf_counter() - meter["started"].pop()

    @sa.event.listens_for(engine, "handle_error")
    def _failed(_context):
        if meter["started"]:
            meter["seconds"] += time.perf_counter() - meter["started"].pop()

    return meter


def _analyze() -> None:
    """PostgreSQL, untimed: what autovacuum would do shortly after a bulk load (as bench_verification.py
    does); without it the planner takes the new 100,000-row tables for empty ones."""
    import sqlalchemy as sa

    from poa_manager.database import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.execute(sa.text("ANALYZE"))


def _verified_request(ids: dict[str, int], sites: int) -> tuple[int, dict[str, float]]:
    """bench_verification's bulk request, then the real verification services: a small unstratified
    sample, every sampled site conforming, the statement drafted and approved (four eyes)."""
    from poa_manager.accounts.models import User
    from poa_manager.database import db
    from poa_manager.monitoring.models import IssuanceRequest
    from poa_manager.verification import services as verification_services
    from poa_manager.verification.models import CheckMethod, FindingOutcome, Opinion

    request_id, seconds = bv._submitted_request(ids["programme"], ids["coordinator"], sites)
    _analyze()
    started = time.perf_counter()
    auditor = db.session.get(User, ids["auditor"])
    verification = verification_services.assign_verifier(
        db.session.get(IssuanceRequest, request_id),
        actor=db.session.get(User, ids["coordinator"]),
        organisation_id=ids["firm"],
        team_user_ids=[ids["auditor"]],
        lead_user_id=ids["auditor"],
    )
    db.session.commit()
    verification_services.draw(verification, actor=auditor, plan=verification_services.PlanInput(), seed=SEED)
    db.session.commit()
    sample = [
        (entry.site_id, entry.claimed_tco2e)
        for entry in db.session.scalars(verification_services.frame_entries(verification, sampled_only=True))
    ]
    for site_id, claimed in sample:
        verification_services.record_finding(
            verification,
            actor=auditor,
            site_id=site_id,
            verified_tco2e=claimed,
            outcome=FindingOutcome.conforming,
            method=CheckMethod.remote,
            evidence="Readings and invoices agree.",
        )
    db.session.commit()
    verification_services.draft_statement(
        verification, actor=auditor, opinion=Opinion.positive, summary="Bench: sample verified."
    )
    verification_services.approve_statement(verification, actor=db.session.get(User, ids["reviewer"]))
    db.session.commit()
    seconds[f"verification ({len(sample)} sampled)"] = time.perf_counter() - started
    return request_id, seconds


def _participants(ids: dict[str, int], tag: str) -> dict[str, int]:
    """The governments of Japan and Viet Nam (host), a second person of the coordinating entity (four
    eyes on transfers), a person of Viet Nam's government, and the 50/10/40 allocation table."""
    import sqlalchemy as sa

    from poa_manager.accounts import services as account_services
    from poa_manager.accounts.models import User
    from poa_manager.accounts.roles import OrganisationKind
    from poa_manager.database import db
    from poa_manager.programmes.models import Programme
    from poa_manager.registry import services

    admin = db.session.scalar(sa.select(User).where(User.email == f"admin-{tag}@bench.example.org"))
    coordinator = db.session.get(User, ids["coordinator"])
    settings = account_services.AccountSettings()
    found = {"cme": coordinator.organisation_id}
    for key, name, country in (
        ("japan", "Government of Japan", "JP"),
        ("host", "Government of Viet Nam", "VN"),
    ):
        found[key] = account_services.create_organisation(
            actor=admin, name=f"{name} {tag}", kind=OrganisationKind.host_government, country_code=country
        ).id
    for key, full_name, organisation in (
        ("colleague", "Bench Colleague", "cme"),
        ("government", "Bench Government", "host"),
    ):
        found[key] = account_services.create_user(
            actor=admin,
            email=f"{key}-{tag}@bench.example.org",
            full_name=full_name,
            organisation_id=found[organisation],
            password=bv.PASSWORD,
            settings=settings,
            must_change_password=False,
        ).id
    services.set_allocation_table(
        db.session.get(Programme, ids["programme"]),
        actor=coordinator,
        shares=[{"organisation_id": found[key], "share_percent": percent} for key, percent in SHARES],
    )
    db.session.commit()
    return found


def _twin_tables(connection, postgres: bool) -> dict[str, str]:
    """Twins of credit_blocks and ledger_entries: same columns, indexes, foreign keys and the blocks'
    overlap backstop (not the ledger's append-only triggers, which only refuse UPDATE and DELETE)."""
    import sqlalchemy as sa

    twins = {"credit_blocks": "bench_raw_credit_blocks", "ledger_entries": "bench_raw_ledger_entries"}
    for table, twin in twins.items():
        if postgres:
            connection.exec_driver_sql(f"CREATE TABLE {twin} (LIKE {table} INCLUDING ALL)")
            keys = connection.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
                ),
                {"t": table},
            ).scalars()
            for definition in list(keys):
                connection.exec_driver_sql(f"ALTER TABLE {twin} ADD {definition}")
        else:
            schema = connection.execute(
                sa.text(
                    "SELECT type, sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL"
                    " ORDER BY type = 'table' DESC"
                ),
                {"t": table},
            ).all()
            for kind, sql in schema:
                if kind == "trigger" and "INSERT" not in sql:
                    continue  # the ledger's append-only and the blocks' update triggers
                connection.exec_driver_sql(sql.replace(table, twin))
    connection.commit()
    return twins


def _drop_backstop(connection, twin: str, postgres: bool) -> None:
    import sqlalchemy as sa

    if postgres:
        names = connection.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'x'"
            ),
            {"t": twin},
        ).scalars()
        for name in list(names):
            connection.exec_driver_sql(f'ALTER TABLE {twin} DROP CONSTRAINT "{name}"')
    else:
        for name in list(
            connection.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                {"t": twin},
            ).scalars()
        ):
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    connection.commit()


def _raw_engine(request_id: int, ids: dict[str, int], limit: float) -> dict:
    """The engine's own rate for approve_issuance's writes, run just before it: the same block rows
    and issuance ledger rows (the same apportionment and serials, built in Python, untimed) written
    into twin tables and committed. The rows point at a placeholder issuance of the request, deleted
    with the twins afterwards, so the project's approval starts from the same state."""
    import sqlalchemy as sa

    from poa_manager.accounts.models import User
    from poa_manager.database import db, utcnow
    from poa_manager.monitoring.models import IssuanceRequest, IssuanceRequestLine
    from poa_manager.registry import serials, services
    from poa_manager.registry.models import AccountKind, Issuance

    postgres = db.engine.dialect.name == "postgresql"
    request = db.session.get(IssuanceRequest, request_id)
    credits = services.positive_verification(request).credits_verified
    lines = db.session.execute(
        sa.select(IssuanceRequestLine.site_id, IssuanceRequestLine.vintage, IssuanceRequestLine.claimed_tco2e)
        .where(IssuanceRequestLine.request_id == request_id)
        .order_by(IssuanceRequestLine.site_reference, IssuanceRequestLine.period_start)
    ).all()
    registry = db.session.get(User, ids["registry"])
    pending = services.account_of(registry.organisation_id, AccountKind.pending).id  # approval opens it too
    placeholder = db.session.scalar(
        sa.insert(Issuance)
        .values(
            request_id=request_id,
            programme_id=request.programme_id,
            pending_account_id=pending,
            credits=credits,
            requested_by_id=request.requested_by_id,
            approved_by_id=registry.id,
            approved_at=utcnow(),
            created_at=utcnow(),
        )
        .returning(Issuance.id)
    )
    db.session.commit()
    now = utcnow()
    stamp = now if postgres else now.replace(tzinfo=None).isoformat(" ")  # as UTCDateTime stores it
    parts = serials.apportion(credits, [claimed for _s, _v, claimed in lines])
    ranges = serials.allocate(1, [part for part in parts if part])
    issued = [(site_id, vintage) for (site_id, vintage, _c), part in zip(lines, parts, strict=True) if part]
    common = {"programme_id": request.programme_id, "issuance_id": placeholder}
    block_rows = [
        common
        | {
            "site_id": site_id,
            "vintage": vintage,
            "serial_start": r.start,
            "serial_end": r.end,
            "account_id": pending,
            "status": "active",
            "reserved_by_id": None,
            "authorization_status": "mitigation_outcome",
            "authorization_id": None,
            "created_at": stamp,
        }
        for (site_id, vintage), r in zip(issued, ranges, strict=True)
    ]
    ledger_rows = [
        common
        | {
            "kind": "issuance",
            "site_id": site_id,
            "vintage": vintage,
            "serial_start": r.start,
            "serial_end": r.end,
            "quantity": r.end - r.start + 1,
            "from_account_id": None,
            "to_account_id": pending,
            "transaction_id": None,
            "actor_id": registry.id,
            "recorded_at": stamp,
        }
        for (site_id, vintage), r in zip(issued, ranges, strict=True)
    ]
    db.session.close()

    figures: dict[str, float | str] = {"blocks": len(block_rows)}
    with db.engine.connect() as connection:
        twins = _twin_tables(connection, postgres)
        rows = {twins["credit_blocks"]: block_rows, twins["ledger_entries"]: ledger_rows}

        def timed(name: str, write) -> None:
            deadline = time.perf_counter() + limit
            written = [0]
            started = time.perf_counter()
            transaction = connection.begin()  # SQLite: BEGIN; psycopg: its implicit transaction
            try:
                for twin, records in rows.items():
                    write(twin, records, deadline, written)
                transaction.commit()
                figures[name] = time.perf_counter() - started
            except Stopped:
                elapsed = time.perf_counter() - started
                figures[name] = f"{elapsed:.2f} (stopped)"
                figures[name + "_written"] = written[0]
                transaction.rollback()
            for twin in rows:
                connection.exec_driver_sql(f"DELETE FROM {twin}")
            connection.commit()

        def executemany(twin, records, deadline, written) -> None:
            insert = sa.insert(sa.table(twin, *(sa.column(c) for c in records[0])))
            for first in range(0, len(records), RAW_BATCH):
                if time.perf_counter() > deadline:
                    raise Stopped
                batch = records[first : first + RAW_BATCH]
                connection.execute(insert, batch)
                written[0] += len(batch)

        def copy(twin, records, deadline, written) -> None:
            columns = list(records[0])
            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {twin} ({', '.join(columns)}) FROM STDIN") as stream:
                for k, record in enumerate(records):
                    if k % RAW_BATCH == 0 and time.perf_counter() > deadline:
                        raise Stopped
                    stream.write_row([record[c] for c in columns])
                    written[0] += 1

        timed("executemany_s", executemany)
        if postgres:
            timed("copy_s", copy)
        _drop_backstop(connection, twins["credit_blocks"], postgres)
        timed("plain_executemany_s", executemany)
        for twin in twins.values():
            connection.exec_driver_sql(f"DROP TABLE {twin}")
        connection.execute(sa.delete(Issuance).where(Issuance.id == placeholder))
        connection.commit()
    return figures


def project(engine_url: str, sites: int, tag: str, limit: float, profile_dir: str | None) -> dict:
    """The project's path on one database, in this (fresh) process."""
    import flask_migrate
    import sqlalchemy as sa

    from poa_manager import create_app
    from poa_manager.accounts.models import User
    from poa_manager.database import db, utcnow
    from poa_manager.monitoring.models import IssuanceRequest
    from poa_manager.registry import services
    from poa_manager.registry.models import (
        AccountKind,
        CreditBlock,
        FirstTransferDefinition,
        Issuance,
        LedgerEntry,
        Transaction,
        TransactionKind,
    )

    app = create_app("testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=engine_url)
    with app.app_context():
        flask_migrate.upgrade()
        started = time.perf_counter()
        ids = bv._world(tag)
        db.session.commit()
        setup_s = {"world": time.perf_counter() - started}
        request_id, seconds = _verified_request(ids, sites)
        setup_s |= seconds
        started = time.perf_counter()
        ids |= _participants(ids, tag)
        setup_s["participants and allocation"] = time.perf_counter() - started
        _analyze()
        setup_peak_mb = bv._peak_rss_mb()
        meter = _sql_meter(db.engine)

        def person(key: str) -> User:
            return db.session.get(User, ids[key])

        steps: dict[str, dict] = {}

        def measure(name: str, work, *, commit: bool = True, rows=None):
            """One step: seconds (commit included), statements, SQL seconds and its own peak RSS; past
            the limit it is stopped at its next statement and rolled back; a failure is kept."""
            missing = [needed for needed in NEEDS.get(name, []) if not steps.get(needed, {}).get("done")]
            if missing:
                steps[name] = {"skipped": f"skipped: {missing[0]} did not finish", "done": False}
                return None
            db.session.close()  # each step starts its own transaction, as a page does
            bv._reset_peak_rss()
            before, sql_before = meter["count"], meter["seconds"]
            profiler = cProfile.Profile() if profile_dir else None
            started = time.perf_counter()
            meter["deadline"] = started + limit
            stopped, error = False, None
            try:
                if profiler:
                    profiler.enable()
                result = work()
                if commit:
                    db.session.commit()
            except Stopped:
                result, stopped = None, True
            except Exception as exc:  # reported with the figures; the run goes on
                result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            finally:
                if profiler:
                    profiler.disable()
                meter["deadline"] = None
            elapsed = time.perf_counter() - started
            if stopped or error:
                db.session.rollback()
            if profiler:
                profiler.dump_stats(Path(profile_dir) / f"{db.engine.dialect.name}-{sites}-{name}.prof")
            steps[name] = {
                "s": elapsed,
                "statements": meter["count"] - before,
                "sql_s": meter["seconds"] - sql_before,
                "peak_mb": bv._peak_rss_mb(),
                "stopped": stopped,
                "error": error,
                "done": not stopped and not error,
                "rows": rows(result) if rows and result is not None else None,
            }
            return result

        # 1. Approval: one block and one ledger row per site; the raw engine's rate just before it.
        raw = _raw_engine(request_id, ids, limit / 2)
        issuance = measure(
            "approve_issuance",
            lambda: services.approve_issuance(
                db.session.get(IssuanceRequest, request_id), actor=person("registry")
            ),
            rows=lambda issuance: db.session.scalar(
                sa.select(sa.func.count())
                .select_from(CreditBlock)
                .where(CreditBlock.issuance_id == issuance.id)
            ),
        )
        issuance_id = issuance.id if issuance is not None else None
        credits = issuance.credits if issuance is not None else 0

        def issuance_now() -> Issuance:
            return db.session.get(Issuance, issuance_id)

        # 2. Forwarding by the allocation table.
        def forwarded_blocks(_issuance) -> int:
            return db.session.scalar(
                sa.select(sa.func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.issuance_id == issuance_id, LedgerEntry.kind != "issuance")
            )

        measure(
            "forward_issuance",
            lambda: services.forward_issuance(issuance_now(), actor=person("registry")),
            rows=forwarded_blocks,
        )

        # 3. Transfers of half a block each, the coordinating entity to Japan, one page each to
        # initiate and to approve.
        moved_ids: list[int] = []

        def transfer_all() -> int:
            source = services.account_of(ids["cme"], AccountKind.holding)
            destination = services.account_of(ids["japan"], AccountKind.holding).id
            block_ids = db.session.scalars(
                services.holdings(source)
                .where(CreditBlock.serial_end > CreditBlock.serial_start)
                .with_only_columns(CreditBlock.id)
                .limit(TRANSFERS)
            ).all()
            db.session.commit()
            for block_id in block_ids:
                block = db.session.get(CreditBlock, block_id)
                transaction = services.initiate_transaction(
                    block,
                    actor=person("coordinator"),
                    kind=TransactionKind.transfer,
                    quantity=block.quantity // 2,
                    to_account_id=destination,
                )
                db.session.commit()
                services.approve_transaction(transaction, actor=person("colleague"))
                db.session.commit()
                moved_ids.append(transaction.block_id)
            return len(moved_ids)

        measure("transfers", transfer_all, rows=lambda n: n)
        if steps["transfers"].get("stopped"):
            steps["transfers"]["rows"] = len(moved_ids)

        # 4. Reconciliation of the whole registry.
        reconciliation = measure(
            "reconcile",
            lambda: services.reconcile(actor=person("registry")),
            commit=False,
            rows=lambda r: r.blocks + r.ledger_entries,
        )

        # 5. The public lookup of one serial (a transferred sub-block when there is one) and the CSV.
        lookup = {}

        def look_up_five() -> list:
            target = (
                db.session.get(CreditBlock, moved_ids[0])
                if moved_ids
                else db.session.scalar(
                    sa.select(CreditBlock)
                    .where(CreditBlock.issuance_id == issuance_id)
                    .order_by(CreditBlock.id)
                )
            )
            serial = target.serial  # untimed inside the step: the figures are the five calls'
            timings, statements = [], []
            for _ in range(5):
                db.session.close()
                before, t = meter["count"], time.perf_counter()
                found = services.lookup_serial(serial)
                timings.append(time.perf_counter() - t)
                statements.append(meter["count"] - before)
            lookup.update(
                serial=serial,
                first_ms=1000 * timings[0],
                median_ms=1000 * statistics.median(timings),
                statements=statements[-1],
                blocks=len(found),
                entries=sum(len(h.entries) for h in found),
            )
            return found

        measure("lookup_serial", look_up_five, commit=False)
        csv = measure(
            "public_csv",
            lambda: services.public_csv("issuances"),
            commit=False,
            rows=lambda data: data.count(b"\n") - 1,
        )

        # 6. Article 6.2: the host government authorizes 10 % of the credits; the AEF report.
        quantity = max(credits // 10, 1)
        authorization = measure(
            "record_authorization",
            lambda: services.record_authorization(
                db.session.get(IssuanceRequest, request_id).programme,
                actor=person("government"),
                first_transfer_definition=FirstTransferDefinition.first_international_transfer,
                quantity_tco2e=quantity,
                **AUTHORIZATION,
            ),
        )
        authorization_id = authorization.id if authorization is not None else None
        measure(
            "authorize_units",
            lambda: services.authorize_units(
                services.get_authorization(authorization_id, actor=person("government")),
                actor=person("government"),
                quantity=quantity,
            ),
            rows=len,
        )
        year = utcnow().year
        report = measure(
            "generate_aef_report",
            lambda: services.generate_aef_report(actor=person("government"), party="VN", year=year),
            rows=lambda r: len(r.content["tables"]["T4 Holdings"]),
        )
        tables = {name: len(rows) for name, rows in report.content["tables"].items()} if report else {}
        db.session.close()
        counts = {
            "blocks": db.session.scalar(sa.select(sa.func.count()).select_from(CreditBlock)),
            "ledger": db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)),
            "transactions": db.session.scalar(sa.select(sa.func.count()).select_from(Transaction)),
        }
        db.session.rollback()

        return {
            "sites": sites,
            "setup_s": setup_s,
            "setup_peak_mb": setup_peak_mb,
            "steps": steps,
            "raw": raw,
            "credits": credits,
            "authorized": quantity,
            "lookup": lookup,
            "csv_mb": None if csv is None else len(csv) / 1e6,
            "reconcile_clean": None if reconciliation is None else reconciliation.clean,
            "discrepancies": [] if reconciliation is None else reconciliation.discrepancies[:3],
            "aef_tables": tables,
            "aef_year": year,
            "counts": counts,
            "peak_rss_mb": max((s["peak_mb"] for s in steps.values() if "peak_mb" in s), default=0),
        }


def _in_subprocess(engine_url: str, sites: int, tag: str, limit: float, profile_dir: str | None) -> dict:
    command = [sys.executable, __file__, "--project", engine_url, str(sites), tag, "--step-limit", str(limit)]
    if profile_dir:
        command += ["--profile", profile_dir]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {sites}-site run on {engine_url} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run(engine: str, sites: int, limit: float, profile_dir: str | None) -> dict:
    tag = f"{os.getpid()}-{sites}"
    if engine == "SQLite":
        with tempfile.TemporaryDirectory() as scratch:
            return _in_subprocess(f"sqlite:///{scratch}/bench.sqlite3", sites, tag, limit, profile_dir)
    url = os.environ.get("POA_BENCH_DATABASE_URL")
    if url:
        return _in_subprocess(url, sites, tag, limit, profile_dir)  # the caller's database: unique names
    name = f"bench_registry_{os.getpid()}_{sites}"
    bv._scratch_database(name, create=True)
    try:
        return _in_subprocess(f"{bv.SERVER}/{name}", sites, tag, limit, profile_dir)
    finally:
        bv._scratch_database(name, create=False)


def _row(engine, sites, label, seconds, rows="", rate="", sql="", sql_s="", mb="", ratio="") -> str:
    sites = f"{sites:,}" if isinstance(sites, int) else sites
    return (
        f"{engine:<11} {sites:>8} {label:<29} {seconds:>15} {rows:>9} {rate:>11} {sql:>8} {sql_s:>7} {mb:>8}"
        f" {ratio:>7}"
    ).rstrip()


def _print(engine: str, ours: dict) -> None:
    steps, raw, sites = ours["steps"], ours["raw"], ours["sites"]
    for key, label in STEPS:
        step = steps[key]
        if "skipped" in step:
            print(_row(engine, sites, label, step["skipped"]))
            continue
        if step["error"]:
            seconds = "failed"
        elif step["stopped"]:
            seconds = f"{step['s']:.2f} (stopped)"
        else:
            seconds = f"{step['s']:.2f}"
        rows = step["rows"]
        rate = f"{rows / step['s']:,.0f}" if rows and step["s"] and not step["error"] else ""
        if key == "transfers" and rows:
            rate = f"{1000 * step['s'] / rows:.1f} ms/tx"
        print(
            _row(
                engine,
                sites,
                label,
                seconds,
                "" if rows is None else f"{rows:,}",
                rate,
                f"{step['statements']:,}",
                f"{step['sql_s']:.2f}",
                f"{step['peak_mb']:.0f}",
            )
        )
        if key == "approve_issuance" and raw:
            blocks = raw["blocks"]
            for name, text in (
                ("executemany_s", "  raw Core executemany"),
                ("copy_s", "  raw COPY"),
                ("plain_executemany_s", "  raw Core, no overlap check"),
            ):
                value = raw.get(name)
                if isinstance(value, str):  # stopped: how far it got
                    written = min(raw[name + "_written"], blocks)
                    rate = f"{written / float(value.split()[0]):,.0f}"
                    print(_row(engine, sites, text, value, f"{written:,}", rate))
                elif value is not None:
                    ratio = f"{step['s'] / value:.1f}×" if step["done"] else ""
                    print(
                        _row(
                            engine,
                            sites,
                            text,
                            f"{value:.2f}",
                            f"{blocks:,}",
                            f"{blocks / value:,.0f}",
                            ratio=ratio,
                        )
                    )
        if key == "lookup_serial" and ours["lookup"]:
            look = ours["lookup"]
            print(
                _row(
                    engine,
                    sites,
                    "  one call (median of 5)",
                    f"{look['median_ms']:.1f} ms",
                    f"{look['entries']}",
                    f"first {look['first_ms']:.0f} ms",
                    f"{look['statements']}",
                )
            )
    pad = " " * 11
    setup = ", ".join(f"{k} {v:.2f}" for k, v in ours["setup_s"].items())
    print(f"{pad} setup (s, not in the figures): {setup}; peak {ours['setup_peak_mb']:.0f} MB")
    clean = {True: "clean", False: f"NOT clean: {'; '.join(ours['discrepancies'])}", None: "not run"}
    counts = ours["counts"]
    authorized = ours["authorized"] if steps["authorize_units"].get("done") else 0
    print(
        f"{pad} {ours['credits']:,} credits issued; at the end {counts['blocks']:,} blocks,"
        f" {counts['ledger']:,} ledger rows, {counts['transactions']} transactions;"
        f" reconciliation {clean[ours['reconcile_clean']]}; issuances CSV {ours['csv_mb'] or 0:.1f} MB;"
        f" {authorized:,} units authorized; AEF {ours['aef_year']} rows per table"
        f" {list(ours['aef_tables'].values())}"
    )
    for key, _label in STEPS:
        if steps[key].get("error"):
            print(f"{pad} {key} FAILED after {steps[key]['s']:.2f} s: {steps[key]['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help="sites per request, comma-separated")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--step-limit", type=float, default=STEP_LIMIT, help="seconds before a step is stopped"
    )
    parser.add_argument("--profile", metavar="DIR", help="write a cProfile file per step into DIR")
    parser.add_argument("--project", nargs=3, metavar=("URL", "SITES", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        args.profile = str(Path(args.profile).resolve())
    if args.project:
        url, sites, tag = args.project
        print(json.dumps(project(url, int(sites), tag, args.step_limit, args.profile)))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        "registry: one verified issuance request (claims 100.5–160.5 tCO2e, all sampled sites conforming),"
        " allocation 50 % Japan / 10 % Viet Nam / 40 % the coordinating entity"
    )
    print("(seconds per step, commit included; rows = blocks written (1, 2 and raw: a block and a ledger row")
    print(
        " each), transfers, blocks + ledger rows read (4), CSV lines (5), blocks authorized, AEF T4 rows (6);"
    )
    print(
        " SQL = statements sent (an executemany batch counts once); SQL s = seconds in the driver's execute;"
    )
    print(f" a step past {args.step_limit:.0f} s is stopped at its next statement and rolled back;")
    print(" raw = Core executemany / COPY of the same block and ledger rows into twin tables, committed;")
    print(" vs raw = approve_issuance s / raw s; the raw lines stop at half the step limit)")
    header = _row("engine", "sites", "step", "s", "rows", "rows/s", "SQL", "SQL s", "peak MB", "vs raw")
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    engines = ([] if args.skip_sqlite else ["SQLite"]) + ([] if args.skip_postgres else ["PostgreSQL"])
    for engine in engines:
        for sites in sizes:
            run_started = time.perf_counter()
            ours = _run(engine, sites, args.step_limit, args.profile)
            _print(engine, ours)
            print(
                f"{'':<11} (this run, setup included: {time.perf_counter() - run_started:.0f} s)", flush=True
            )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
