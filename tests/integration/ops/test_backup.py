"""Backups restore: `flask poa backup` on a database holding the demo, restored into an empty one
(pg_restore, or SQLite's backup API), gives the same rows in every table, an intact audit chain, a
clean reconciliation and a ready app."""

import sqlite3
import subprocess

import flask_migrate
import sqlalchemy as sa

from poa_manager import create_app, demo
from poa_manager.accounts.login import account_settings
from poa_manager.database import db as _db
from tests.databases import fresh_database
from tests.factories import OrganisationFactory


def _row_counts() -> dict[str, int]:
    names = sa.inspect(_db.engine).get_table_names()
    return {
        name: _db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) for name in names
    }


def _restore(backup: str, target_url: str) -> None:
    url = sa.make_url(target_url)
    if url.get_backend_name() == "sqlite":
        source, target = sqlite3.connect(backup), sqlite3.connect(url.database)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", libpq, backup], check=True)


def _dispose(app) -> None:
    with app.app_context():
        _db.session.remove()
        for engine in _db.engines.values():
            engine.dispose()


def test_a_backup_restores_into_an_identical_database(tmp_path, figures):
    uploads = tmp_path / "uploads"
    backup = str(tmp_path / "poa_manager.backup")
    (tmp_path / "live").mkdir()
    (tmp_path / "restored").mkdir()
    with fresh_database(tmp_path / "live") as live_url, fresh_database(tmp_path / "restored") as restored_url:
        live = create_app("testing", SQLALCHEMY_DATABASE_URI=live_url, READINGS_UPLOAD_FOLDER=str(uploads))
        restored = create_app("testing", SQLALCHEMY_DATABASE_URI=restored_url)
        try:
            with live.app_context():
                flask_migrate.upgrade()
                assert demo.seed(settings=account_settings(), upload_folder=uploads)
                _db.session.commit()
                before = _row_counts()
                engine = _db.engine.dialect.name
                result = live.test_cli_runner().invoke(args=["poa", "backup", backup])
                assert result.exit_code == 0, result.output
                assert f"Backup of the {engine} database written to {backup}" in result.output
                # A change after the backup must not be in the restored copy.
                OrganisationFactory(name="Joined after the backup")
                _db.session.commit()
                assert _row_counts()["organisations"] == before["organisations"] + 1

            _restore(backup, restored_url)

            with restored.app_context():
                after = _row_counts()
                runner = restored.test_cli_runner()
                verified = runner.invoke(args=["poa", "audit-verify"])
                reconciled = runner.invoke(args=["poa", "reconcile"])
            ready = restored.test_client().get("/readyz")
        finally:
            _dispose(live)
            _dispose(restored)

    assert after == before, {
        t: (before.get(t), after.get(t)) for t in before | after if before.get(t) != after.get(t)
    }
    assert before["sites"] >= 3 and before["audit_entries"] > 0 and before["users"] > 0
    assert verified.exit_code == 0, verified.output
    assert f"Audit chain intact: {before['audit_entries']} rows verified." in verified.output
    assert reconciled.exit_code == 0 and "0 discrepancies" in reconciled.output, reconciled.output
    assert ready.status_code == 200, ready.json
    figure = (
        f"backup/restore on {engine}: {len(after)} tables, {sum(after.values())} rows identical "
        f"({after['sites']} sites, {after['audit_entries']} audit entries); audit chain intact, "
        f"reconcile clean, /readyz 200 on the restored copy"
    )
    print(figure)
    figures.append(figure)


def test_backup_refuses_an_in_memory_database(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    try:
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["poa", "backup", str(tmp_path / "x")])
    finally:
        _dispose(app)
    assert result.exit_code == 1
    assert "An in-memory database has nothing to back up." in result.output
