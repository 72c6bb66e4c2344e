"""The outbox: every registry event is a row written in the same transaction as the change, so a
webhook or a notification never announces something that rolled back (quality.md A1 #4)."""

from typing import Any

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.database import db, utcnow
from poa_manager.registry import policies
from poa_manager.registry.models import Account, CreditBlock, RegistryEvent

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


def events_for(actor: User, *, limit: int = 100) -> list[RegistryEvent]:
    """The newest events the actor is party to: every one for registry and platform administrators;
    otherwise those moving units to or from the organisation's accounts, and the issuances,
    authorizations and first transfers of programmes it takes part in."""
    events = db.session.scalars(
        sa.select(RegistryEvent).order_by(RegistryEvent.id.desc()).limit(limit * 5)
    ).all()
    if policies.sees_all_accounts(actor):
        return list(events[:limit])
    own = {
        a.number
        for a in db.session.scalars(
            sa.select(Account).where(Account.organisation_id == actor.organisation_id)
        )
    }
    programmes = {m.programme_id for m in actor.memberships}
    mine = [
        e
        for e in events
        if own & {e.payload.get("from_account"), e.payload.get("to_account")}
        or (e.kind in ("issuance", "authorization", "first_transfer") and e.programme_id in programmes)
    ]
    return mine[:limit]
