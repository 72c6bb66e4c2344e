"""In-app notifications for every hand-over between roles, and each user's delivery preferences."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from poa_manager.database import db, utcnow

if TYPE_CHECKING:
    from poa_manager.accounts.models import User


class EmailStatus(StrEnum):
    not_sent = "not_sent"  # no e-mail wanted (preference) or no SMTP server configured
    pending = "pending"  # waiting for the sender job, which runs after the change committed
    sent = "sent"
    failed = "failed"  # gave up after the retries; the error is kept


class Notification(db.Model):
    """One message to one user about one change; the audit entry it came from is referenced.

    Rows are written in the transaction of the change they report, so a rolled-back change never
    notifies anyone; e-mail goes out later from this table (an outbox), never inside a request.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_unread", "user_id", "read_at"),
        sa.Index(
            "ix_notifications_email_pending",
            "id",
            sqlite_where=sa.text("email_status = 'pending'"),
            postgresql_where=sa.text("email_status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(String(2000), default="")
    link: Mapped[str | None] = mapped_column(String(500))  # a path inside the app
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry it reports
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]
    email_status: Mapped[EmailStatus] = mapped_column(default=EmailStatus.not_sent)
    email_attempts: Mapped[int] = mapped_column(default=0)
    emailed_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[User] = relationship()


class NotificationPreference(db.Model):
    """Whether a user wants one category in the app and by e-mail; no row means both on."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    in_app: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)
