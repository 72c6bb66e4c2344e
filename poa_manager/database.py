"""The database layer: declarative base, the Flask-SQLAlchemy handle, shared column types."""

import enum
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, orm
from sqlalchemy.engine import Engine

from poa_manager.errors import NotFound

# Deterministic constraint names, so Alembic can find (and drop) every constraint later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC timestamp on every engine.

    PostgreSQL stores timestamptz; SQLite has no time zones and hands back naive values, which
    would make comparisons with `datetime.now(UTC)` fail. Naive values are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(sa.types.TypeDecorator):
    """A Decimal that comes back exactly as it went in, on every engine.

    PostgreSQL's NUMERIC is exact; SQLite would store a REAL and lose digits beyond about 15, so
    there the value is kept as its text. Used for emission quantities that must add up to the
    cent-of-a-gram (T11: the report, the workbook and the request agree exactly); never summed in
    SQL, only in Python.
    """

    impl = sa.Numeric()  # unbounded NUMERIC on PostgreSQL: no silent rounding at any scale
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(60))
        return dialect.type_descriptor(sa.Numeric())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"not a finite quantity: {value}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class Base(orm.DeclarativeBase):
    # On an explicit registry, not the class: Flask-SQLAlchemy 3.1 subclasses this base and
    # refuses a class-level type_annotation_map (architecture.md §18).
    registry = orm.registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            # Enums as short strings, so adding a status is a plain migration.
            enum.Enum: sa.Enum(enum.Enum, native_enum=False, length=32),
            datetime: UTCDateTime(),
        },
    )


# "create_savepoint" only matters when a session is bound to a Connection that is already in a
# transaction, which happens in the test fixture: commits then release a SAVEPOINT and the
# test's outer transaction still rolls everything back. Sessions bound to engines are unaffected.
db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class Timestamped:
    created_at: orm.Mapped[datetime] = orm.mapped_column(default=utcnow)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _connection_record) -> None:
    """Make SQLite behave: foreign keys on, and transactions that SQLAlchemy controls.

    pysqlite's own transaction handling delays BEGIN and breaks SAVEPOINT and transactional
    DDL; the SQLAlchemy docs ("Serializable isolation / Savepoints / Transactional DDL")
    switch it off and emit BEGIN in the "begin" event below.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    # Write-ahead log: pages keep reading while the worker writes a long import (readers never wait
    # for a writer). A no-op for in-memory databases.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        immediate = connection.get_execution_options().get("sqlite_begin_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writes_need_a_fresh_transaction() -> bool:
    """Whether a request that has read must start again as a writer before it commits a write:
    on SQLite, unless the session is bound to an outer connection (the tests' rolled-back one)."""
    bind = db.session.get_bind()
    return not isinstance(bind, sa.Connection) and bind.dialect.name == "sqlite"


def begin_writing() -> None:
    """Start the session's next transaction as a writer (SQLite: BEGIN IMMEDIATE).

    A deferred SQLite transaction that has read cannot become a writer once another writer has
    committed since (SQLITE_BUSY_SNAPSHOT, "database is locked", at once, whatever the busy
    timeout). Long writers such as an import job take the write lock first and queue behind
    each other instead. Pages keep reading meanwhile (WAL). A no-op on PostgreSQL, and when the
    session is bound to a connection already in a transaction (the tests' rolled-back one).
    """
    bind = db.session.get_bind()
    if isinstance(bind, sa.Connection) or bind.dialect.name != "sqlite" or db.session().in_transaction():
        return
    db.session.connection(execution_options={"sqlite_begin_immediate": True})


@contextmanager
def committed_step() -> Iterator[None]:
    """One writing transaction of a background job: committed when the block ends, rolled back if
    it raises, so a job that stops halfway leaves every earlier step done and this one undone."""
    begin_writing()
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def lock(instance) -> None:
    """Re-read `instance` with its row locked until the transaction ends (SELECT … FOR UPDATE).

    Two requests changing the same object then queue, and the second sees what the first committed
    instead of acting on a stale read. SQLite has no row locks and SQLAlchemy leaves FOR UPDATE out
    there; its writers queue on the database lock, and constraints are the backstop.
    """
    db.session.refresh(instance, with_for_update=True)


def count_rows(query: sa.Select) -> int:
    """How many rows a (possibly ordered) select returns, without loading them."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def one_or_not_found(query: sa.Select, message: str):
    """The single row of a scoped query; NotFound (404) when it is missing or not visible."""
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(message)
    return row
