"""The map at 100,000 sites: the map GeoJSON endpoint, the GeoJSON and KML exports, against raw SQL.

Seeds one registered programme with POA_BENCH_SITES (default 100,000) located sites, each with one
meter, by a raw bulk insert (as bench_lists.py), then times through the Flask test client:
- the compact map GeoJSON (`sites.map_data`) REPEATS times: p50/p95 wall time, the SQL time inside
  it, its size and its gzip size (what a compressing proxy sends);
- next to it the raw SQL of the same rows (one SELECT of the seven columns, fetched), so the share
  of the time spent building JSON is visible;
- one full GeoJSON and one full KML export (all import columns, meters included), streamed.

Run: `.venv/bin/python bench/bench_map.py` (SQLite in a temporary file) or
`POA_BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/bench_map.py` (an empty
database: the script migrates it).
"""

import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_lists import _analyze, _login, _p, _sql_meter  # noqa: E402
from poa_manager import create_app  # noqa: E402
from poa_manager.accounts.roles import OrganisationKind  # noqa: E402
from poa_manager.database import db, utcnow  # noqa: E402
from tests.factories import OrganisationFactory, UserFactory, registered_programme  # noqa: E402

SITES = int(os.environ.get("POA_BENCH_SITES", "100000"))
REPEATS = int(os.environ.get("POA_BENCH_REPEATS", "5"))
BATCH = 10_000
STATUSES = ["draft", "eligible", "crediting", "included", "not_eligible"]


def _seed(programme_id: int, count: int) -> float:
    """Raw executemany of located sites on a grid, then one meter each: seconds taken."""
    started = time.perf_counter()
    columns = [
        "programme_id",
        "reference",
        "name",
        "status",
        "technology",
        "capacity_kw",
        "latitude",
        "longitude",
        "area_code",
        "equipment_serials",
        "documents",
        "attributes",
        "created_at",
    ]
    sites = sa.table("sites", *(sa.column(name) for name in columns))
    now = utcnow()
    with db.engine.begin() as connection:
        for first in range(0, count, BATCH):
            connection.execute(
                sites.insert(),
                [
                    {
                        "programme_id": programme_id,
                        "reference": f"CPA-{n:06d}",
                        "name": f"Rooftop {n}",
                        "status": STATUSES[n % len(STATUSES)],
                        "technology": "solar_pv",
                        "capacity_kw": 500 + n % 400,
                        # A 317 x 317 grid about 300 m apart, inside the bench programme's boundary.
                        "latitude": f"{10.5 + (n // 317) * 0.003:.6f}",
                        "longitude": f"{106.0 + (n % 317) * 0.0045:.6f}",
                        "area_code": "VN-57",
                        "equipment_serials": "[]",
                        "documents": '["cpa_dd"]',
                        "attributes": "{}",
                        "created_at": now,
                    }
                    for n in range(first, min(first + BATCH, count))
                ],
            )
        connection.execute(
            sa.text(
                "INSERT INTO meters (site_id, serial, role, accuracy_class, unit, multiplier, reading_type,"
                " created_at) SELECT id, 'MTR-' || reference, 'generation', '0.5S', 'kWh', 1, 'interval',"
                " created_at FROM sites WHERE programme_id = :programme"
            ),
            {"programme": programme_id},
        )
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("POA_BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        app = create_app("testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            flask_migrate.upgrade()
            coordinator = UserFactory(organisation=OrganisationFactory())
            verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            programme = registered_programme(coordinator, verifier, registry, title="Bench map")
            db.session.commit()
            programme_id, email = programme.id, coordinator.email
            db.session.close()
            seeded = _seed(programme_id, SITES)
            _analyze()
            print(f"engine: {db.engine.dialect.name}; {SITES} sites and meters seeded in {seeded:.1f} s")

            meter = _sql_meter(db.engine)
            client = _login(app, email)
            map_url = f"/programmes/{programme_id}/sites/map.geojson"
            walls, sqls = [], []
            for _ in range(REPEATS):
                meter["count"], meter["seconds"] = 0, 0.0
                started = time.perf_counter()
                response = client.get(map_url)
                body = response.get_data()
                walls.append(time.perf_counter() - started)
                sqls.append(meter["seconds"])
                assert response.status_code == 200, body[-500:]
            features = len(json.loads(body)["features"])
            print(
                f"map GeoJSON, {features} points: p50 {_p(walls, 0.5):.0f} ms, p95 {_p(walls, 0.95):.0f} ms;"
                f" SQL execute p50 {_p(sqls, 0.5):.0f} ms in {meter['count']} statements;"
                f" {len(body) / 2**20:.1f} MB, gzip {len(gzip.compress(body, 6)) / 2**20:.1f} MB,"
                f" {len(body) / max(features, 1):.0f} bytes per point"
            )

            raw = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                with db.engine.connect() as connection:
                    rows = connection.execute(
                        sa.text(
                            "SELECT id, reference, name, status, capacity_kw, latitude, longitude FROM sites"
                            " WHERE programme_id = :programme AND latitude IS NOT NULL ORDER BY reference"
                        ),
                        {"programme": programme_id},
                    ).all()
                raw.append(time.perf_counter() - started)
            print(
                f"raw SQL of the same {len(rows)} rows: p50 {_p(raw, 0.5):.0f} ms, p95 {_p(raw, 0.95):.0f} ms"
            )

            for extension in ("geojson", "kml"):
                meter["count"], meter["seconds"] = 0, 0.0
                started = time.perf_counter()
                response = client.get(f"/programmes/{programme_id}/sites/export.{extension}")
                body = response.get_data()
                elapsed = time.perf_counter() - started
                assert response.status_code == 200
                print(
                    f"export {extension} of all sites: {elapsed:.2f} s, SQL {meter['seconds']:.2f} s in"
                    f" {meter['count']} statements, {len(body) / 2**20:.1f} MB"
                    f" (gzip {len(gzip.compress(body, 6)) / 2**20:.1f} MB)"
                )
            if os.environ.get("POA_BENCH_BROWSER", "1") == "1":
                _browser(app, email, programme_id)
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


# Records the gap between animation frames: a long gap is a frozen page.
_FRAME_GAPS = """
window.frameGaps = [];
(function () {
  let last = performance.now();
  function frame(now) { window.frameGaps.push(now - last); last = now; requestAnimationFrame(frame); }
  requestAnimationFrame(frame);
})();
"""


def _browser(app, email: str, programme_id: int) -> None:
    """The map page in the system's Chromium: time to data-map-ready and the longest frozen frame."""
    import shutil
    import threading

    from werkzeug.serving import make_server

    from tests.e2e.conftest import CHROMIUM_ARGS
    from tests.factories import PASSWORD

    executable = shutil.which("chromium")
    if executable is None:
        print("browser: no chromium on this machine, skipped")
        return
    from playwright.sync_api import sync_playwright

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}").new_page()
            page.goto("/login")
            page.get_by_label("E-mail", exact=True).fill(email)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Log in", exact=True).click()
            page.wait_for_load_state()
            page.add_init_script(_FRAME_GAPS)
            started = time.perf_counter()
            page.goto(f"/programmes/{programme_id}/sites/map")
            page.wait_for_selector("[data-map-ready=yes]", timeout=300_000)
            ready = time.perf_counter() - started
            gaps = sorted(page.evaluate("window.frameGaps"))
            long_frames = sum(1 for gap in gaps if gap > 200)
            print(
                f"browser: map page to data-map-ready {ready:.1f} s (fetch, parse and drawing);"
                f" longest frame gap {gaps[-1]:.0f} ms, p95 {gaps[int(0.95 * (len(gaps) - 1))]:.0f} ms,"
                f" {long_frames} gaps over 200 ms in {len(gaps)} frames"
            )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


if __name__ == "__main__":
    main()
