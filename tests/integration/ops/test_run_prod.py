"""`make run-prod` for real: scripts/run_prod.sh on a scratch PostgreSQL database and a scratch Redis
database, gunicorn with two workers and the task worker as subprocesses; ready, logged in through
the real server, stopped cleanly. Skipped without PostgreSQL or Redis, except under CI=true."""

import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from tests import databases

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = "redis://127.0.0.1:6379/15"  # a database number nothing else here uses; flushed
ADMIN_EMAIL = "ops.admin@example.org"
ADMIN_PASSWORD = "harbour-lantern-quartz-58"


def _unavailable(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must run the production check)", pytrace=False)
    pytest.skip(message)


def _server_url() -> sa.URL:
    if databases.on_postgresql():
        return sa.make_url(databases.test_database_url())
    return sa.make_url("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def scratch_postgresql():
    server = _server_url()
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"poa_run_prod_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        engine.dispose()
        _unavailable(f"PostgreSQL is not reachable at {server.host}:{server.port}: {type(error).__name__}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture
def scratch_redis():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        _unavailable(f"Redis is not reachable at {REDIS_URL}: {type(error).__name__}")
    yield REDIS_URL
    client.flushdb()
    client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(opener, url: str, timeout: float = 10):
    try:
        response = opener.open(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
    with response:
        return response.status, dict(response.headers), response.read().decode()


def test_run_prod_serves_logs_in_and_stops_cleanly(scratch_postgresql, scratch_redis, tmp_path, figures):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POA_", "FLASK_"))}
    env.update(
        BIN=str(Path(sys.executable).parent),
        POA_DATABASE_URL=scratch_postgresql,
        POA_TASK_QUEUE_URL=scratch_redis,
        POA_SECRET_KEY=secrets.token_urlsafe(48),
        POA_WEB_BIND=f"127.0.0.1:{port}",
        POA_WEB_WORKERS="2",
        POA_TASK_WORKERS="1",
        POA_INSECURE_COOKIES="1",  # plain HTTP on loopback; the script refuses it elsewhere
        POA_READINGS_UPLOAD_FOLDER=str(tmp_path / "uploads"),
        POA_STOP_TIMEOUT="20",
    )
    output = tmp_path / "run_prod.log"
    started = time.monotonic()
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            ["bash", "scripts/run_prod.sh"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing survives the test
        )

    def log_tail() -> str:
        return output.read_text(errors="replace")[-4000:]

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        ready = None
        while time.monotonic() - started < 120:
            assert process.poll() is None, f"run_prod.sh exited with {process.returncode}:\n{log_tail()}"
            try:
                ready = _get(opener, f"{base}/readyz", timeout=2)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                ready = None
            if ready and ready[0] == 200:
                break
            time.sleep(0.5)
        assert ready and ready[0] == 200, f"/readyz never answered 200: {ready}\n{log_tail()}"
        ready_after = time.monotonic() - started
        assert json.loads(ready[2])["checks"] == {"database": "ok", "migrations": "ok", "task_queue": "ok"}
        status, _headers, body = _get(opener, f"{base}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        # The first administrator, created the documented way against the running deployment.
        cli_env = {**env, "POA_ENV": "production", "FLASK_APP": "poa_manager"}
        created = subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "poa", "create-admin", "--email", ADMIN_EMAIL]
            + ["--name", "Ops Admin", "--password", ADMIN_PASSWORD],
            cwd=ROOT,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stdout + created.stderr

        status, _headers, page = _get(opener, f"{base}/login")
        assert status == 200
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, page[:2000]
        form = urllib.parse.urlencode(
            {"csrf_token": token.group(1), "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).encode()
        with opener.open(f"{base}/login", data=form, timeout=10) as response:  # follows the 302
            assert (response.status, urllib.parse.urlsplit(response.url).path) == (200, "/")
            dashboard_id = response.headers["X-Request-ID"]
            assert "Ops Admin" in response.read().decode()
        status, headers, dashboard = _get(opener, f"{base}/")
        assert status == 200 and "Ops Admin" in dashboard, dashboard[:2000]
        # Without Secure cookies (plain HTTP) the app does not claim HTTPS either.
        assert "Strict-Transport-Security" not in headers
    finally:
        stop_started = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        stopped_after = time.monotonic() - stop_started
    assert returncode == 0, f"run_prod.sh did not stop cleanly ({returncode}):\n{log_tail()}"
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no gunicorn worker or task worker left behind

    # The app's access lines are JSON, one per request, with the request id the response carried.
    lines = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "poa_manager.access"]
    (dashboard_line,) = [line for line in access if line["request_id"] == dashboard_id]
    assert (dashboard_line["path"], dashboard_line["status"]) == ("/", 200)
    assert isinstance(dashboard_line["user_id"], int)
    assert ADMIN_PASSWORD not in output.read_text()
    workers = {line["message"] for line in lines if line.get("message", "").startswith("Booting worker")}
    assert len(workers) >= 2, log_tail()
    figure = (
        f"run_prod.sh on PostgreSQL + Redis db 15: /readyz 200 after {ready_after:.1f} s with "
        f"{len(workers)} gunicorn workers and the task worker; login and dashboard 200 through the real "
        f"server; {len(access)} JSON access lines; stopped cleanly in {stopped_after:.1f} s"
    )
    print(figure)
    figures.append(figure)
