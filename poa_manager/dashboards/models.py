"""Service-level targets for each step of the credit cycle, and reference cycles to compare with.

The cycle's dates themselves are not copied here: each step already records its own date where
it happens (report submitted, verifier assigned, statement approved, issuance approved, credits
forwarded), and the cycle-time services read them from there, so they cannot drift apart.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from poa_manager.database import db


class ServiceLevelTarget(db.Model):
    """How many days one step of the cycle may take before it shows as overdue (configurable)."""

    __tablename__ = "service_level_targets"
    __table_args__ = (sa.CheckConstraint("target_days > 0", name="target_positive"),)

    step: Mapped[str] = mapped_column(String(40), primary_key=True)
    target_days: Mapped[int]
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReferenceCycle(db.Model):
    """A credit cycle from outside the platform (e.g. the JCM Viet Nam site-by-site history).

    The portfolio view sets the platform's own cycle times beside these, so the gain, or the
    lack of it, is visible.
    """

    __tablename__ = "reference_cycles"
    __table_args__ = (
        sa.CheckConstraint("notified_on >= monitoring_end", name="notified_after_monitoring"),
        sa.CheckConstraint("credits IS NULL OR credits >= 0", name="credits_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    mechanism: Mapped[str] = mapped_column(String(20), default="jcm")
    host_country: Mapped[str] = mapped_column(String(2))
    monitoring_end: Mapped[date]
    notified_on: Mapped[date]
    credits: Mapped[int | None]
    batch: Mapped[str | None] = mapped_column(String(80))  # notified together with others
    source: Mapped[str] = mapped_column(String(500), default="")
    confidence: Mapped[str] = mapped_column(String(1), default="S")  # domain.md tags: C, S or U


class ReferenceBatch(db.Model):
    """Credits notified together in one batch outside the platform (irregular batches hide delay)."""

    __tablename__ = "reference_batches"
    __table_args__ = (
        sa.CheckConstraint("project_count > 0", name="projects_positive"),
        sa.CheckConstraint("credits >= 0", name="credits_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    host_country: Mapped[str] = mapped_column(String(2))
    notified_on: Mapped[date]
    project_count: Mapped[int]
    credits: Mapped[int]
    source: Mapped[str] = mapped_column(String(500), default="")
    confidence: Mapped[str] = mapped_column(String(1), default="S")
