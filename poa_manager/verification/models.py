"""Verifications of issuance requests: team, sampling plan, frozen frame and sample, findings, statement."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from poa_manager.database import ExactDecimal, Timestamped, db
from poa_manager.verification.impartiality import ImpartialityRule

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation, User
    from poa_manager.monitoring.models import IssuanceRequest
    from poa_manager.programmes.models import Programme
    from poa_manager.sites.models import Site


class VerificationStatus(StrEnum):
    assigned = "assigned"  # team named; no sample yet
    sampling = "sampling"  # frame frozen and sample drawn; findings being recorded
    statement_drafted = "statement_drafted"  # waiting for a second person's approval
    completed = "completed"  # statement approved: the request went to the registry or back
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class ParameterKind(StrEnum):
    """What the sample size is computed for (domain.md §2.2)."""

    mean = "mean"  # a mean-type parameter with an expected coefficient of variation
    proportion = "proportion"  # an expected proportion, e.g. of conforming sites


class Allocation(StrEnum):
    proportional = "proportional"
    neyman = "neyman"


class Opinion(StrEnum):
    positive = "positive"  # the request goes to the registry with the verified quantity
    negative = "negative"  # the request goes back to the coordinator for corrective action


class FindingOutcome(StrEnum):
    conforming = "conforming"
    error = "error"  # a misstatement: the verified value differs from the reported one
    non_conformity = "non_conformity"  # the site does not meet the monitoring plan or criteria

    @property
    def label(self) -> str:
        return self.value.replace("_", "-")


class CheckMethod(StrEnum):
    site_visit = "site_visit"
    remote = "remote"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class PopulationDecision(StrEnum):
    """The verifier's call on a site whose whole-population check found a problem."""

    accepted = "accepted"  # explained; the claim stands (and the sample estimate applies to it)
    excluded = "excluded"  # its whole claim is removed from the verified quantity


class Verification(Timestamped, db.Model):
    """One verifier organisation verifying one issuance request (domain.md §1.8, §2.5)."""

    __tablename__ = "verifications"
    __table_args__ = (
        # One live verification per request; a cancelled one stays as history.
        sa.Index(
            "uq_verifications_request_live",
            "request_id",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
        sa.CheckConstraint("confidence > 0 AND confidence < 1", name="confidence_range"),
        sa.CheckConstraint("relative_precision > 0 AND relative_precision < 1", name="precision_range"),
        sa.CheckConstraint("non_response >= 0 AND non_response < 1", name="non_response_range"),
        sa.CheckConstraint("seed IS NULL OR seed >= 0", name="seed_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("issuance_requests.id"), index=True)
    verifier_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[VerificationStatus] = mapped_column(default=VerificationStatus.assigned)
    impartiality_rule: Mapped[ImpartialityRule]  # as applied at assignment
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime]
    due_on: Mapped[date | None]
    cancelled_reason: Mapped[str | None] = mapped_column(String(1000))

    # The sampling plan (domain.md §2.2–2.3). Reliability defaults from the programme's rule.
    parameter_kind: Mapped[ParameterKind] = mapped_column(default=ParameterKind.mean)
    confidence: Mapped[Decimal] = mapped_column(Numeric(4, 3))
    relative_precision: Mapped[Decimal] = mapped_column(Numeric(4, 3))
    expected_cv: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    expected_proportion: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    non_response: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal(0))
    stratify_by: Mapped[str | None] = mapped_column(String(80))  # a site field or "attributes.<key>"
    allocation: Mapped[Allocation] = mapped_column(default=Allocation.proportional)
    plan_notes: Mapped[str | None] = mapped_column(String(2000))
    # Frozen with the draw: the inputs and result of the sample-size formula, per-stratum figures.
    sample_size: Mapped[int | None]
    sample_size_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    strata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {stratum: {N, n, sd}}
    seed: Mapped[int | None] = mapped_column(BigInteger)
    frame_sha256: Mapped[str | None] = mapped_column(String(64))  # of the frozen frame's CSV
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    drawn_at: Mapped[datetime | None]

    # The statement. verified_tco2e is exact; credits_verified is its one rounding, down.
    opinion: Mapped[Opinion | None]
    verified_tco2e: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    credits_verified: Mapped[int | None]
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the figures, as stated
    summary: Mapped[str | None] = mapped_column(String(4000))
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    drafted_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]

    programme: Mapped[Programme] = relationship()
    request: Mapped[IssuanceRequest] = relationship()
    verifier_organisation: Mapped[Organisation] = relationship()
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])
    drafted_by: Mapped[User | None] = relationship(foreign_keys=[drafted_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    team: Mapped[list[TeamMember]] = relationship(
        back_populates="verification", cascade="all, delete-orphan", order_by="TeamMember.id"
    )
    frame: WriteOnlyMapped[FrameEntry] = relationship(
        back_populates="verification", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def label(self) -> str:
        return f"VER-{self.id:04d}"

    @property
    def is_stratified(self) -> bool:
        return bool(self.stratify_by)


class TeamMember(db.Model):
    """A person of the verifier organisation on this verification's team."""

    __tablename__ = "verification_team_members"
    __table_args__ = (sa.UniqueConstraint("verification_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(default=False)

    verification: Mapped[Verification] = relationship(back_populates="team")
    user: Mapped[User] = relationship()


class FrameEntry(db.Model):
    """One site of the frozen sampling frame, with its draw, its whole-population checks and finding.

    The frame is every site of the request (domain.md §2.5: store a frozen copy of the frame and the
    seed). `draw_order` is the site's place in its stratum's seeded permutation when drawn, so the
    sample is the entries with a draw order, and an extension continues the same sequence.
    """

    __tablename__ = "verification_frame_entries"
    __table_args__ = (
        sa.PrimaryKeyConstraint("verification_id", "site_id"),
        sa.UniqueConstraint("verification_id", "stratum", "draw_order"),
        sa.CheckConstraint("(draw_order IS NULL) = (draw_round IS NULL)", name="drawn_together"),
    )

    verification_id: Mapped[int] = mapped_column(ForeignKey("verifications.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    site_reference: Mapped[str] = mapped_column(String(40))
    stratum: Mapped[str] = mapped_column(String(120))  # "all" when not stratified
    claimed_tco2e: Mapped[Decimal] = mapped_column(ExactDecimal())  # the site's lines, summed exactly
    draw_round: Mapped[int | None]  # 1 for the first draw, 2… for extensions
    draw_order: Mapped[int | None]  # 0-based place in the stratum's seeded sequence

    # Whole-population checks, for every site (VVS-PoA v1 para 340): documents and calibration.
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    population_decision: Mapped[PopulationDecision | None]
    population_note: Mapped[str | None] = mapped_column(String(1000))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # The finding, for sampled sites.
    verified_tco2e: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    outcome: Mapped[FindingOutcome | None]
    method: Mapped[CheckMethod | None]
    evidence: Mapped[str | None] = mapped_column(String(2000))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]

    verification: Mapped[Verification] = relationship(back_populates="frame")
    site: Mapped[Site] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    @property
    def is_sampled(self) -> bool:
        return self.draw_order is not None

    @property
    def has_finding(self) -> bool:
        return self.outcome is not None
