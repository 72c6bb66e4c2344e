"""Block mechanics shared by issuance, transactions and Article 6: the split rule and ledger rows."""

import sqlalchemy as sa

from poa_manager.audit import services as audit
from poa_manager.database import db
from poa_manager.registry import serials
from poa_manager.registry.models import CreditBlock, LedgerEntry
from poa_manager.sites.models import Site

_IDS_PER_STATEMENT = 10_000  # PostgreSQL takes at most 65,535 parameters per statement


def preload_sites(blocks: list[CreditBlock]) -> list[Site]:
    """Read the blocks' sites in a few queries, so `block.serial` (which names the site) finds them in
    the session instead of one query per block. Keep the returned list while the blocks are used:
    the session's identity map holds objects only weakly."""
    ids = sorted({b.site_id for b in blocks})
    sites: list[Site] = []
    for first in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[first : first + _IDS_PER_STATEMENT]
        sites.extend(db.session.scalars(sa.select(Site).where(Site.id.in_(chunk))))
    return sites


def ledger_entry(kind, block, from_account_id, to_account_id, actor, now, **references) -> LedgerEntry:
    return LedgerEntry(
        kind=kind,
        programme_id=block.programme_id,
        site_id=block.site_id,
        vintage=block.vintage,
        serial_start=block.serial_start,
        serial_end=block.serial_end,
        quantity=block.quantity,
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        actor_id=actor.id,
        recorded_at=now,
        **references,
    )


def split_block(block: CreditBlock, quantity: int) -> CreditBlock:
    """Split off the last `quantity` units of `block` as a new block (the owner keeps the first
    sub-block, domain.md §5.5); the whole block itself when `quantity` is all of it."""
    return _split(block, quantity)


def _split(block: CreditBlock, quantity: int) -> CreditBlock:
    kept, moved = serials.split_off(block.range, quantity)
    if kept is None:
        return block
    block.serial_end = kept.end
    db.session.flush()  # shrink first: the new block takes over the old end (unique constraint)
    new = CreditBlock(
        programme_id=block.programme_id,
        site_id=block.site_id,
        vintage=block.vintage,
        serial_start=moved.start,
        serial_end=moved.end,
        account_id=block.account_id,
        status=block.status,
        issuance_id=block.issuance_id,
        authorization_status=block.authorization_status,
        authorization_id=block.authorization_id,
    )
    db.session.add(new)
    db.session.flush()
    audit.record(
        "registry.block_split",
        actor=None,
        actor_label="registry",
        entity_type="credit_block",
        entity_id=block.id,
        after={"kept": str(kept), "split_off": str(moved), "new_block_id": new.id},
    )
    return new
