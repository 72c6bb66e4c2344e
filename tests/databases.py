"""Scratch databases for tests that need their own: migrations from empty, and live-server journeys."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from poa_manager.config import normalise_database_url
from poa_manager.database import db


def test_database_url() -> str:
    return normalise_database_url(os.environ.get("POA_TEST_DATABASE_URL", "sqlite://"))


def on_postgresql() -> bool:
    return test_database_url().startswith("postgresql")


@contextmanager
def fresh_database(directory: Path) -> Iterator[str]:
    """An empty database of the engine under test: a SQLite file, or a new PostgreSQL database."""
    if not on_postgresql():
        yield f"sqlite:///{directory / 'fresh.sqlite3'}"
        return
    server = sa.make_url(test_database_url())
    name = f"{server.database}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@contextmanager
def rolled_back_transactions() -> Iterator[list[sa.Connection]]:
    """Inside an app context: every engine of `db` replaced by a connection in an open transaction,
    so the ORM binds to it and even views that commit only reach it; rolled back at the end and the
    pooled engines put back. Yields the connections."""
    engines = db.engines
    pooled = dict(engines)
    held = []
    try:
        for key, engine in pooled.items():
            connection = engine.connect()
            held.append((connection, connection.begin()))
            engines[key] = connection
        yield [connection for connection, _transaction in held]
    finally:
        db.session.remove()
        for connection, transaction in held:
            transaction.rollback()
            connection.close()
        engines.update(pooled)
