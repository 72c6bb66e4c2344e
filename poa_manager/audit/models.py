"""AuditEntry, the append-only log, and AuditChainHead, the one row that serialises appends."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from poa_manager.database import db


class AuditEntry(db.Model):
    """One state change: who, when, what, and the values before and after.

    UPDATE and DELETE are refused by triggers created in the migration, on SQLite and PostgreSQL.
    """

    __tablename__ = "audit_entries"

    # The sequence number is taken from the chain head, not autoincrement, so it is hashed.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None]  # no foreign key: the log outlives account changes
    actor_label: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (db.Index("ix_audit_entries_entity", "entity_type", "entity_id"),)


class AuditChainHead(db.Model):
    """The last sequence number and hash. Appends lock this row, so the chain never forks."""

    __tablename__ = "audit_chain_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
