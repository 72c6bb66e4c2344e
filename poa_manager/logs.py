"""Logs: one JSON object per line in production (a log collector parses them), plain text in a
terminal, and one access line per request carrying a request id.

POA_LOG_FORMAT is "json" (production's default) or "text" (development's and the tests'),
POA_LOG_LEVEL a level name. Every record logged while a request runs carries its request id: the
caller's X-Request-ID when it is a plain token (a proxy's or a load balancer's, so one id follows
the request through every hop), a fresh one otherwise; the response echoes it.

The access line holds the method, the path (never the query string), the status, the duration and
the logged-in user's id. Never passwords, tokens, cookies or form data: quality.md A4 (A09,
ASVS V16) asks for who/what/when/where, and secrets in logs would be a second place to leak them.
"""

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

ACCESS_LOGGER = "poa_manager.access"
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only when it cannot smuggle anything into a log line or a header.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_ENDPOINTS = {"health.healthz", "health.readyz"}  # probes every few seconds: DEBUG, not INFO
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestContext(logging.Filter):
    """Stamps the current request's id (and the user's, once known) onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter(TEXT_FORMAT)


class _Handler(logging.StreamHandler):
    """Ours, so a second create_app() in one process replaces it instead of doubling every line."""


def init_logging(app: Flask) -> None:
    kind = str(app.config.get("LOG_FORMAT") or "json").lower()
    if kind not in ("json", "text"):
        raise RuntimeError(f'POA_LOG_FORMAT must be "json" or "text", not {kind!r}.')
    level = app.config.get("LOG_LEVEL") or "INFO"
    level = level.upper() if isinstance(level, str) else level
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Handler)]
    # A process whose logging someone else set up keeps it: pytest captures through the root
    # logger's handlers (even when a test builds a production app), and so may a logging config
    # given to gunicorn. The app then only adds its request id and access line.
    if not app.testing and len(ours) == len(root.handlers):
        for handler in ours:
            root.removeHandler(handler)
        handler = _Handler(sys.stderr)
        handler.setFormatter(json_formatter() if kind == "json" else text_formatter())
        handler.addFilter(RequestContext())
        root.addHandler(handler)
        root.setLevel(level)
        app.logger.handlers.clear()  # Flask's default handler would print every app.logger line twice
    logging.getLogger("poa_manager").setLevel(level)

    @app.before_request
    def _start_request() -> None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex  # a before_request hook may have stopped early
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        # Only a user the request already loaded: reading current_user here would query the
        # database for every static file.
        user = g.get("_login_user")
        user_id = user.id if user is not None and user.is_authenticated else None
        level = logging.DEBUG if request.endpoint in _QUIET_ENDPOINTS else logging.INFO
        logging.getLogger(ACCESS_LOGGER).log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": user_id,
                "remote_addr": request.remote_addr,
            },
        )
        return response
