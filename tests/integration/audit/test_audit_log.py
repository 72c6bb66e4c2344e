"""The audit log: every change is recorded, the database refuses edits, tampering is found."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from poa_manager.audit import services as audit
from poa_manager.audit.chain import GENESIS_HASH
from poa_manager.audit.models import AuditEntry
from tests.databases import on_postgresql
from tests.factories import UserFactory


def _record(n: int, actor) -> list[AuditEntry]:
    return [
        audit.record(
            "test.changed", actor=actor, entity_type="thing", entity_id=i, before={"n": i}, after={"n": i + 1}
        )
        for i in range(n)
    ]


def test_entries_chain_from_the_previous_hash_in_order(db):
    actor = UserFactory()
    first, second, third = _record(3, actor)
    assert second.seq == first.seq + 1 and third.seq == second.seq + 1
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert (first.actor_id, first.actor_label) == (actor.id, actor.email)
    assert first.data == {"before": {"n": 0}, "after": {"n": 1}}
    assert audit.verify_chain().intact


def test_the_first_entry_starts_from_the_genesis_hash(db):
    first = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.seq).limit(1)) or _record(1, None)[0]
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor_label = 'mallory'",
        "DELETE FROM audit_entries",
    ],
)
def test_database_refuses_update_and_delete(db, statement):
    _record(2, UserFactory())
    db.session.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(sa.text(statement))
    assert audit.verify_chain().intact


@pytest.mark.postgres
def test_database_refuses_truncate(db):
    _record(1, None)
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(sa.text("TRUNCATE audit_entries"))


def _disable_append_only_triggers(db) -> None:
    """What an attacker with the database owner's rights could do; rolled back with the test."""
    if on_postgresql():
        db.session.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))


def test_tampering_with_row_k_is_reported_at_row_k(db, runner):
    entries = _record(6, UserFactory())
    k = entries[3].seq
    _disable_append_only_triggers(db)
    db.session.execute(
        sa.text("UPDATE audit_entries SET data = :data WHERE seq = :k"),
        {"data": '{"after": {"n": 1000}}', "k": k},
    )
    db.session.expire_all()

    report = audit.verify_chain()
    assert report.first_bad_seq == k

    result = runner.invoke(args=["poa", "audit-verify"])
    assert result.exit_code == 1
    assert f"Audit chain broken at row {k}" in result.output


def test_deleting_the_newest_row_is_reported(db):
    entries = _record(3, None)
    _disable_append_only_triggers(db)
    db.session.execute(sa.text("DELETE FROM audit_entries WHERE seq = :k"), {"k": entries[-1].seq})
    db.session.expire_all()
    assert audit.verify_chain().first_bad_seq == entries[-2].seq


def test_audit_verify_command_reports_an_intact_chain(db, runner):
    _record(2, None)
    result = runner.invoke(args=["poa", "audit-verify"])
    assert result.exit_code == 0 and "Audit chain intact" in result.output


def test_a_failed_request_leaves_no_audit_entry(client, world, api_headers_for, db):
    headers = api_headers_for(world.admin)
    before = db.session.scalar(sa.select(sa.func.max(AuditEntry.seq)))
    response = client.post(
        "/api/v1/organisations",
        json={"name": world.viewer.organisation.name, "kind": "verifier"},
        headers=headers,
    )
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.max(AuditEntry.seq))) == before


def test_security_events_are_audited(client, db):
    user = UserFactory()
    client.post("/login", data={"email": user.email, "password": "wrong-password-here"})
    client.post("/login", data={"email": user.email, "password": "quiet-harbour-lantern-72"})
    client.post("/logout")
    actions = list(
        db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.entity_id == str(user.id)).order_by(AuditEntry.seq)
        )
    )
    assert actions == ["auth.login_failed", "auth.login_succeeded", "auth.logout"]
