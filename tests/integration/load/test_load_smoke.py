"""The load test's smoke version (the full one is `make bench-load`, bench/load_test.py).

gunicorn with 2 workers in the production configuration, on a scratch database seeded with the
small demo (a SQLite file; a scratch PostgreSQL database beside POA_TEST_DATABASE_URL's when it is
set), and locust as a subprocess (never imported here: it monkey-patches with gevent) running the
same mix as the full test: 5 users for 10 s. Every request must succeed.
"""

import os
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import load_seed  # noqa: E402
import load_test  # noqa: E402

USERS = 5
SECONDS = 10


@pytest.fixture
def scratch_database(tmp_path):
    """An empty database the test owns: a SQLite file, or a PostgreSQL database it drops after."""
    test_url = os.environ.get("POA_TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'load.sqlite3'}"
        return
    name = f"poa_load_smoke_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(test_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield test_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_mix_runs_without_errors_on_gunicorn(scratch_database, tmp_path, figures):
    uploads = tmp_path / "uploads"
    plan = load_seed.seed(scratch_database, uploads, extra_sites=0, showcase=False)
    plan["writer_slots"] = load_seed.writer_slots(scratch_database, uploads)
    assert plan["writer_slots"], "the demo operator has no meter with room for new readings"
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(load_test.json.dumps(plan))
    env = load_test.server_env(
        scratch_database,
        uploads,
        task_queue=f"sqlite:///{tmp_path / 'tasks.sqlite3'}",
        ratelimit_storage="memory://",
    )
    out = tmp_path / "locust"
    out.mkdir()
    server = load_test.Server(2, env, tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        run = load_test.run_locust(
            server.url, plan_path, out, users=USERS, seconds=SECONDS, classes=load_test.MIX, wait="0.2,1"
        )
        run["failures_csv"] = str(out / "locust_failures.csv")
        summary = load_test.summarise(run)
    finally:
        server.stop()
    log = server.problems()

    p95 = max(group["p95"] for group in summary["groups"].values())
    figure = f"load smoke: {summary['requests']} requests, {summary['failures']} errors, p95 {p95:.0f} ms"
    print(figure)
    figures.append(figure)
    assert summary["failures"] == 0, f"{figure}: {summary['failure_messages']}\n{log}"
    kinds = set(summary["kinds"])
    expected = {"page: dashboard", "page: sites list", "push: readings", "api: sites list"}
    assert expected <= kinds, (figure, kinds)
    # A loaded CI machine serves fewer requests in 10 s; every kind above ran at least once.
    assert summary["requests"] >= 10, figure

    # The pushed batches were stored: the readings are in the database, not only answered 202.
    engine = sa.create_engine(scratch_database)
    with engine.connect() as connection:
        batches = connection.scalar(
            sa.text(
                "SELECT COUNT(*) FROM reading_uploads WHERE batch_id LIKE 'load-%' AND status = 'accepted'"
            )
        )
    engine.dispose()
    assert batches == summary["kinds"]["push: readings"]["count"], (figure, batches)
