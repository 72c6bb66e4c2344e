"""The outbox: every registry event is a row written in the same transaction as the change, so a
webhook or a notification never announces something that rolled back (quality.md A1 #4)."""

from typing import Any

from poa_manager.database import db, utcnow
from poa_manager.registry.models import CreditBlock, RegistryEvent

EVENT_KINDS = (
    "issuance",
    "forward",
    "transfer",
    "retirement",
    "cancellation",
    "authorization",
    "first_transfer",
)


def emit(kind: str, *, programme_id: int | None, **payload: Any) -> RegistryEvent:
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown registry event {kind!r}")
    event = RegistryEvent(kind=kind, programme_id=programme_id, payload=payload, occurred_at=utcnow())
    db.session.add(event)
    return event


def block_payload(block: CreditBlock) -> dict[str, Any]:
    """What every event says of a block: its readable serial, range, vintage and quantity."""
    return {
        "serial": block.serial,
        "vintage": block.vintage,
        "serial_start": block.serial_start,
        "serial_end": block.serial_end,
        "quantity": block.quantity,
    }
