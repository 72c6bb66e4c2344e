"""Programmes and their versioned designs (boundary, methodology, crediting rules, criteria)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import Timestamped, db
from poa_manager.programmes.rules import CreditingPeriodType, InclusionRoute, Mechanism, SamplingRule

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation, User
    from poa_manager.sites.models import Site

__all__ = ["Mechanism", "Programme", "ProgrammeStatus", "ProgrammeVersion", "VersionStatus"]


class VersionStatus(StrEnum):
    """A design's lifecycle: prepared, validated by a verifier, registered by a registry administrator."""

    draft = "draft"
    submitted = "submitted"  # submitted for validation
    validated = "validated"
    registered = "registered"  # the design in force; exactly one per registered programme
    superseded = "superseded"  # replaced by a later registered version

    @property
    def label(self) -> str:
        return {"submitted": "submitted for validation"}.get(self.value, self.value)


class ProgrammeStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    validated = "validated"
    registered = "registered"

    @property
    def label(self) -> str:
        return {"submitted": "submitted for validation"}.get(self.value, self.value)


class Programme(Timestamped, db.Model):
    """The registered container: a CDM PoA, GS PoA, Verra grouped project or multi-site JCM project."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. "VN-JCM-PoA-001"
    title: Mapped[str] = mapped_column(String(300))
    mechanism: Mapped[Mechanism]
    host_country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    partner_country: Mapped[str | None] = mapped_column(String(2))  # e.g. JP for JCM
    coordinating_entity_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # domain.md §1.9: while a site is under review, inclusions and issuance stop programme-wide.
    inclusion_hold: Mapped[bool] = mapped_column(default=False)
    issuance_hold: Mapped[bool] = mapped_column(default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(500))

    coordinating_entity: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship()
    sites: Mapped[list[Site]] = relationship(back_populates="programme", order_by="Site.reference")
    versions: Mapped[list[ProgrammeVersion]] = relationship(
        back_populates="programme", order_by="ProgrammeVersion.number"
    )

    @property
    def current_version(self) -> ProgrammeVersion | None:
        """The registered design in force, or None before registration."""
        return next((v for v in self.versions if v.status is VersionStatus.registered), None)

    @property
    def latest_version(self) -> ProgrammeVersion:
        return self.versions[-1]

    @property
    def pending_version(self) -> ProgrammeVersion | None:
        """A design being prepared or reviewed: the first one, or a revision of a registered one."""
        latest = self.latest_version if self.versions else None
        if latest is None or latest.status in (VersionStatus.registered, VersionStatus.superseded):
            return None
        return latest

    @property
    def status(self) -> ProgrammeStatus:
        if self.current_version is not None:
            return ProgrammeStatus.registered
        return ProgrammeStatus(self.latest_version.status.value) if self.versions else ProgrammeStatus.draft


class ProgrammeVersion(Timestamped, db.Model):
    """One version of a programme's design. Registered versions never change; revisions are new rows."""

    __tablename__ = "programme_versions"
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "number"),
        # One design in force per programme, enforced by the database.
        sa.Index(
            "uq_programme_versions_registered",
            "programme_id",
            unique=True,
            sqlite_where=sa.text("status = 'registered'"),
            postgresql_where=sa.text("status = 'registered'"),
        ),
        sa.CheckConstraint(
            "duration_years IS NULL OR duration_years BETWEEN 1 AND 60", name="duration_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(default=VersionStatus.draft)
    change_summary: Mapped[str | None] = mapped_column(String(1000))

    # The design (domain.md §1.2): incomplete while a draft, complete before submission.
    methodology_code: Mapped[str | None] = mapped_column(String(40))
    methodology_version: Mapped[str | None] = mapped_column(String(20))
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"geojson": {...}} or {"codes": [...]}
    start_date: Mapped[date | None]
    duration_years: Mapped[int | None]
    crediting_period_type: Mapped[CreditingPeriodType]
    crediting_period_years: Mapped[int]
    max_renewals: Mapped[int]
    inclusion_route: Mapped[InclusionRoute]
    sampling_rule: Mapped[SamplingRule]
    monitoring_plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    grid_emission_factor_overrides: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    eligibility_criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    support_tiers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [[first_order, rate]]

    # Who did what (maker/checker: none of these three may be the same person).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    validated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    validated_by_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    validated_at: Mapped[datetime | None]
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime | None]
    returned_reason: Mapped[str | None] = mapped_column(String(1000))

    programme: Mapped[Programme] = relationship(back_populates="versions")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    validated_by: Mapped[User | None] = relationship(foreign_keys=[validated_by_id])
    validated_by_organisation: Mapped[Organisation | None] = relationship()
    registered_by: Mapped[User | None] = relationship(foreign_keys=[registered_by_id])
