"""Recording and checking the audit log. Every feature writes state changes through record()."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any, Protocol

import sqlalchemy as sa

from poa_manager.audit import chain
from poa_manager.audit.models import AuditChainHead, AuditEntry
from poa_manager.database import db, utcnow

SYSTEM_LABEL = "system"

Subscriber = Callable[[AuditEntry], None]
# Features higher up (notifications) react to what lower ones record without being imported by
# them: the layers contract stays one-way. Each subscriber runs inside the recording
# transaction, so what it writes commits or rolls back with the change itself.
_subscribers: dict[Subscriber, tuple[str, ...]] = {}


def subscribe(handler: Subscriber, *, actions: Iterable[str]) -> None:
    """Call `handler(entry)` after every entry whose action starts with one of `actions`.

    Subscribing the same handler again replaces its prefixes (app factories run many times).
    """
    _subscribers[handler] = tuple(actions)


class Actor(Protocol):
    """Anything that acts: the audit log keeps only its id and a readable label."""

    id: int

    @property
    def audit_label(self) -> str: ...


def record(
    action: str,
    *,
    actor: Actor | None,
    entity_type: str,
    entity_id: object | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction, so it commits or rolls back with the change.

    The chain head is bumped with UPDATE … RETURNING first: on PostgreSQL that row lock makes
    concurrent appenders queue; on SQLite the UPDATE takes the database write lock. Either way
    two transactions never chain onto the same previous hash (architecture.md §9, T2).
    """
    payload: dict[str, Any] = dict(data or {})
    if before is not None:
        payload["before"] = before
    if after is not None:
        payload["after"] = after
    seq, prev_hash = _advance_head()
    row = chain.ChainRow(
        seq=seq,
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor_label or (actor.audit_label if actor is not None else SYSTEM_LABEL))[:255],
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        data=chain.canonical_data(payload),
        prev_hash=prev_hash,
    )
    digest = chain.chain_hash(prev_hash, row)
    entry = AuditEntry(**{**asdict(row), "hash": digest})
    db.session.add(entry)
    db.session.flush()
    db.session.execute(
        sa.update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=digest),
        execution_options={"synchronize_session": False},  # the head row is never held as an object
    )
    for handler, prefixes in tuple(_subscribers.items()):
        if entry.action.startswith(prefixes):
            handler(entry)
    return entry


def _advance_head() -> tuple[int, str]:
    bump = (
        sa.update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(last_seq=AuditChainHead.last_seq + 1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
    )
    # synchronize_session=False: the head is never loaded as an object, and syncing would scan the
    # whole identity map on every append (quadratic in a large import).
    no_sync = {"synchronize_session": False}
    row = db.session.execute(bump, execution_options=no_sync).one_or_none()
    if row is None:  # an empty database: the migration seeds this row, but be safe
        db.session.execute(sa.insert(AuditChainHead).values(id=1, last_seq=0, last_hash=chain.GENESIS_HASH))
        row = db.session.execute(bump, execution_options=no_sync).one()
    return row.last_seq, row.last_hash


def changes(obj: object, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply `values` to `obj` and return (before, after) for the fields that really changed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in values.items():
        old = getattr(obj, field)
        if old != value:
            before[field], after[field] = old, value
            setattr(obj, field, value)
    return before, after


def history_for(entity_type: str, entity_id: object, *, limit: int = 50) -> list[AuditEntry]:
    """The newest entries about one object, for its detail page."""
    query = (
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def entries_query(*, action_prefix: str | None = None) -> sa.Select[tuple[AuditEntry]]:
    """All entries, newest first; callers apply their own permission check."""
    query = sa.select(AuditEntry).order_by(AuditEntry.seq.desc())
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return query


def verify_chain() -> chain.ChainReport:
    """Walk the whole log in order and report the first row that was altered, removed or forged."""
    query = sa.select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    entries = db.session.scalars(query)  # streamed: the log grows without bound
    try:
        report = chain.verify(_as_chain_row(entry) for entry in entries)
    finally:
        entries.close()  # the walk may stop early; release the server-side cursor
    if not report.intact:
        return report
    head = db.session.get(AuditChainHead, 1)
    last = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    if last is not None and (head is None or head.last_seq != last.seq or head.last_hash != last.hash):
        return chain.ChainReport(report.rows_checked, last.seq, "chain head does not match the last row")
    return report


def _as_chain_row(entry: AuditEntry) -> chain.ChainRow:
    return chain.ChainRow(**{field.name: getattr(entry, field.name) for field in fields(chain.ChainRow)})
