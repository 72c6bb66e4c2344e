"""Sites (the components of a programme: CPA, VPA or instance), their meters and inclusion records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from poa_manager.database import Timestamped, db

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation, User
    from poa_manager.programmes.models import Programme, ProgrammeVersion


class SiteStatus(StrEnum):
    """domain.md §1.10, with the checked outcome split into eligible / not eligible."""

    draft = "draft"
    not_eligible = "not_eligible"
    eligible = "eligible"
    awaiting_confirmation = "awaiting_confirmation"  # a verifier must confirm the inclusion
    included = "included"
    crediting = "crediting"
    crediting_ended = "crediting_ended"
    under_review = "under_review"  # erroneous inclusion notified (domain.md §1.9)
    excluded = "excluded"  # terminal: never re-included anywhere
    withdrawn = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Sites that hold their identity (meters, equipment, location) against every other inclusion.
CLAIMING_STATUSES = frozenset(
    {
        SiteStatus.awaiting_confirmation,
        SiteStatus.included,
        SiteStatus.crediting,
        SiteStatus.crediting_ended,
        SiteStatus.under_review,
        SiteStatus.excluded,
    }
)


class MeterRole(StrEnum):
    export = "export"
    import_ = "import"
    generation = "generation"
    consumption = "consumption"


class MeterUnit(StrEnum):
    """The unit the meter's register or interval values are in; readings are stored in Wh."""

    # Members spelt as the units, so the stored name matches the value (database.py stores names).
    Wh = "Wh"
    kWh = "kWh"
    MWh = "MWh"

    @property
    def wh_per_unit(self) -> int:
        return {"Wh": 1, "kWh": 1_000, "MWh": 1_000_000}[self.value]


class ReadingType(StrEnum):
    interval = "interval"  # energy measured in each interval (loggers, AMI)
    cumulative = "cumulative"  # register readings; energy is the difference (domain.md §3.1)


class Site(Timestamped, db.Model):
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("programme_id", "reference"),
        # Target of memberships' composite key: a site operator's site is in their programme.
        UniqueConstraint("id", "programme_id"),
        sa.CheckConstraint(
            "crediting_end IS NULL OR crediting_end >= crediting_start", name="crediting_order"
        ),
        sa.CheckConstraint("capacity_kw IS NULL OR capacity_kw >= 0", name="capacity_not_negative"),
        # The guard's bounding-box search (services/guard.py) reads this instead of every site.
        sa.Index("ix_sites_latitude_longitude", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40))  # as in the CPA-DD, e.g. "CPA-0007"
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[SiteStatus] = mapped_column(default=SiteStatus.draft, index=True)
    operator_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)

    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    area_code: Mapped[str | None] = mapped_column(String(10))  # ISO 3166-2, e.g. "VN-57"
    technology: Mapped[str | None] = mapped_column(String(60), index=True)
    capacity_kw: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    commissioned_on: Mapped[date | None]
    equipment_serials: Mapped[list[str]] = mapped_column(JSON, default=list)
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)  # kinds present, e.g. "cpa_dd"
    financial_support_declared: Mapped[bool | None]
    funding_sources: Mapped[str | None] = mapped_column(String(500))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # methodology-specific facts
    # IANA name; readings with no UTC offset are read in it, and periods end at its midnight.
    timezone: Mapped[str | None] = mapped_column(String(40))

    # Inclusion (domain.md §1.5) and crediting (§1.7).
    checked_against_version_id: Mapped[int | None] = mapped_column(ForeignKey("programme_versions.id"))
    inclusion_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    included_on: Mapped[date | None]
    included_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inclusion_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    crediting_start: Mapped[date | None]
    crediting_end: Mapped[date | None]
    renewals_left: Mapped[int | None]
    replication_order: Mapped[int | None]  # n-th included site of its technology in the programme
    support_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    review_reason: Mapped[str | None] = mapped_column(String(1000))
    credits_to_replace: Mapped[int | None]  # recorded at exclusion (domain.md §1.9)
    # The end of the latest monitoring period verified with a positive statement (set by verification).
    last_verified_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    programme: Mapped[Programme] = relationship(back_populates="sites")
    operator: Mapped[Organisation | None] = relationship()
    checked_against_version: Mapped[ProgrammeVersion | None] = relationship()
    included_by: Mapped[User | None] = relationship(foreign_keys=[included_by_id])
    inclusion_confirmed_by: Mapped[User | None] = relationship(foreign_keys=[inclusion_confirmed_by_id])
    meters: Mapped[list[Meter]] = relationship(
        back_populates="site", order_by="Meter.serial", cascade="all, delete-orphan"
    )
    eligibility_checks: WriteOnlyMapped[EligibilityCheck] = relationship(back_populates="site")


class Meter(Timestamped, db.Model):
    """A meter of a site; its readings, calibration history and replacements live in monitoring.

    `calibrated_on`/`calibration_valid_until` hold the latest calibration, as the site record and
    the inclusion checks show it; monitoring keeps the full history.
    """

    __tablename__ = "meters"
    __table_args__ = (
        UniqueConstraint("site_id", "serial"),
        sa.CheckConstraint("multiplier > 0", name="multiplier_positive"),
        sa.CheckConstraint("register_digits IS NULL OR register_digits BETWEEN 1 AND 12", name="digits"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    serial: Mapped[str] = mapped_column(String(60), index=True)
    role: Mapped[MeterRole] = mapped_column(default=MeterRole.generation)
    accuracy_class: Mapped[str | None] = mapped_column(String(10))  # e.g. "0.2S", "0.5S", "1"
    calibrated_on: Mapped[date | None]
    calibration_valid_until: Mapped[date | None]
    # Overrides the accuracy class's maximum permissible error (domain.md §7), in percent.
    max_permissible_error_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 3))
    unit: Mapped[MeterUnit] = mapped_column(default=MeterUnit.kWh, server_default="kWh")
    multiplier: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(1), server_default="1")
    reading_type: Mapped[ReadingType] = mapped_column(default=ReadingType.interval, server_default="interval")
    register_digits: Mapped[int | None]  # integer digits of the register, for rollovers
    # Replacement events (domain.md §7): readings outside these dates belong to another meter.
    installed_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship(back_populates="meters")


class CheckOutcome(StrEnum):
    eligible = "eligible"
    not_eligible = "not_eligible"
    needs_review = "needs_review"


class EligibilityCheck(Timestamped, db.Model):
    """One run of the programme's criteria against a site, kept with the criteria it used."""

    __tablename__ = "eligibility_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_versions.id"))
    checked_on: Mapped[date]
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[CheckOutcome]
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the criteria as they were
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # one per criterion

    site: Mapped[Site] = relationship(back_populates="eligibility_checks")
    programme_version: Mapped[ProgrammeVersion] = relationship()
    checked_by: Mapped[User | None] = relationship()


class IdentifierKind(StrEnum):
    meter_serial = "meter_serial"
    equipment_serial = "equipment_serial"


class IdentifierClaim(db.Model):
    """A meter or equipment serial held by an included site, platform-wide.

    The unique key is the race-safe backstop of the double-counting guard (quality.md T10): two
    concurrent inclusions of the same meter cannot both commit. Excluded sites keep their claims,
    so an excluded site's equipment can never be included again (domain.md §1.9).
    """

    __tablename__ = "identifier_claims"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IdentifierKind]
    value: Mapped[str] = mapped_column(String(60))  # normalised: trimmed, upper-case
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    claimed_at: Mapped[datetime]

    site: Mapped[Site] = relationship()


class ExternalRegistration(Timestamped, db.Model):
    """A site registered in another registry or programme, imported so the guard can check it."""

    __tablename__ = "external_registrations"
    __table_args__ = (UniqueConstraint("registry_name", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_name: Mapped[str] = mapped_column(String(60))  # e.g. "Verra", "Gold Standard", "CDM"
    identifier: Mapped[str] = mapped_column(String(80))
    name: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    technology: Mapped[str | None] = mapped_column(String(60))
    crediting_start: Mapped[date | None]
    crediting_end: Mapped[date | None]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    identifiers: Mapped[list[ExternalIdentifier]] = relationship(
        back_populates="registration", cascade="all, delete-orphan"
    )


class ExternalIdentifier(db.Model):
    """A meter or equipment serial of an external registration, indexed for the guard."""

    __tablename__ = "external_identifiers"
    __table_args__ = (sa.Index("ix_external_identifiers_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("external_registrations.id"), index=True)
    kind: Mapped[IdentifierKind]
    value: Mapped[str] = mapped_column(String(60))

    registration: Mapped[ExternalRegistration] = relationship(back_populates="identifiers")
