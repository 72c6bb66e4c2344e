"""The controls every movement passes: the suspension switch, serial freezes, and the refusal type
that carries a check-catalogue code."""

from datetime import datetime

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, NotFound, RuleViolation
from poa_manager.programmes.models import Programme
from poa_manager.registry import policies, serials
from poa_manager.registry.checks import CHECKS
from poa_manager.registry.models import CreditBlock, RegistrySwitch, SerialFreeze


class RegistryRefusal(RuleViolation):
    """A registry check refused the operation; `code` is one of `checks.CHECKS` (T8)."""

    def __init__(self, message: str, *, code: str):
        if code not in CHECKS:
            raise ValueError(f"Unknown registry check {code!r}: add it to registry/checks.py")
        super().__init__(message, code=code)


def registry_switch() -> RegistrySwitch:
    switch = db.session.get(RegistrySwitch, 1)
    if switch is None:
        switch = RegistrySwitch(id=1, suspended=False)
        db.session.add(switch)
        db.session.flush()
    return switch


def switch_state() -> RegistrySwitch | None:
    """The switch with its last change, read only (None before the first change is recorded)."""
    return db.session.get(RegistrySwitch, 1)


def current_suspension() -> RegistrySwitch | None:
    """The switch when it is on, else None; a plain read (pages show the banner on every GET)."""
    switch = switch_state()
    return switch if switch is not None and switch.suspended else None


def ensure_open() -> None:
    """Refuse while the global suspension switch is on (T13)."""
    switch = db.session.get(RegistrySwitch, 1)
    if switch is not None and switch.suspended:
        raise RegistryRefusal(f"The registry is suspended: {switch.reason}", code="registry_suspended")


def set_suspension(
    *, actor: User, suspended: bool, reason: str, now: datetime | None = None
) -> RegistrySwitch:
    """Turn the global suspension switch on or off, with the reason on record."""
    if not policies.can_suspend(actor):
        raise NotAllowed("Only registry or platform administrators suspend the registry.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason.", errors={"reason": ["A reason is required."]})
    switch = registry_switch()
    lock(switch)
    before = {"suspended": switch.suspended, "reason": switch.reason}
    switch.suspended, switch.reason = suspended, reason
    switch.changed_by_id, switch.changed_at = actor.id, now or utcnow()
    db.session.flush()
    audit.record(
        "registry.suspended" if suspended else "registry.resumed",
        actor=actor,
        entity_type="registry",
        entity_id=1,
        before=before,
        after={"suspended": suspended, "reason": reason},
    )
    return switch


def ensure_not_frozen(block: CreditBlock) -> None:
    """Refuse when any serial of the block is in an active freeze (`serial_frozen`)."""
    ensure_none_frozen([block])


def ensure_none_frozen(blocks: list[CreditBlock]) -> None:
    """`ensure_not_frozen` for many blocks with one query per programme and vintage, not per block
    (forwarding or authorizing 100,000 blocks; bench/bench_registry.py)."""
    keys = {(b.programme_id, b.vintage) for b in blocks}
    freezes = {key: db.session.scalars(_active_freezes(*key)).all() for key in keys}
    for block in blocks:
        for freeze in freezes[(block.programme_id, block.vintage)]:
            if freeze.serial_start <= block.serial_end and freeze.serial_end >= block.serial_start:
                raise RegistryRefusal(
                    f"Serials {freeze.range} of vintage {freeze.vintage} are frozen: {freeze.reason}",
                    code="serial_frozen",
                )


def _active_freezes(programme_id: int, vintage: int) -> sa.Select[tuple[SerialFreeze]]:
    return sa.select(SerialFreeze).where(
        SerialFreeze.programme_id == programme_id,
        SerialFreeze.vintage == vintage,
        SerialFreeze.lifted_at.is_(None),
    )


def freeze_range(
    programme: Programme,
    *,
    actor: User,
    vintage: int,
    serial_start: int,
    serial_end: int,
    reason: str,
    now: datetime | None = None,
) -> SerialFreeze:
    """Freeze a serial range of a programme and vintage: later transactions touching it are refused."""
    if not policies.can_freeze(actor, programme.id):
        raise NotAllowed("Only the registry administrator freezes serials.")
    try:
        block = serials.SerialRange(serial_start, serial_end)
    except (TypeError, ValueError) as error:
        raise InvalidInput(str(error), errors={"serial_end": [str(error)]}) from error
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason.", errors={"reason": ["A reason is required."]})
    freeze = SerialFreeze(
        programme_id=programme.id,
        vintage=vintage,
        serial_start=block.start,
        serial_end=block.end,
        reason=reason,
        frozen_by_id=actor.id,
        frozen_at=now or utcnow(),
    )
    db.session.add(freeze)
    db.session.flush()
    audit.record(
        "registry.serials_frozen",
        actor=actor,
        entity_type="serial_freeze",
        entity_id=freeze.id,
        after={"programme": programme.reference, "vintage": vintage, "range": str(block), "reason": reason},
    )
    return freeze


def lift_freeze(freeze: SerialFreeze, *, actor: User, now: datetime | None = None) -> SerialFreeze:
    if not policies.can_freeze(actor, freeze.programme_id):
        raise NotAllowed("Only the registry administrator lifts a freeze.")
    lock(freeze)
    if freeze.lifted_at is not None:
        raise InvalidInput("This freeze is already lifted.")
    freeze.lifted_by_id, freeze.lifted_at = actor.id, now or utcnow()
    db.session.flush()
    audit.record("registry.freeze_lifted", actor=actor, entity_type="serial_freeze", entity_id=freeze.id)
    return freeze


def list_freezes(*, actor: User) -> sa.Select[tuple[SerialFreeze]]:
    query = sa.select(SerialFreeze).order_by(SerialFreeze.id.desc())
    if policies.can_suspend(actor):  # registry and platform administrators
        return query
    return query.where(sa.false())


def get_freeze(freeze_id: int, *, actor: User) -> SerialFreeze:
    freeze = db.session.get(SerialFreeze, freeze_id)
    if freeze is None or not policies.can_freeze(actor, freeze.programme_id):
        raise NotFound("No such freeze.")
    return freeze
