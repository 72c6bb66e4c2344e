"""Meter readings: receiving uploads, checking and writing them in bulk, corrections, meter records.

A file is checked whole before anything is written (a rejected file writes nothing), then its
rows go in with the engine's own bulk path: `executemany` on SQLite, `COPY` on PostgreSQL. The ORM
would be 20× slower and need gigabytes for a year of data (performance.md, "the ORM trap").
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from time import perf_counter
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotFound, RuleViolation
from poa_manager.monitoring import data_quality, policies, readings_file
from poa_manager.monitoring.models import (
    MeterCalibration,
    MeterReadingStatus,
    MeterReplacement,
    Reading,
    ReadingUpload,
    UploadSource,
    UploadStatus,
    to_epoch,
)
from poa_manager.programmes.models import Programme
from poa_manager.sites.models import CLAIMING_STATUSES, Meter, ReadingType, Site
from poa_manager.sites.services import guard, records

Progress = Callable[[str, int, int | None], None]
ALLOWED_EXTENSIONS = (".csv", ".xlsx")
ERRORS_KEPT = 1_000  # shown on the page and in the API; the error count stays exact
INSERT_BATCH_ROWS = 50_000  # performance.md: batches of 10k–100k rows
PROGRESS_EVERY_ROWS = 50_000
ANALYZE_AFTER_ROWS = 100_000

# Where a site declares no time zone: the host country's, for countries with a single zone.
COUNTRY_TIMEZONES = {
    "VN": "Asia/Ho_Chi_Minh",
    "TH": "Asia/Bangkok",
    "KH": "Asia/Phnom_Penh",
    "LA": "Asia/Vientiane",
    "MM": "Asia/Yangon",
    "PH": "Asia/Manila",
    "BD": "Asia/Dhaka",
    "LK": "Asia/Colombo",
    "JP": "Asia/Tokyo",
    "KE": "Africa/Nairobi",
    "UZ": "Asia/Tashkent",
    "KG": "Asia/Bishkek",
    "GE": "Asia/Tbilisi",
    "SN": "Africa/Dakar",
    "ET": "Africa/Addis_Ababa",
    "CR": "America/Costa_Rica",
}


def site_timezone(site: Site) -> str | None:
    return zone_for(site.timezone, site.programme.host_country)


def zone_for(timezone: str | None, host_country: str) -> str | None:
    """The site's declared zone, else its host country's when the country has only one."""
    return timezone or COUNTRY_TIMEZONES.get(host_country.upper())


def local_midnight(day: date, zone: str | None) -> int:
    """Epoch seconds of a site-local midnight: crediting dates and periods are local dates."""
    tzinfo = ZoneInfo(zone) if zone else UTC
    return to_epoch(datetime.combine(day, time(0), tzinfo))


# --- receiving ----------------------------------------------------------------------------------


def receive_readings(
    programme: Programme,
    *,
    actor: User,
    filename: str,
    stream: IO[bytes],
    folder: Path,
    source: UploadSource = UploadSource.web,
    site: Site | None = None,
    batch_id: str | None = None,
    now: datetime | None = None,
) -> tuple[ReadingUpload, bool]:
    """Keep the file (by its hash) and record the upload; checking it is `ingest_upload`'s job.

    Returns the upload and whether it is new. A batch id seen before from the same uploader with
    the same content returns the first upload: a logger that re-sends never double counts.
    """
    if not policies.can_send_readings(actor, programme):
        raise NotAllowed("Only the programme's coordinator or a site operator can send readings.")
    if site is not None and site.programme_id != programme.id:
        raise InvalidInput(f"{site.reference} is not in {programme.reference}.")
    if site is not None and not db.session.scalar(
        policies.writable_sites(actor, programme).where(Site.id == site.id).with_only_columns(Site.id)
    ):
        raise NotAllowed(f"You cannot send readings for {site.reference}.")
    filename = _clean_filename(filename)
    extension = Path(filename).suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise InvalidInput(
            "Upload a .csv or .xlsx file.",
            errors={"file": [f"{extension or 'no extension'} is not accepted"]},
        )
    sha256, size, stored_name = _keep_file(stream, folder, extension)
    if size == 0:
        raise InvalidInput("The file is empty.", errors={"file": ["The file is empty."]})
    if batch_id:
        earlier = db.session.scalar(
            sa.select(ReadingUpload).where(
                ReadingUpload.uploaded_by_id == actor.id, ReadingUpload.batch_id == batch_id
            )
        )
        if earlier is not None:
            if earlier.content_sha256 != sha256:
                raise RuleViolation(
                    f"Batch {batch_id} was already sent with different readings; use a new batch id.",
                    code="batch_id_reused",
                )
            return earlier, False
    upload = ReadingUpload(
        programme=programme,
        site=site,
        uploaded_by_id=actor.id,
        uploaded_at=now or utcnow(),
        source=source,
        filename=filename,
        content_sha256=sha256,
        byte_size=size,
        stored_name=stored_name,
        batch_id=batch_id or None,
        status=UploadStatus.queued,
    )
    db.session.add(upload)
    db.session.flush()
    audit.record(
        "readings.upload_received",
        actor=actor,
        entity_type="reading_upload",
        entity_id=upload.id,
        after={"filename": filename, "sha256": sha256, "bytes": size, "source": source.value},
    )
    return upload, True


def _clean_filename(filename: str) -> str:
    # Control characters out: PostgreSQL text refuses NUL, and none belongs in a name shown on pages.
    filename = "".join(c for c in filename if c.isprintable())
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "upload.csv"


def _keep_file(stream: IO[bytes], folder: Path, extension: str) -> tuple[str, int, str]:
    """Copy the upload to `folder` while hashing it; the original stays as evidence (§7)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as target:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    stored_name = f"{digest.hexdigest()}{extension}"
    os.replace(target.name, folder / stored_name)  # same content, same name: kept once
    return digest.hexdigest(), size, stored_name


def stored_file(upload: ReadingUpload, folder: Path) -> Path:
    if not upload.stored_name:
        raise InvalidInput(f"Upload {upload.id} has no file (it was a {upload.source.value}).")
    return folder / upload.stored_name


# --- checking and writing -----------------------------------------------------------------------


@dataclass(frozen=True)
class IngestOutcome:
    accepted: bool
    rows_total: int
    rows_written: int
    rows_already_stored: int
    error_count: int
    seconds: dict[str, float] = field(default_factory=dict)  # per stage: parse, check, write


def start_upload(upload: ReadingUpload, *, now: datetime | None = None) -> None:
    if upload.status is not UploadStatus.queued:
        raise RuleViolation(f"Upload {upload.id} is {upload.status.value}.", code="upload_not_queued")
    upload.status = UploadStatus.processing
    upload.started_at = now or utcnow()


def ingest_upload(
    upload: ReadingUpload, *, folder: Path, now: datetime | None = None, progress: Progress | None = None
) -> IngestOutcome:
    """Check every row of the upload's file; write all of them, or none and keep the errors."""
    now = now or utcnow()
    clock = _Stopwatch()
    actor = db.session.get(User, upload.uploaded_by_id)
    meters = meter_specs(upload.programme, actor=actor, site=upload.site)
    path = stored_file(upload, folder)
    with open(path, "rb") as raw:
        if path.suffix.lower() == ".xlsx":
            parsed = readings_file.parse_xlsx_bytes(raw.read(), meters, now=to_epoch(now))
        else:
            size = path.stat().st_size
            parsed = readings_file.parse_csv_stream(
                raw,
                meters,
                now=to_epoch(now),
                progress=(lambda done: progress("reading", done, size)) if progress else None,
            )
    clock.lap("parse")
    if progress:
        progress("checking", 0, None)
    checked = readings_file.check_sequences(parsed, stored_tails(parsed))
    clock.lap("check")
    upload.rows_total = checked.rows_total
    upload.rows_already_stored = checked.already_stored
    upload.error_count = checked.error_count
    if checked.error_count:
        upload.finished_at = utcnow()
        upload.status = UploadStatus.rejected
        upload.errors = [error.as_dict() for error in checked.errors[:ERRORS_KEPT]]
        _audit_outcome(upload, actor, "readings.upload_rejected")
        return IngestOutcome(
            False, checked.rows_total, 0, checked.already_stored, checked.error_count, clock.laps
        )
    writing = (lambda phase, done, _total: progress(phase, done, checked.rows_new)) if progress else None
    tally = StatusTally()
    written = write_readings(tally.counted(checked.rows_for_insert()), upload_id=upload.id, progress=writing)
    tally.record()
    upload.rows_written = written
    upload.status = UploadStatus.accepted
    # After the write: a report submitted while this import ran must see it as a discrepancy.
    upload.finished_at = utcnow()
    upload.errors = []
    _audit_outcome(upload, actor, "readings.upload_accepted")
    clock.lap("write")
    return IngestOutcome(True, checked.rows_total, written, checked.already_stored, 0, clock.laps)


class _Stopwatch:
    """Seconds per stage of an import, for logs and the benchmark."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = perf_counter()

    def lap(self, stage: str) -> None:
        now = perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now


def requeue_stale_uploads(*, started_before: datetime) -> list[ReadingUpload]:
    """Uploads a worker started before `started_before` and never finished: the worker died
    (killed, out of memory, host restarted) and its job left the queue with it. Nothing of theirs
    was written, as an import commits once at the end, so they go back to "queued" to run again."""
    stale = db.session.scalars(
        sa.select(ReadingUpload)
        .where(ReadingUpload.status == UploadStatus.processing, ReadingUpload.started_at < started_before)
        .order_by(ReadingUpload.id)
        # Two workers sweeping at once: the second skips what the first is re-queuing (PostgreSQL;
        # SQLite's sweepers queue on the write lock, and the first one's commit empties the list).
        .with_for_update(skip_locked=True)
    ).all()
    for upload in stale:
        started = upload.started_at
        upload.status = UploadStatus.queued
        upload.started_at = None
        audit.record(
            "readings.upload_requeued",
            actor=None,
            entity_type="reading_upload",
            entity_id=upload.id,
            data={"started_at": started, "reason": "the worker stopped before finishing"},
        )
    return stale


def fail_upload(upload: ReadingUpload, message: str) -> None:
    """The job broke (not the data): nothing was written; say so on the upload."""
    upload.status = UploadStatus.failed
    upload.failure = message[:1000]
    upload.finished_at = utcnow()
    audit.record(
        "readings.upload_failed",
        actor=None,
        entity_type="reading_upload",
        entity_id=upload.id,
        data={"failure": upload.failure},
    )


def _audit_outcome(upload: ReadingUpload, actor: User | None, action: str) -> None:
    audit.record(
        action,
        actor=actor,
        entity_type="reading_upload",
        entity_id=upload.id,
        data={
            "rows": upload.rows_total,
            "written": upload.rows_written,
            "already_stored": upload.rows_already_stored,
            "errors": upload.error_count,
            "sha256": upload.content_sha256,
        },
    )


def meter_specs(programme: Programme, *, actor: User | None, site: Site | None = None) -> dict:
    """Every meter the actor may send readings for, keyed as the file names it.

    Meters the actor may not write to are simply absent, so the file gets "unknown site or meter"
    for them, never a hint that they exist.
    """
    if actor is None:
        return {}
    sites = policies.writable_sites(actor, programme)
    if site is not None:
        sites = sites.where(Site.id == site.id)
    site_rows = db.session.scalars(sites).all()
    by_id = {s.id: s for s in site_rows}
    meters = db.session.scalars(sa.select(Meter).where(Meter.site_id.in_(list(by_id)))).all() if by_id else []
    specs = {}
    for meter in meters:
        owner = by_id[meter.site_id]
        zone = site_timezone(owner)
        spec = readings_file.MeterSpec(
            meter_id=meter.id,
            site_id=owner.id,
            site_ref=owner.reference,
            serial=meter.serial,
            role=meter.role.value,
            unit=meter.unit.value,
            multiplier=meter.multiplier,
            cumulative=meter.reading_type is ReadingType.cumulative,
            register_digits=meter.register_digits,
            capacity_kw=owner.capacity_kw,
            timezone=zone,
            credit_from=local_midnight(owner.crediting_start, zone) if owner.crediting_start else None,
            credit_until=(
                local_midnight(owner.crediting_end + timedelta(days=1), zone) if owner.crediting_end else None
            ),
            active_from=to_epoch(meter.installed_at) if meter.installed_at else None,
            active_until=to_epoch(meter.removed_at) if meter.removed_at else None,
        )
        specs[(owner.reference.casefold(), meter.serial)] = spec
    return specs


def id_list(ids: list[int]) -> sa.BindParameter:
    """Integer ids rendered into the statement: thousands of bound parameters cost psycopg more
    to place than the query costs to run (profiled), and integers need no quoting."""
    return sa.bindparam("ids", [int(i) for i in ids], expanding=True, literal_execute=True)


def is_current(reading=Reading):
    """A condition: no later version of this reading exists (the ones every total counts).

    NOT EXISTS over the primary key (meter, end, version): both engines make it an anti-join.
    """
    later = aliased(Reading)
    return ~sa.exists().where(
        later.meter_id == reading.meter_id,
        later.reading_end == reading.reading_end,
        later.version > reading.version,
    )


def any_corrections() -> bool:
    """Whether any reading was ever corrected (one probe of the partial index)."""
    return db.session.scalar(sa.select(Reading.meter_id).where(Reading.version > 1).limit(1)) is not None


def stored_tails(parsed) -> dict[int, readings_file.StoredTail]:
    """What the database holds around the file's time range, per meter, for the sequence checks.

    One query per chunk of meters, not one per meter: a 10,000-site file would otherwise spend
    its time on round trips.
    """
    ranges = parsed.ranges()
    found: dict[int, list[tuple[int, int, int]]] = {}
    meter_ids = sorted(ranges)
    for chunk_start in range(0, len(meter_ids), 1_000):
        chunk = meter_ids[chunk_start : chunk_start + 1_000]
        first = min(ranges[m][0] for m in chunk)
        last = max(ranges[m][1] for m in chunk)
        rows = db.session.execute(
            sa.select(Reading.meter_id, Reading.reading_start, Reading.reading_end, Reading.energy_wh)
            .where(
                Reading.meter_id.in_(id_list(chunk)),
                Reading.reading_end >= first,
                Reading.reading_start <= last,
                is_current(),
            )
            .order_by(Reading.meter_id, Reading.reading_start)
        )
        for meter_id, start, end, energy in rows:
            meter_first, meter_last = ranges[meter_id]
            if end >= meter_first and start <= meter_last:
                found.setdefault(meter_id, []).append((start, end, energy))
    tails = {}
    for meter_id in meter_ids:
        last_register = None
        if parsed.is_cumulative(meter_id):
            row = db.session.execute(
                sa.select(Reading.reading_end, Reading.register_wh)
                .where(Reading.meter_id == meter_id, Reading.reading_end <= ranges[meter_id][0], is_current())
                .order_by(Reading.reading_end.desc())
                .limit(1)
            ).first()
            last_register = (row[0], row[1]) if row else None
        if meter_id in found or last_register:
            tails[meter_id] = readings_file.StoredTail(
                meter_id=meter_id, readings=found.get(meter_id, []), last_register=last_register
            )
    return tails


_COLUMNS = (
    "meter_id",
    "reading_start",
    "reading_end",
    "energy_wh",
    "register_wh",
    "flags",
    "upload_id",
    "version",
)


def write_readings(rows, *, upload_id: int, progress: Progress | None = None) -> int:
    """Insert checked rows through the engine's bulk path, inside the caller's transaction."""
    connection = db.session.connection()
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        written = _copy_rows(dbapi, rows, upload_id, progress)
        if written >= ANALYZE_AFTER_ROWS:
            # Fresh statistics, or the planner sizes the next roll-up for the table as it was.
            connection.exec_driver_sql("ANALYZE readings")
        return written
    return _executemany_rows(dbapi, rows, upload_id, progress)


class StatusTally:
    """Per meter, the rows of one import as they stream to the database: first and last reading
    end, how many, how many flagged. Imports only add new intervals (a row identical to a stored
    one is skipped, an overlapping one rejects the file), so these add to `meter_reading_status`
    without reading the readings table back."""

    def __init__(self) -> None:
        self.meters: dict[int, list[int]] = {}  # meter id -> [first end, last end, count, flagged]

    def counted(self, rows):
        meters = self.meters
        for row in rows:
            meter_id, end, flags = row[0], row[2], row[5]
            tally = meters.get(meter_id)
            if tally is None:
                meters[meter_id] = [end, end, 1, 1 if flags else 0]
            else:
                if end < tally[0]:
                    tally[0] = end
                elif end > tally[1]:
                    tally[1] = end
                tally[2] += 1
                if flags:
                    tally[3] += 1
            yield row

    def record(self) -> None:
        """Add the tally to the status rows: one upsert statement, executed for every touched meter
        in one batch (sqlite3 executemany; psycopg pipelines it). Compiling one multi-row VALUES
        statement per chunk instead cost SQLAlchemy more than the database (measured)."""
        if not self.meters:
            return
        status = MeterReadingStatus.__table__
        statement = _upsert(status)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[status.c.meter_id],
            set_={
                "first_reading_end": sa.case(
                    (new.first_reading_end < status.c.first_reading_end, new.first_reading_end),
                    else_=status.c.first_reading_end,
                ),
                "last_reading_end": sa.case(
                    (new.last_reading_end > status.c.last_reading_end, new.last_reading_end),
                    else_=status.c.last_reading_end,
                ),
                "reading_count": status.c.reading_count + new.reading_count,
                "flagged_count": status.c.flagged_count + new.flagged_count,
            },
        )
        db.session.execute(
            statement,
            [
                {
                    "meter_id": meter_id,
                    "first_reading_end": first,
                    "last_reading_end": last,
                    "reading_count": count,
                    "flagged_count": flagged,
                }
                for meter_id, (first, last, count, flagged) in sorted(self.meters.items())
            ],
        )


def refresh_reading_status(meter_ids: list[int]) -> None:
    """Recompute the status rows of a few meters from their current readings (one grouped
    INSERT … SELECT … ON CONFLICT): for corrections, which supersede instead of adding."""
    if not meter_ids:
        return
    status = MeterReadingStatus.__table__
    aggregate = (
        sa.select(
            Reading.meter_id,
            sa.func.min(Reading.reading_end),
            sa.func.max(Reading.reading_end),
            sa.func.count(),
            sa.func.sum(sa.case((Reading.flags != 0, 1), else_=0)),
        )
        # A WHERE clause is required: SQLite would otherwise read ON CONFLICT as a join's ON.
        .where(Reading.meter_id.in_(id_list(meter_ids)), is_current())
        .group_by(Reading.meter_id)
    )
    statement = _upsert(status).from_select(
        ["meter_id", "first_reading_end", "last_reading_end", "reading_count", "flagged_count"], aggregate
    )
    new = statement.excluded
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[status.c.meter_id],
            set_={
                "first_reading_end": new.first_reading_end,
                "last_reading_end": new.last_reading_end,
                "reading_count": new.reading_count,
                "flagged_count": new.flagged_count,
            },
        )
    )


def _upsert(table):
    """INSERT … ON CONFLICT in the session's dialect (SQLite ≥ 3.24 and PostgreSQL share it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def _executemany_rows(dbapi, rows, upload_id: int, progress: Progress | None) -> int:
    # The column names are this module's constants and every value is a bound parameter.
    sql = "INSERT INTO readings (" + ", ".join(_COLUMNS) + ") VALUES (?, ?, ?, ?, ?, ?, ?, 1)"  # nosec B608
    cursor = dbapi.cursor()
    written = 0
    batch: list[tuple] = []
    try:
        for meter_id, start, end, energy, register, flags in rows:
            batch.append((meter_id, start, end, energy, register, flags, upload_id))
            if len(batch) >= INSERT_BATCH_ROWS:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch.clear()
                if progress:
                    progress("writing", written, None)
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    finally:
        cursor.close()
    return written


_COPY_NULL = "\\N"


def _copy_rows(dbapi, rows, upload_id: int, progress: Progress | None) -> int:
    # COPY's text format: tab-separated, \N for NULL; every value here is an integer.
    suffix = f"\t{upload_id}\t1\n"
    written = 0
    with dbapi.cursor() as cursor:
        # The queued writer sends from a thread of its own, so formatting the next batch here
        # overlaps with the server inserting the last one (two cores: performance.md).
        statement = f"COPY readings ({', '.join(_COLUMNS)}) FROM STDIN"
        with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
            chunk: list[str] = []
            for meter_id, start, end, energy, register, flags in rows:
                register_text = _COPY_NULL if register is None else register
                chunk.append(f"{meter_id}\t{start}\t{end}\t{energy}\t{register_text}\t{flags}{suffix}")
                if len(chunk) >= INSERT_BATCH_ROWS:
                    copy.write("".join(chunk))
                    written += len(chunk)
                    chunk.clear()
                    if progress:
                        progress("writing", written, None)
            if chunk:
                copy.write("".join(chunk))
                written += len(chunk)
    return written


# --- reading the readings -----------------------------------------------------------------------


def list_uploads(actor: User, *, programme: Programme | None = None, site: Site | None = None) -> sa.Select:
    query = policies.visible_uploads(actor).order_by(ReadingUpload.id.desc())
    if programme is not None:
        query = query.where(ReadingUpload.programme_id == programme.id)
    if site is not None:
        query = query.where(ReadingUpload.site_id == site.id)
    return query


def get_upload(upload_id: int, *, actor: User) -> ReadingUpload:
    return one_or_not_found(
        policies.visible_uploads(actor).where(ReadingUpload.id == upload_id), f"No upload {upload_id}."
    )


def list_readings(
    site: Site,
    *,
    actor: User,
    meter: Meter | None = None,
    starts_from: int | None = None,
    ends_by: int | None = None,
    upload: ReadingUpload | None = None,
    include_superseded: bool = False,
) -> sa.Select:
    """A site's readings, newest first; the caller pages through them."""
    records.get_site(site.id, actor=actor)  # visibility
    query = (
        sa.select(Reading)
        .join(Meter, Meter.id == Reading.meter_id)
        .where(Meter.site_id == site.id)
        .order_by(Reading.reading_start.desc(), Reading.meter_id, Reading.version.desc())
    )
    if not include_superseded:
        query = query.where(is_current())
    if meter is not None:
        query = query.where(Reading.meter_id == meter.id)
    if starts_from is not None:
        query = query.where(Reading.reading_start >= starts_from)
    if ends_by is not None:
        query = query.where(Reading.reading_end <= ends_by)
    if upload is not None:
        query = query.where(Reading.upload_id == upload.id)
    return query


def get_meter(meter_id: int, *, actor: User, site: Site | None = None) -> Meter:
    """A meter whose site the actor may see (of `site`, when given); NotFound otherwise."""
    meter = db.session.get(Meter, meter_id)
    if meter is None or (site is not None and meter.site_id != site.id):
        raise NotFound(f"No meter {meter_id}.")
    records.get_site(meter.site_id, actor=actor)
    return meter


def calibration_history(meter: Meter) -> list[MeterCalibration]:
    return list(
        db.session.scalars(
            sa.select(MeterCalibration)
            .where(MeterCalibration.meter_id == meter.id)
            .order_by(MeterCalibration.calibrated_on)
        )
    )


def replacement_of(meter: Meter) -> MeterReplacement | None:
    """The replacement the meter took part in, as the old or the new meter."""
    return db.session.scalar(
        sa.select(MeterReplacement).where(
            sa.or_(MeterReplacement.old_meter_id == meter.id, MeterReplacement.new_meter_id == meter.id)
        )
    )


def get_reading(meter_id: int, reading_end: int, version: int, *, actor: User) -> Reading:
    reading = one_or_not_found(
        sa.select(Reading).where(
            Reading.meter_id == meter_id, Reading.reading_end == reading_end, Reading.version == version
        ),
        "No such reading.",
    )
    records.get_site(reading.meter.site_id, actor=actor)  # 404 unless the site is visible
    return reading


def reading_history(reading: Reading) -> list[Reading]:
    """Every version of the reading, oldest first: the original stays visible beside corrections."""
    return list(
        db.session.scalars(
            sa.select(Reading)
            .where(Reading.meter_id == reading.meter_id, Reading.reading_end == reading.reading_end)
            .order_by(Reading.version)
        )
    )


# --- corrections and meter records --------------------------------------------------------------


def correct_reading(
    reading: Reading, *, actor: User, value: Decimal | str, reason: str, now: datetime | None = None
) -> Reading:
    """Supersede a reading with a corrected value (in the meter's unit), keeping the original.

    For a cumulative meter the value is the interval's energy, not a register reading.
    """
    meter = reading.meter
    if not policies.can_keep_meter_records(actor, meter.site):
        raise NotAllowed("Only the site's operator or the programme's coordinator can correct readings.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the reading is corrected.", errors={"reason": ["A reason is required."]})
    if not db.session.scalar(sa.select(is_current(reading))):
        raise RuleViolation(
            "This reading was already corrected; correct the latest version.", code="superseded"
        )
    energy_wh = _energy_wh(value, meter)
    now = now or utcnow()
    payload = json.dumps({"reading": reading.key, "energy_wh": energy_wh, "reason": reason}, sort_keys=True)
    upload = ReadingUpload(
        programme_id=meter.site.programme_id,
        site_id=meter.site_id,
        uploaded_by_id=actor.id,
        uploaded_at=now,
        source=UploadSource.correction,
        content_sha256=hashlib.sha256(payload.encode()).hexdigest(),
        byte_size=len(payload),
        reason=reason[:1000],
        status=UploadStatus.accepted,
        started_at=now,
        finished_at=now,
        rows_total=1,
        rows_written=1,
    )
    corrected = Reading(
        meter_id=reading.meter_id,
        reading_start=reading.reading_start,
        reading_end=reading.reading_end,
        energy_wh=energy_wh,
        register_wh=reading.register_wh,
        flags=reading.flags,
        upload=upload,
        version=reading.version + 1,
    )
    try:
        # The primary key refuses a concurrent second correction of the same version here.
        with db.session.begin_nested():
            db.session.add_all([upload, corrected])
            db.session.flush()
    except IntegrityError:
        raise RuleViolation(
            "This reading was corrected a moment ago; correct the latest version.", code="superseded"
        ) from None
    refresh_reading_status([reading.meter_id])
    audit.record(
        "reading.corrected",
        actor=actor,
        entity_type="reading",
        entity_id=f"{reading.meter_id}:{reading.reading_end}",
        before={"energy_wh": reading.energy_wh, "version": reading.version},
        after={"energy_wh": energy_wh, "version": corrected.version},
        data={"reason": reason, "meter": meter.serial},
    )
    return corrected


def _energy_wh(value: Decimal | str, meter: Meter) -> int:
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput("Enter a number.", errors={"value": [f"{value!r} is not a number."]}) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("Energy cannot be negative.", errors={"value": ["Enter zero or more."]})
    energy = amount * meter.unit.wh_per_unit * meter.multiplier
    if energy != energy.to_integral_value():
        raise InvalidInput(
            "Readings are kept to the watt-hour.",
            errors={"value": ["More precise than 1 Wh after the multiplier."]},
        )
    return int(energy)


def record_calibration(
    meter: Meter,
    *,
    actor: User,
    calibrated_on: date,
    valid_until: date,
    error_found_percent: Decimal | None = None,
    certificate_reference: str | None = None,
) -> MeterCalibration:
    """Add a calibration to the meter's history; the meter shows the latest one."""
    if not policies.can_keep_meter_records(actor, meter.site):
        raise NotAllowed("Only the site's operator or the programme's coordinator can record calibrations.")
    if valid_until < calibrated_on:
        raise InvalidInput(
            "The validity ends before the calibration.",
            errors={"valid_until": ["On or after the calibration date."]},
        )
    calibration = MeterCalibration(
        meter=meter,
        calibrated_on=calibrated_on,
        valid_until=valid_until,
        error_found_percent=error_found_percent,
        certificate_reference=(certificate_reference or "").strip() or None,
        recorded_by_id=actor.id,
    )
    db.session.add(calibration)
    if meter.calibrated_on is None or calibrated_on >= meter.calibrated_on:
        meter.calibrated_on, meter.calibration_valid_until = calibrated_on, valid_until
    db.session.flush()
    audit.record(
        "meter.calibrated",
        actor=actor,
        entity_type="meter",
        entity_id=meter.id,
        after={
            "calibrated_on": calibrated_on,
            "valid_until": valid_until,
            "error_found_percent": error_found_percent,
            "certificate": calibration.certificate_reference,
        },
    )
    return calibration


def calibrations_of(meters: list[Meter]) -> dict[int, list[data_quality.Calibration]]:
    """Each meter's calibration history, the site record's calibration included; one query."""
    found: dict[int, list[data_quality.Calibration]] = {meter.id: [] for meter in meters}
    ids = list(found)
    for start in range(0, len(ids), 5_000):
        history = db.session.scalars(
            sa.select(MeterCalibration)
            .where(MeterCalibration.meter_id.in_(id_list(ids[start : start + 5_000])))
            .order_by(MeterCalibration.calibrated_on)
        )
        for c in history:
            found[c.meter_id].append(
                data_quality.Calibration(c.calibrated_on, c.valid_until, c.error_found_percent)
            )
    for meter in meters:
        if meter.calibrated_on and meter.calibration_valid_until:
            found[meter.id].append(
                data_quality.Calibration(meter.calibrated_on, meter.calibration_valid_until)
            )
    return found


def replace_meter(
    old: Meter,
    *,
    actor: User,
    replaced_at: datetime,
    old_final_reading: Decimal,
    new_serial: str,
    new_first_reading: Decimal,
    reason: str | None = None,
    **new_meter: Any,
) -> MeterReplacement:
    """Close a meter with its final reading and open its successor with its first (domain.md §7).

    Never interpolated across: each meter's readings stop and start at `replaced_at`. The new
    serial is claimed platform-wide when the site holds claims, like at inclusion.
    """
    site = old.site
    if not policies.can_keep_meter_records(actor, site):
        raise NotAllowed("Only the site's operator or the programme's coordinator can replace meters.")
    if old.removed_at is not None:
        raise RuleViolation(f"Meter {old.serial} was already replaced.", code="meter_replaced")
    if replaced_at.tzinfo is None:
        raise InvalidInput(
            "Give the replacement time with its UTC offset.", errors={"replaced_at": ["No offset."]}
        )
    serial = records.normalise_serial(new_serial)
    if any(m.serial == serial for m in site.meters):
        raise RuleViolation(f"{site.reference} has a meter {serial} already.", code="duplicate_meter")
    new = Meter(
        site=site,
        serial=serial,
        role=old.role,
        accuracy_class=new_meter.get("accuracy_class") or old.accuracy_class,
        calibrated_on=new_meter.get("calibrated_on"),
        calibration_valid_until=new_meter.get("calibration_valid_until"),
        unit=new_meter.get("unit") or old.unit,
        multiplier=new_meter.get("multiplier") or old.multiplier,
        reading_type=new_meter.get("reading_type") or old.reading_type,
        register_digits=new_meter.get("register_digits") or old.register_digits,
        installed_at=replaced_at,
    )
    old.removed_at = replaced_at
    db.session.add(new)
    db.session.flush()
    if site.status in CLAIMING_STATUSES:
        guard.claim_meter_serial(site, serial)
    replacement = MeterReplacement(
        old_meter_id=old.id,
        new_meter_id=new.id,
        replaced_at=replaced_at,
        old_final_reading=old_final_reading,
        new_first_reading=new_first_reading,
        reason=(reason or "").strip() or None,
        recorded_by_id=actor.id,
    )
    db.session.add(replacement)
    db.session.flush()
    if old.reading_type is ReadingType.cumulative or new.reading_type is ReadingType.cumulative:
        _record_register_readings(site, actor, replacement, old, new)
    audit.record(
        "meter.replaced",
        actor=actor,
        entity_type="meter",
        entity_id=old.id,
        after={
            "new_meter": serial,
            "replaced_at": replaced_at,
            "old_final_reading": old_final_reading,
            "new_first_reading": new_first_reading,
        },
        data={"reason": replacement.reason, "site": site.reference},
    )
    return replacement


def _record_register_readings(site, actor, replacement, old: Meter, new: Meter) -> None:
    """Cumulative meters: the final and first register readings go through the usual checks."""
    instant = replacement.replaced_at.astimezone(UTC).isoformat()
    rows = [list(readings_file.TEMPLATE_COLUMNS)]
    if old.reading_type is ReadingType.cumulative:
        rows.append([site.reference, old.serial, "", instant, str(replacement.old_final_reading)])
    if new.reading_type is ReadingType.cumulative:
        rows.append([site.reference, new.serial, "", instant, str(replacement.new_first_reading)])
    now = utcnow()
    # Register readings are instants: the parser accepts one exactly at the old meter's removal.
    specs = meter_specs(site.programme, actor=actor, site=site)
    parsed = readings_file.parse(rows, specs, now=to_epoch(now))
    checked = readings_file.check_sequences(parsed, stored_tails(parsed))
    if checked.error_count:
        raise InvalidInput(
            "The replacement readings are not accepted.",
            errors={"readings": [error.message for error in checked.errors]},
        )
    payload = f"{replacement.id}:{replacement.old_final_reading}:{replacement.new_first_reading}"
    upload = ReadingUpload(
        programme_id=site.programme_id,
        site_id=site.id,
        uploaded_by_id=actor.id,
        uploaded_at=now,
        source=UploadSource.replacement,
        content_sha256=hashlib.sha256(payload.encode()).hexdigest(),
        byte_size=len(payload),
        reason=f"meter {old.serial} replaced by {new.serial}",
        status=UploadStatus.accepted,
        started_at=now,
        finished_at=now,
        rows_total=checked.rows_total,
    )
    db.session.add(upload)
    db.session.flush()
    tally = StatusTally()
    upload.rows_written = write_readings(tally.counted(checked.rows_for_insert()), upload_id=upload.id)
    tally.record()


def epoch_range(start: date, end: date, zone: str | None) -> tuple[int, int]:
    """Local dates [start, end] as epoch seconds [from, until)."""
    return local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)
