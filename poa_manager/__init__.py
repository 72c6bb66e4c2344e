"""The application factory: every extension and feature is wired here, on one screen."""

import os

from dotenv import load_dotenv
from flask import Flask, request

from poa_manager import (
    accounts,
    dashboards,
    health,
    interop,
    logs,
    monitoring,
    notifications,
    programmes,
    registry,
    sites,
    tasks,
    verification,
)
from poa_manager.accounts.login import init_login
from poa_manager.cli import poa_cli
from poa_manager.config import CONFIGS, development_secret_key, normalise_database_url
from poa_manager.database import begin_writing, db
from poa_manager.error_handlers import register_error_handlers
from poa_manager.extensions import csrf, limiter, login_manager, migrate, rest_api
from poa_manager.security import init_security_headers
from poa_manager.templating import init_templating

FEATURES = (
    accounts,
    programmes,
    sites,
    monitoring,
    verification,
    registry,
    interop,
    notifications,
    dashboards,
)


def create_app(env: str | None = None, **overrides) -> Flask:
    """Build the app for `env` (POA_ENV, else production); `overrides` win over every setting."""
    if env != "testing":
        load_dotenv()  # .env for WSGI servers too; the flask command loads it on its own
    env = env or os.environ.get("POA_ENV", "production")
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(CONFIGS[env].INSTANCE_PATH),
    )
    app.config.from_object(CONFIGS[env])
    app.config.from_prefixed_env("POA")  # POA_SECRET_KEY, POA_LOGIN_LOCKOUT_THRESHOLD, ...
    if env != "testing" and app.config.get("DATABASE_URL"):  # POA_DATABASE_URL; tests have their own
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.update(overrides)
    _configure_database_and_secret(app, env)

    db.init_app(app)
    logs.init_logging(app)  # first hooks: every request gets its id, and its access line at the end
    health.init_app(app)  # /healthz and /readyz
    app.before_request(_writers_take_the_write_lock_first)
    migrate.init_app(app, db, directory=str(CONFIGS[env].MIGRATIONS_PATH))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    rest_api.init_app(app)

    for feature in FEATURES:
        app.register_blueprint(feature.views.bp)  # HTML pages
        rest_api.register_blueprint(feature.api.blp)  # JSON under /api/v1
    rest_api.register_blueprint(registry.api.public_blp)  # the serial lookup, with no token
    app.cli.add_command(poa_cli)  # flask poa create-admin | seed-demo | audit-verify

    tasks.huey.immediate = bool(app.config["TASKS_IMMEDIATE"])
    verification.services.configure_impartiality(
        verification.impartiality.parse_rules(app.config["VERIFIER_IMPARTIALITY"])
    )

    registry.services.configure_registry(app.config["REGISTRY_ID"])

    init_login(app)
    init_templating(app)
    init_security_headers(app)
    register_error_handlers(app)  # last: decides HTML or JSON for every error
    return app


def _configure_database_and_secret(app: Flask, env: str) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if env != "testing":
        os.makedirs(app.instance_path, exist_ok=True)  # the embedded SQLite database lives there
    if not app.config.get("SECRET_KEY") and env == "development":
        app.config["SECRET_KEY"] = development_secret_key()
    secret = app.config.get("SECRET_KEY") or ""
    if len(secret) < 32:
        raise RuntimeError(
            "POA_SECRET_KEY must be set to a random value of at least 32 characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )


def _writers_take_the_write_lock_first() -> None:
    """On SQLite, a request that writes starts its transaction as a writer (BEGIN IMMEDIATE), before
    anything reads: concurrent writers then queue instead of failing with "database is locked"
    when one commits between another's read and write. A no-op on PostgreSQL (row locks there)."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        begin_writing()
