"""Structured logs: one JSON object per request with its id, and never a secret in them."""

import json
import logging

from poa_manager import logs
from tests.factories import PASSWORD


def _access_lines(caplog) -> list[dict]:
    formatter = logs.json_formatter()
    records = [r for r in caplog.records if r.name == logs.ACCESS_LOGGER]
    return [json.loads(formatter.format(record)) for record in records]


def test_a_request_is_logged_as_one_json_object_with_its_id(app, world, login_as, caplog, figures):
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    client = login_as(world.coordinator)
    login_lines = _access_lines(caplog)
    caplog.clear()

    response = client.get("/", headers={"X-Request-ID": "edge-7f3a.42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "edge-7f3a.42"  # the proxy's id is honoured and echoed
    (line,) = _access_lines(caplog)
    assert line["level"] == "INFO" and line["logger"] == "poa_manager.access"
    assert line["message"] == "GET / 200"
    assert line["request_id"] == "edge-7f3a.42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["user_id"] == world.coordinator.id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].startswith("20")

    # The login's own line: the POST is there, the password and the session cookie are not.
    (login,) = [entry for entry in login_lines if entry["method"] == "POST"]
    assert (login["path"], login["status"]) == ("/login", 302)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    everything = json.dumps(login_lines + [line])
    for secret in (PASSWORD, cookie.value, world.coordinator.email):
        assert secret not in everything
    figures.append(f"access log line: {len(line)} fields, request id honoured, no password/cookie/e-mail")


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_one(client, caplog):
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    fresh = client.get("/login")
    unsafe = client.get("/login", headers={"X-Request-ID": 'x" injected="1'})
    first, second = _access_lines(caplog)
    assert len(fresh.headers["X-Request-ID"]) == 32 and first["request_id"] == fresh.headers["X-Request-ID"]
    assert second["request_id"] == unsafe.headers["X-Request-ID"] != 'x" injected="1'
    assert first["user_id"] is None  # nobody logged in


def test_health_probes_log_at_debug_only(client, caplog):
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    client.get("/healthz")
    assert _access_lines(caplog) == []
    caplog.set_level(logging.DEBUG, logger=logs.ACCESS_LOGGER)
    client.get("/healthz")
    (line,) = _access_lines(caplog)
    assert (line["level"], line["path"]) == ("DEBUG", "/healthz")
