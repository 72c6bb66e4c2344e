"""Sites registered elsewhere: imported by registry administrators, checked by the guard."""

import sqlalchemy as sa

from poa_manager.accounts.models import User
from poa_manager.audit import services as audit
from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.sites import policies, registrations
from poa_manager.sites.models import ExternalIdentifier, ExternalRegistration, IdentifierKind


def list_external_registrations(actor: User) -> sa.Select[tuple[ExternalRegistration]]:
    if not policies.can_import_external_registrations(actor):
        raise NotAllowed("Only registry administrators see the external registrations.")
    return sa.select(ExternalRegistration).order_by(
        ExternalRegistration.registry_name, ExternalRegistration.identifier
    )


def import_external_registrations(*, actor: User, filename: str, data: bytes) -> dict[str, int]:
    """Add or replace registrations by (registry, identifier); a file with any error imports nothing."""
    if not policies.can_import_external_registrations(actor):
        raise NotAllowed("Only registry administrators import external registrations.")
    parsed = registrations.parse(filename, data)
    if parsed.errors:
        raise InvalidInput("The file has errors; nothing was imported.", errors={"file": parsed.errors[:200]})
    if not parsed.registrations:
        raise InvalidInput("The file holds no registrations.", errors={"file": ["No rows."]})
    created = updated = 0
    for item in parsed.registrations:
        record = db.session.scalar(
            sa.select(ExternalRegistration).where(
                ExternalRegistration.registry_name == item.registry_name,
                ExternalRegistration.identifier == item.identifier,
            )
        )
        if record is None:
            record = ExternalRegistration(registry_name=item.registry_name, identifier=item.identifier)
            db.session.add(record)
            created += 1
        else:
            updated += 1
        record.name, record.latitude, record.longitude = item.name, item.latitude, item.longitude
        record.technology, record.imported_by_id = item.technology, actor.id
        record.crediting_start, record.crediting_end = item.crediting_start, item.crediting_end
        record.identifiers = [
            ExternalIdentifier(kind=IdentifierKind.meter_serial, value=v) for v in item.meter_serials
        ] + [
            ExternalIdentifier(kind=IdentifierKind.equipment_serial, value=v) for v in item.equipment_serials
        ]
    db.session.flush()
    counts = {"created": created, "updated": updated}
    audit.record(
        "external_registrations.imported",
        actor=actor,
        entity_type="external_registration",
        entity_id=None,
        data={"filename": filename, **counts},
    )
    return counts
