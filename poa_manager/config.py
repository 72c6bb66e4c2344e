"""Settings per environment. Secrets never live here: they arrive as POA_* variables."""

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = PROJECT_ROOT / "instance"


class Config:
    INSTANCE_PATH = INSTANCE_PATH
    MIGRATIONS_PATH = PROJECT_ROOT / "migrations"
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_PATH / 'poa_manager.sqlite3'}"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    API_TITLE = "poa_manager API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/docs"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"  # vendored: no CDN at run time
    API_SPEC_OPTIONS = {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "info": {"description": "Personal API tokens are created on the Account page."},
    }

    SESSION_COOKIE_NAME = "poa_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Login sessions are rows (accounts.models.LoginSession); these bound their life.
    LOGIN_SESSION_IDLE_MINUTES = 120
    LOGIN_SESSION_ABSOLUTE_HOURS = 12

    # Lock-out: consecutive failures per account. Rate limit: attempts per client address.
    LOGIN_LOCKOUT_THRESHOLD = 5
    LOGIN_LOCKOUT_MINUTES = 15
    LOGIN_RATE_LIMIT = "10 per minute;100 per hour"
    RATELIMIT_STORAGE_URI = "memory://"  # set POA_RATELIMIT_STORAGE_URI=redis://... with workers
    RATELIMIT_HEADERS_ENABLED = True

    PASSWORD_MIN_LENGTH = 12

    # Two-factor authentication (docs/two-factor.md): the pending state between password and code
    # lasts TWO_FACTOR_PENDING_MINUTES; TOTP_ISSUER names the app in authenticator apps.
    TWO_FACTOR_PENDING_MINUTES = 10
    TOTP_ISSUER = "poa_manager"
    TWO_FACTOR_RATE_LIMIT = "10 per minute;100 per hour"
    # Password reset links: e-mailed ones (only with POA_SMTP_HOST) and admin-issued ones.
    PASSWORD_RESET_EMAIL_MINUTES = 30
    PASSWORD_RESET_ADMIN_HOURS = 24
    PASSWORD_RESET_RATE_LIMIT = "5 per minute;30 per hour"

    PROXY_FIX_HOPS = 0  # POA_PROXY_FIX_HOPS=1 behind one reverse proxy that sets X-Forwarded-*
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the login session

    # Meter readings: originals are kept by hash; files up to READINGS_INLINE_MAX_BYTES are checked
    # in the request, larger ones by the worker (`flask poa worker`), with progress on the page.
    READINGS_UPLOAD_FOLDER = str(INSTANCE_PATH / "uploads")
    READINGS_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
    READINGS_INLINE_MAX_BYTES = 2 * 1024 * 1024
    # True runs queued jobs at once in the caller (tests); the queue itself is set by
    # POA_TASK_QUEUE_URL (empty: SQLite file in instance/, or redis://...), see poa_manager/tasks.py.
    TASKS_IMMEDIATE = False
    # Verifier impartiality per mechanism, "mechanism=rule,…" over the defaults of
    # verification/impartiality.py (rules: none, different_team, different_organisation).
    VERIFIER_IMPARTIALITY = ""
    # The originating registry's ID in ITMO identifiers (domain.md §5.3), e.g. "JCMVN".
    REGISTRY_ID = "POAM"
    # Notification e-mail (docs/notifications.md): none is sent unless POA_SMTP_HOST is set.
    # Also POA_SMTP_SSL (implicit TLS), POA_SMTP_TIMEOUT_SECONDS, POA_MAIL_BASE_URL (absolute links).
    SMTP_HOST = ""
    SMTP_PORT = 587
    SMTP_USERNAME = ""
    SMTP_PASSWORD = ""
    SMTP_STARTTLS = True
    MAIL_FROM = "poa_manager@localhost"
    # Base-map tiles (docs/maps.md): a template such as https://tile.openstreetmap.org/{z}/{x}/{y}.png,
    # set by POA_MAP_TILE_URL. Empty: no tiles, the map draws the boundary and the sites on a plain
    # background and works offline. The tile host is added to the CSP's img-src (security.py).
    MAP_TILE_URL = ""
    MAP_TILE_ATTRIBUTION = ""  # POA_MAP_TILE_ATTRIBUTION, e.g. "© OpenStreetMap contributors"
    # Logs (docs/operations.md): "json" is one object per line for a log collector, "text" for a
    # terminal; POA_LOG_FORMAT and POA_LOG_LEVEL override both.
    LOG_FORMAT = "json"
    LOG_LEVEL = "INFO"


class DevelopmentConfig(Config):
    TEMPLATES_AUTO_RELOAD = True
    LOG_FORMAT = "text"


class TestingConfig(Config):
    TESTING = True
    LOG_FORMAT = "text"
    SECRET_KEY = "test-only-" + "x" * 32
    WTF_CSRF_ENABLED = False  # the csrf_enabled fixture turns it back on for CSRF tests
    # The suite logs in hundreds of times from one address; the rate-limit test restores the real limit.
    LOGIN_RATE_LIMIT = "10000 per minute"
    TWO_FACTOR_RATE_LIMIT = "10000 per minute"
    PASSWORD_RESET_RATE_LIMIT = "10000 per minute"
    SQLALCHEMY_DATABASE_URI = os.environ.get("POA_TEST_DATABASE_URL", "sqlite://")
    TASKS_IMMEDIATE = True
    READINGS_INLINE_MAX_BYTES = 64 * 1024  # small, so tests go through the queue path too


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def development_secret_key() -> str:
    """A random key kept in instance/, so `make run` needs no set-up and sessions survive restarts."""
    path = INSTANCE_PATH / "secret_key"
    if not path.exists():
        INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def normalise_database_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here, not the psycopg2 default."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
