"""Dashboards with the demo data: every role's landing page, the cycle times and the chart JSON.

Seeds the full demo that `make run` loads (`demo.seed(showcase=True)`: 200 sites with a year of daily
readings, a verified and issued period, an overdue request, a transformer programme) into a fresh
database, then logs each demo role in through the Flask test client and requests its pages REPEATS
times. Prints p50/p95/max wall time per page next to the time spent inside the database driver for
the same request (SQL ms: the raw engine's share) and the statement count. Target: p95 < 300 ms.

`POA_BENCH_EXTRA_SITES=100000` adds that many sites to the showcase programme first (raw insert, as
bench_lists.py), with a reading status per site, to show the dashboards stay bounded at scale.

Run: `make bench-dashboards`, or `.venv/bin/python bench/bench_dashboards.py` (SQLite in a temporary
file) and `POA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/<empty db> …` (PostgreSQL).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lists import _analyze, _p, _seed_sites, _sql_meter  # noqa: E402

from bench.web_login import log_in  # noqa: E402
from poa_manager import create_app, demo  # noqa: E402
from poa_manager.accounts.login import account_settings  # noqa: E402
from poa_manager.database import db  # noqa: E402
from poa_manager.programmes.models import Programme  # noqa: E402

REPEATS = int(os.environ.get("POA_BENCH_REPEATS", "30"))
EXTRA_SITES = int(os.environ.get("POA_BENCH_EXTRA_SITES", "0"))
TARGET_MS = 300

# (role, demo user, pages); "{programme}" is the showcase programme's id.
JOURNEYS = [
    ("coordinator", "coordinator", ["/", "/dashboards/cycle-times", "/dashboards/charts/cycle-steps.json"]),
    ("site operator", "operator", ["/", "/dashboards/charts/completeness.json", "/notifications/"]),
    ("verifier", "auditor", ["/"]),
    ("registry administrator", "registry", ["/", "/registry/charts/credits-by-vintage.json"]),
    ("host government", "government", ["/", "/registry/charts/ndc-contribution.json?host_country=VN"]),
    ("platform administrator", "admin", ["/"]),
    ("Japan (holder)", "japan", ["/"]),
]


def _seed(app, uploads: Path) -> tuple[float, int]:
    with app.app_context():
        flask_migrate.upgrade()
        started = time.perf_counter()
        demo.seed(settings=account_settings(), upload_folder=uploads, showcase=True)
        db.session.commit()
        seeded = time.perf_counter() - started
        programme_id = db.session.scalar(
            sa.select(Programme.id).where(Programme.reference == "VN-JCM-PoA-002")
        )
        db.session.remove()
        if EXTRA_SITES:
            _seed_sites(programme_id, EXTRA_SITES)
            _reading_status_for_new_sites(programme_id)
        _analyze()
        return seeded, programme_id


def _reading_status_for_new_sites(programme_id: int) -> None:
    """One meter per added site and its reading status (last reading 30 days ago), raw."""
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO meters (site_id, serial, role, unit, multiplier, reading_type, created_at) "
                "SELECT id, 'M-' || reference, 'generation', 'kWh', 1, 'interval', created_at "
                "FROM sites WHERE programme_id = :p AND reference LIKE 'CPA-%' "
                "AND NOT EXISTS (SELECT 1 FROM meters m WHERE m.site_id = sites.id)"
            ),
            {"p": programme_id},
        )
        last = int(time.time()) - 30 * 86_400
        connection.execute(
            sa.text(
                "INSERT INTO meter_reading_status "
                "(meter_id, first_reading_end, last_reading_end, reading_count, flagged_count) "
                "SELECT m.id, :first, :last, 335, 0 FROM meters m JOIN sites s ON s.id = m.site_id "
                "WHERE s.programme_id = :p AND NOT EXISTS "
                "(SELECT 1 FROM meter_reading_status r WHERE r.meter_id = m.id)"
            ),
            {"p": programme_id, "first": last - 335 * 86_400, "last": last},
        )


def _login(app, user: str):
    return log_in(app, f"{user}@demo.example.org", demo.DEMO_PASSWORD)


def main() -> None:
    url = os.environ.get("POA_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder:
        uploads = Path(folder) / "uploads"
        uploads.mkdir()
        url = url or f"sqlite:///{folder}/bench.sqlite3"
        app = create_app(
            "testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=url, READINGS_UPLOAD_FOLDER=str(uploads)
        )
        seeded, _programme_id = _seed(app, uploads)
        with app.app_context():
            engine = db.engine.dialect.name
            sites = db.session.scalar(sa.text("SELECT COUNT(*) FROM sites"))
            meter = _sql_meter(db.engine)
        print(f"engine: {engine}; demo seeded in {seeded:.1f} s; {sites} sites; {REPEATS} runs per page")
        print(
            f"{'role':<24} {'page':<50} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL ms':>8} {'stmts':>6}"
        )
        worst = 0.0
        for role, user, pages in JOURNEYS:
            client = _login(app, user)
            for page in pages:
                client.get(page)  # warm: templates compiled, caches filled
                walls, sqls, statements = [], [], 0
                for _ in range(REPEATS):
                    meter["count"], meter["seconds"] = 0, 0.0
                    started = time.perf_counter()
                    response = client.get(page)
                    response.get_data()
                    walls.append(time.perf_counter() - started)
                    sqls.append(meter["seconds"])
                    statements = meter["count"]
                    assert response.status_code == 200, (role, page, response.status_code)
                p95 = _p(walls, 0.95)
                worst = max(worst, p95)
                print(
                    f"{role:<24} {page:<50} {_p(walls, 0.5):8.1f} {p95:8.1f} {max(walls) * 1000:8.1f} "
                    f"{_p(sqls, 0.5):8.1f} {statements:6d}"
                )
        verdict = "meets" if worst < TARGET_MS else "MISSES"
        print(f"worst p95: {worst:.1f} ms — {verdict} the {TARGET_MS} ms target")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
