"""Health endpoints for a process manager, a load balancer or an orchestrator (docs/operations.md).

/healthz is liveness: the process answers, nothing else is touched, so a database outage never
makes a supervisor restart healthy web workers in a loop. /readyz is readiness: the database
answers, its schema is at the migrations' head (a worker started before `flask db upgrade` would
serve a schema it does not know), and the task queue's storage answers. Each is 200 or 503 with the
name of the failed check and the error's class, never a URL, a host or a message that could carry
a password. No login, GET only (so no CSRF token), no rate limit, never cached.
"""

from functools import lru_cache

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify
from huey import Huey
from huey.storage import RedisStorage, SqliteStorage

from poa_manager import tasks
from poa_manager.database import db
from poa_manager.extensions import csrf, limiter

bp = Blueprint("health", __name__)
OK = "ok"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(bp)
    limiter.exempt(bp)


@bp.get("/healthz")
def healthz():
    return _answer({"status": OK}, 200)


@bp.get("/readyz")
def readyz():
    checks = {
        "database": _check(_database),
        "migrations": _check(_migrations),
        "task_queue": _check(lambda: queue_storage_check(tasks.huey)),
    }
    ready = all(result == OK for result in checks.values())
    return _answer({"status": OK if ready else "unavailable", "checks": checks}, 200 if ready else 503)


def _answer(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _check(probe) -> str:
    """ "ok", or what failed: the exception's class only (its message may hold a URL or a host)."""
    try:
        problem = probe()
    except Exception as error:  # any failure of a dependency means "not ready", whatever it is
        return f"failed: {type(error).__name__}"
    return problem or OK


def _database() -> None:
    try:
        db.session.execute(sa.text("SELECT 1"))
    finally:
        db.session.rollback()  # leave no transaction (or broken connection) to the next request


def _migrations() -> str | None:
    heads = _migration_heads(str(current_app.extensions["migrate"].directory))
    try:
        current = set(MigrationContext.configure(db.session.connection()).get_current_heads())
    finally:
        db.session.rollback()
    if current != heads:
        found = ", ".join(sorted(current)) or "no revision"
        return f"failed: database at {found}, expected {', '.join(sorted(heads))}"
    return None


@lru_cache(maxsize=4)
def _migration_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migration scripts: fixed for a deployed release, read once."""
    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def queue_storage_check(queue: Huey) -> str | None:
    """The queue's storage answers: Redis replies to PING, the SQLite file can be read. In
    immediate mode (tests) jobs run in the caller and there is no storage to reach."""
    if queue.immediate:
        return None
    storage = queue.storage
    if isinstance(storage, RedisStorage):
        if storage.conn.ping() is not True:
            return "failed: Redis did not answer PING"
        return None
    if isinstance(storage, SqliteStorage):
        storage.queue_size()  # a read on the file, raises when it is missing or unreadable
        return None
    return f"failed: unknown queue storage {type(storage).__name__}"
