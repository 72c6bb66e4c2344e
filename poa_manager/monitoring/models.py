"""Meter readings and their uploads, calibration history, monitoring reports and issuance requests.

Readings are raw data that verifiers ask for (domain.md §7), so they are append-only: database
triggers refuse UPDATE and DELETE, and a correction is a new version that supersedes the old one.
Instants are stored as epoch seconds (UTC) and energy as integer watt-hours: exact, identical on
both engines, and cheap to compare and sum over millions of rows (performance.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, ForeignKey, Numeric, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import ExactDecimal, Timestamped, db

if TYPE_CHECKING:
    from poa_manager.accounts.models import User
    from poa_manager.programmes.models import Programme
    from poa_manager.sites.models import Meter, Site


def to_epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class MeterCalibration(Timestamped, db.Model):
    """One calibration of a meter: the history behind the late-calibration discount (domain.md §7)."""

    __tablename__ = "meter_calibrations"
    __table_args__ = (sa.CheckConstraint("valid_until >= calibrated_on", name="validity_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    calibrated_on: Mapped[date]
    valid_until: Mapped[date]
    # The error the (possibly delayed) calibration found, in percent, signed (VVS-PoA v2 para 352).
    error_found_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    certificate_reference: Mapped[str | None] = mapped_column(String(120))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    meter: Mapped[Meter] = relationship()
    recorded_by: Mapped[User | None] = relationship()


class MeterReplacement(Timestamped, db.Model):
    """A meter swapped for another: the old one's final reading and the new one's first (§7)."""

    __tablename__ = "meter_replacements"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), unique=True)
    new_meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), unique=True)
    replaced_at: Mapped[datetime]
    old_final_reading: Mapped[Decimal] = mapped_column(Numeric(20, 6))  # in the old meter's unit
    new_first_reading: Mapped[Decimal] = mapped_column(Numeric(20, 6))  # in the new meter's unit
    reason: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    old_meter: Mapped[Meter] = relationship(foreign_keys=[old_meter_id])
    new_meter: Mapped[Meter] = relationship(foreign_keys=[new_meter_id])
    recorded_by: Mapped[User | None] = relationship()


class UploadStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    accepted = "accepted"
    rejected = "rejected"  # row errors: nothing was written
    failed = "failed"  # the job itself broke: nothing was written either

    @property
    def finished(self) -> bool:
        return self in {UploadStatus.accepted, UploadStatus.rejected, UploadStatus.failed}


class UploadSource(StrEnum):
    web = "web"
    api = "api"
    cli = "cli"
    correction = "correction"
    replacement = "replacement"


class ReadingUpload(db.Model):
    """Every way a reading arrives: a file, an API batch, a correction. Keeps hash, uploader, time."""

    __tablename__ = "reading_uploads"
    __table_args__ = (
        # A logger's batch id makes a re-sent batch a no-op (idempotency per uploader).
        UniqueConstraint("uploaded_by_id", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)  # None: many sites
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_at: Mapped[datetime]
    source: Mapped[UploadSource]
    filename: Mapped[str | None] = mapped_column(String(255))
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    stored_name: Mapped[str | None] = mapped_column(String(100))  # the kept original, by hash
    batch_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(1000))  # corrections and replacements

    status: Mapped[UploadStatus] = mapped_column(default=UploadStatus.queued, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_written: Mapped[int] = mapped_column(default=0)
    rows_already_stored: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the first N, as shown
    failure: Mapped[str | None] = mapped_column(String(1000))

    programme: Mapped[Programme] = relationship()
    site: Mapped[Site | None] = relationship()
    uploaded_by: Mapped[User] = relationship()


class Reading(db.Model):
    """One interval of energy on one meter, as delivered; never changed, only superseded.

    `meter_id` and `upload_id` carry no FOREIGN KEY constraint: a per-row referential check costs
    PostgreSQL 70 % of its COPY rate (9 of 12.5 s for 730k rows, measured), and every id written
    comes from the database in the same transaction (services.readings.meter_specs). What a
    foreign key would still guard, a meter or upload deleted under its readings, database
    triggers refuse instead (migration 328b598e390f). `upload_id` has no index either: each index
    costs every import, and an upload's readings are found through its site's meters.
    """

    __tablename__ = "readings"
    __table_args__ = (
        sa.CheckConstraint("reading_end >= reading_start", name="interval_order"),
        sa.CheckConstraint("energy_wh >= 0", name="energy_not_negative"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # Corrected readings only (version > 1): finds them without touching the millions that
        # never are, and costs an import nothing.
        sa.Index(
            "ix_readings_corrected",
            "meter_id",
            "reading_end",
            sqlite_where=sa.text("version > 1"),
            postgresql_where=sa.text("version > 1"),
        ),
        # SQLite keeps the rows in key order (one B-tree, no rowid): imports write in that order
        # and the roll-up reads ranges of it.
        {"sqlite_with_rowid": False},
    )

    # The natural key, and the only index every import maintains: (meter, end of the interval,
    # version). Keyed by the end: a cumulative meter's opening reading (start = end) and its first
    # interval share a start, never an end; for interval meters ends are as unique as starts. A
    # surrogate id would cost a sequence and a second index per row: 40 % of PostgreSQL's COPY
    # time (730k rows: 3.0 s with it, 1.8 s without, measured). Two concurrent imports or
    # corrections of the same interval collide on this key.
    meter_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reading_end: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False, default=1)
    reading_start: Mapped[int] = mapped_column(BigInteger)  # epoch seconds, UTC
    energy_wh: Mapped[int] = mapped_column(BigInteger)  # after unit and multiplier
    register_wh: Mapped[int | None] = mapped_column(BigInteger)  # cumulative meters: the register
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)  # data_quality.READING_FLAG_* bits
    upload_id: Mapped[int]

    meter: Mapped[Meter] = relationship(primaryjoin="Meter.id == foreign(Reading.meter_id)")
    upload: Mapped[ReadingUpload] = relationship(primaryjoin="ReadingUpload.id == foreign(Reading.upload_id)")

    @property
    def key(self) -> dict[str, int]:
        """What names this reading in URLs: the meter, the end of its interval and its version."""
        return {"meter_id": self.meter_id, "reading_end": self.reading_end, "version": self.version}

    @property
    def starts_at(self) -> datetime:
        return from_epoch(self.reading_start)

    @property
    def ends_at(self) -> datetime:
        return from_epoch(self.reading_end)


class ReportStatus(StrEnum):
    draft = "draft"  # recomputed on demand while readings arrive
    submitted = "submitted"  # frozen; later reading changes show as discrepancies

    @property
    def label(self) -> str:
        return self.value


class MonitoringReport(Timestamped, db.Model):
    """A programme's monitoring period rolled up from its sites (domain.md §1.8)."""

    __tablename__ = "monitoring_reports"
    __table_args__ = (
        UniqueConstraint("programme_id", "number"),
        sa.CheckConstraint("period_end >= period_start", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    number: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[ReportStatus] = mapped_column(default=ReportStatus.draft)
    # What the numbers were computed with, frozen at submission (T11: cited versions must agree).
    methodology_code: Mapped[str | None] = mapped_column(String(40))
    methodology_version: Mapped[str | None] = mapped_column(String(20))
    programme_version_number: Mapped[int | None]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the [U] choices in force
    total_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    computed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    programme: Mapped[Programme] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    lines: Mapped[list[MonitoringLine]] = relationship(
        back_populates="report",
        cascade="all, delete-orphan",
        order_by="(MonitoringLine.site_reference, MonitoringLine.window_start)",
    )

    @property
    def label(self) -> str:
        return f"MR-{self.number:03d}"


class MonitoringLine(db.Model):
    """One site over one crediting window of the period (split per vintage year), every input kept."""

    __tablename__ = "monitoring_lines"
    __table_args__ = (
        UniqueConstraint("report_id", "site_id", "window_start"),
        sa.CheckConstraint("window_end >= window_start", name="window_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("monitoring_reports.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    site_reference: Mapped[str] = mapped_column(String(40))  # as it was, for ordering and printing
    window_start: Mapped[date]  # inclusive, site-local dates
    window_end: Mapped[date]
    vintage: Mapped[int]
    window_from: Mapped[int] = mapped_column(BigInteger)  # epoch seconds of the local midnights
    window_until: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(default=0)
    export_wh: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    import_wh: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    net_wh: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    counted_wh: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    completeness_percent: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    problem: Mapped[str | None] = mapped_column(String(500))  # why the line earns nothing, if so
    baseline_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    project_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    leakage_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    emission_reductions_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))

    report: Mapped[MonitoringReport] = relationship(back_populates="lines")
    site: Mapped[Site] = relationship()
    meters: Mapped[list[MonitoringLineMeter]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="MonitoringLineMeter.meter_id"
    )

    @property
    def net_mwh(self) -> Decimal:
        return self.net_wh / 1_000_000

    @property
    def counted_mwh(self) -> Decimal:
        return self.counted_wh / 1_000_000


class MonitoringLineMeter(db.Model):
    """What one meter contributed to a line: raw energy, coverage, calibration and gap adjustments."""

    __tablename__ = "monitoring_line_meters"
    __table_args__ = (UniqueConstraint("line_id", "meter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("monitoring_lines.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    role: Mapped[str] = mapped_column(String(20))
    reading_count: Mapped[int] = mapped_column(default=0)
    covered_s: Mapped[int] = mapped_column(BigInteger, default=0)
    energy_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    lapsed_energy_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    lapsed_days: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [[from, to], ...]
    adjustment_wh: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    filled_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    completeness_percent: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    rollovers: Mapped[int] = mapped_column(default=0)

    line: Mapped[MonitoringLine] = relationship(back_populates="meters")
    meter: Mapped[Meter] = relationship()


class RequestStatus(StrEnum):
    submitted = "submitted"  # waiting for a verifier to be assigned
    under_verification = "under_verification"
    verified = "verified"  # a positive verification statement: on to the registry
    issued = "issued"  # the registry issued its credits (registry.services.approve_issuance)
    returned = "returned"  # a negative statement: back to the coordinator for corrective action
    withdrawn = "withdrawn"  # the coordinator withdrew it (e.g. to correct and resubmit the report)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class IssuanceRequest(Timestamped, db.Model):
    """A request for credits from a submitted monitoring report (F-CDM-POA-REQCERS, domain.md §1.8)."""

    __tablename__ = "issuance_requests"
    __table_args__ = (
        UniqueConstraint("programme_id", "number"),
        sa.CheckConstraint("credits_requested >= 0", name="credits_not_negative"),
        # One standing request per report; a withdrawn one stays as evidence beside its successor.
        sa.Index(
            "uq_issuance_requests_report_standing",
            "report_id",
            unique=True,
            sqlite_where=sa.text("status != 'withdrawn'"),
            postgresql_where=sa.text("status != 'withdrawn'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("monitoring_reports.id"), index=True)
    number: Mapped[int]
    status: Mapped[RequestStatus] = mapped_column(default=RequestStatus.submitted)
    claimed_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal())  # exact sum of the lines
    credits_requested: Mapped[int]  # the one rounding: down to whole tCO2e
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    withdrawn_reason: Mapped[str | None] = mapped_column(String(1000))

    programme: Mapped[Programme] = relationship()
    report: Mapped[MonitoringReport] = relationship()
    requested_by: Mapped[User] = relationship()
    lines: Mapped[list[IssuanceRequestLine]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        order_by="(IssuanceRequestLine.site_reference, IssuanceRequestLine.period_start)",
    )

    @property
    def label(self) -> str:
        return f"IR-{self.number:03d}"


class IssuanceRequestLine(db.Model):
    """A site and the monitoring period verified for it (the CPAs covered, domain.md §1.8)."""

    __tablename__ = "issuance_request_lines"
    __table_args__ = (UniqueConstraint("request_id", "monitoring_line_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("issuance_requests.id"))
    monitoring_line_id: Mapped[int] = mapped_column(ForeignKey("monitoring_lines.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    site_reference: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[date]
    period_end: Mapped[date]
    vintage: Mapped[int]
    claimed_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal())

    request: Mapped[IssuanceRequest] = relationship(back_populates="lines")
    monitoring_line: Mapped[MonitoringLine] = relationship()
    site: Mapped[Site] = relationship()


class MeterReadingStatus(db.Model):
    """Per meter: first and last reading and how many, kept up to date by every import.

    Dashboards ask "when did this meter last report?" for every site of a programme; answering
    from the readings table would scan millions of rows per page view (performance.md: dashboards
    read pre-aggregated tables, maintained at import).
    """

    __tablename__ = "meter_reading_status"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    first_reading_end: Mapped[int] = mapped_column(BigInteger)  # epoch seconds, UTC
    last_reading_end: Mapped[int] = mapped_column(BigInteger, index=True)
    reading_count: Mapped[int] = mapped_column(BigInteger, default=0)  # current versions only
    flagged_count: Mapped[int] = mapped_column(BigInteger, default=0)

    meter: Mapped[Meter] = relationship()
