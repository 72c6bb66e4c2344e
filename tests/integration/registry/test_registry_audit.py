"""T6 for the registry: every registry change is in the hash-chained audit log, and an edited
registry row there (say, an issuance's credits) is reported at that row."""

import sqlalchemy as sa

from poa_manager.audit import services as audit
from poa_manager.audit.models import AuditEntry
from poa_manager.database import db
from tests.integration.audit.test_audit_log import _disable_append_only_triggers


def test_an_edited_issuance_entry_breaks_the_chain_at_that_row(issued, runner):
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"registry.allocation_table_set", "registry.issued", "registry.forwarded"} <= actions
    issued_entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "registry.issued"))
    assert audit.verify_chain().intact
    _disable_append_only_triggers(db)
    db.session.execute(
        sa.text("UPDATE audit_entries SET data = :data WHERE seq = :k"),
        {"data": '{"after": {"credits": 3610}}', "k": issued_entry.seq},
    )
    db.session.expire_all()
    report = audit.verify_chain()
    print(f"T6: tamper at row {issued_entry.seq} (registry.issued) detected at row {report.first_bad_seq}")
    assert report.first_bad_seq == issued_entry.seq
    assert runner.invoke(args=["poa", "audit-verify"]).exit_code == 1
