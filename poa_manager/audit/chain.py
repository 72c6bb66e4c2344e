"""Canonical encoding and SHA-256 chaining of audit rows. Pure Python: no Flask, no database.

hash_i = SHA-256(hash_{i-1} ‖ canonical(row_i)) (architecture.md §9, quality.md T6). Changing any
field of row k, or removing or reordering rows, changes hash_k, so verification stops at the
first row whose stored hash no longer matches.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainRow:
    """The hashed fields of one audit entry."""

    seq: int
    occurred_at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str = ""


def _plain(value: Any) -> Any:
    """JSON-safe form: decimals, floats and dates as strings, so the encoding is the same everywhere."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        # GeoJSON coordinates arrive as floats; their shortest repr round-trips exactly. Quantities
        # that become credits are Decimals long before they reach the log.
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity cannot be audited")
        return repr(value)
    return value


def canonical_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of an entry's data: what is hashed is exactly what is kept."""
    return _plain(data)


def canonical(row: ChainRow) -> bytes:
    """Sorted keys, no whitespace, UTC ISO timestamps, decimals as strings."""
    body = {
        "seq": row.seq,
        "occurred_at": _plain(row.occurred_at),
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "data": _plain(row.data),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, row: ChainRow) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a walk over the chain; `first_bad_seq` is None when every row holds."""

    rows_checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def verify(rows: Iterable[ChainRow]) -> ChainReport:
    """Walk rows in sequence order and report the first one that breaks the chain."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in rows:
        checked += 1
        if row.seq != expected_seq:
            return ChainReport(checked, row.seq, f"expected row {expected_seq}, found {row.seq}")
        if row.prev_hash != expected_prev:
            return ChainReport(checked, row.seq, "link to the previous row is broken")
        if chain_hash(row.prev_hash, row) != row.hash:
            return ChainReport(checked, row.seq, "row content does not match its hash")
        expected_prev = row.hash
        expected_seq += 1
    return ChainReport(checked)
