"""Webhook endpoints that organisations register, and the delivery of each registry event to each."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import Timestamped, db

if TYPE_CHECKING:
    from poa_manager.accounts.models import Organisation, User
    from poa_manager.registry.models import RegistryEvent


class WebhookEndpoint(Timestamped, db.Model):
    """An organisation's URL that receives signed registry events of the kinds it subscribed to.

    The secret is stored as it is, unlike API tokens (which keep only a hash): signing a request
    needs the key itself, and a hash cannot sign. Whoever reads the database can therefore forge
    our signatures to this one receiver; it cannot move units (docs/interoperability.md).
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.CheckConstraint("url LIKE 'http://%' OR url LIKE 'https://%'", name="http_or_https"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    secret: Mapped[str] = mapped_column(String(100))
    event_kinds: Mapped[list[str]] = mapped_column(sa.JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    deactivated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deactivated_at: Mapped[datetime | None]
    # The outbox cursor: registry events up to this id have been turned into deliveries (or
    # skipped). It starts at the newest event when the endpoint is created: no back-fill.
    last_event_id: Mapped[int] = mapped_column(default=0)

    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    deactivated_by: Mapped[User | None] = relationship(foreign_keys=[deactivated_by_id])

    @property
    def label(self) -> str:
        return f"WH-{self.id:04d}"

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell endpoints apart, as API tokens show their prefix."""
        return self.secret[:10] + "…"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its first or next attempt
    delivered = "delivered"  # a 2xx came back
    failed = "failed"  # gave up: attempts exhausted, or the endpoint was deactivated


class WebhookDelivery(Timestamped, db.Model):
    """One registry event for one endpoint, with its latest attempt; every attempt is also in the
    audit log. The unique key makes enqueueing idempotent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("registry_events.id"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[RegistryEvent] = relationship()

    @property
    def label(self) -> str:
        return f"WD-{self.id:06d}"
