"""The load test's database: the full demo plus POA_LOAD_EXTRA_SITES sites, and the plan locust reads.

`seed(url, uploads, extra_sites)` migrates an empty database, loads the demo that `make run` loads
(`demo.seed(showcase=True)`: users, two registered programmes, a year of readings, issued serials)
and adds `extra_sites` sites to the showcase programme by a raw bulk insert with one meter and a
reading status each (as bench_lists.py and bench_dashboards.py do), then ANALYZE. It returns what
the simulated users need: the showcase programme, API tokens of the demo coordinator and operator,
some site ids, real serials. `writer_slots(url)` reads, before each run, where each of the demo
operator's meters may take new readings (after its last reading, up to now), so every pushed batch
is a new interval and is accepted.

Run alone: `.venv/bin/python bench/load_seed.py postgresql+psycopg://…/<empty db> plan.json`.
"""

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_dashboards import _reading_status_for_new_sites  # noqa: E402
from bench_lists import _analyze, _seed_sites  # noqa: E402

from poa_manager import create_app, demo  # noqa: E402
from poa_manager.accounts import services as account_services  # noqa: E402
from poa_manager.accounts.login import account_settings  # noqa: E402
from poa_manager.accounts.models import Membership, User  # noqa: E402
from poa_manager.database import db, utcnow  # noqa: E402
from poa_manager.monitoring.models import MeterReadingStatus  # noqa: E402
from poa_manager.programmes.models import Programme  # noqa: E402
from poa_manager.registry.models import CreditBlock  # noqa: E402
from poa_manager.sites.models import Meter, Site  # noqa: E402

SHOWCASE = "VN-JCM-PoA-002"
COORDINATOR = "coordinator@demo.example.org"
OPERATOR = "operator@demo.example.org"


def _app(url: str, uploads: Path):
    return create_app(
        "testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=url, READINGS_UPLOAD_FOLDER=str(uploads)
    )


def seed(url: str, uploads: Path, extra_sites: int, *, showcase: bool = True) -> dict:
    """Seed an empty database at `url`; the plan (JSON-ready) for the locustfile."""
    uploads.mkdir(parents=True, exist_ok=True)
    app = _app(url, uploads)
    timings = {}
    with app.app_context():
        flask_migrate.upgrade()
        started = time.perf_counter()
        demo.seed(settings=account_settings(), upload_folder=uploads, showcase=showcase)
        db.session.commit()
        timings["demo_s"] = round(time.perf_counter() - started, 1)
        reference = SHOWCASE if showcase else demo.PROGRAMME["reference"]
        programme_id = db.session.scalar(sa.select(Programme.id).where(Programme.reference == reference))
        now = utcnow()
        tokens = {}
        for key, email in (("coordinator", COORDINATOR), ("operator", OPERATOR)):
            user = db.session.scalar(sa.select(User).where(User.email == email))
            _row, tokens[key] = account_services.create_api_token(
                actor=user, name="load test", expires_in_days=2, now=now
            )
        db.session.commit()
        db.session.remove()
        if extra_sites:
            started = time.perf_counter()
            _seed_sites(programme_id, extra_sites)
            _reading_status_for_new_sites(programme_id)
            timings["extra_sites_s"] = round(time.perf_counter() - started, 1)
        _analyze()
        site_ids = list(
            db.session.scalars(
                sa.select(Site.id).where(Site.programme_id == programme_id).order_by(Site.id).limit(200)
            )
        )
        # Serials issued by the demo (the showcase's first half-year), read as the public would.
        blocks = db.session.scalars(sa.select(CreditBlock).order_by(CreditBlock.id).limit(40)).all()
        serials = sorted({block.serial for block in blocks})
        # The small demo issues nothing: look up a well-formed serial that has no block (an empty
        # answer, the same query path).
        serials_found = bool(serials)
        serials = serials or ["JCM.VN.VN-JCM-PoA-001.CPA-0001.2025.000000001-000000150"]
        sites_total = db.session.scalar(
            sa.select(sa.func.count()).select_from(Site).where(Site.programme_id == programme_id)
        )
        engine = db.engine.dialect.name
        engines = list(db.engines.values())
    _dispose(engines)
    return {
        "engine": engine,
        "programme_id": programme_id,
        "sites_in_programme": sites_total,
        "site_ids": site_ids,
        "serials": serials,
        "serials_found": serials_found,
        "coordinator": {"email": COORDINATOR, "password": demo.DEMO_PASSWORD, "token": tokens["coordinator"]},
        "operator_token": tokens["operator"],
        "timings": timings,
    }


def writer_slots(url: str, uploads: Path) -> list[dict]:
    """Per meter of the demo operator's sites: the site, the serial and the free span (epoch
    seconds, whole quarter hours) from its last reading up to an hour ago."""
    app = _app(url, uploads)
    with app.app_context():
        operator_id = db.session.scalar(sa.select(User.id).where(User.email == OPERATOR))
        rows = db.session.execute(
            sa.select(Site.id, Meter.serial, MeterReadingStatus.last_reading_end)
            .join(Membership, Membership.site_id == Site.id)
            .join(Meter, Meter.site_id == Site.id)
            .outerjoin(MeterReadingStatus, MeterReadingStatus.meter_id == Meter.id)
            .where(Membership.user_id == operator_id, Meter.removed_at.is_(None))
            .order_by(Site.id, Meter.id)
        ).all()
        # A meter with no readings yet starts at its site's crediting start (checked by the app).
        starts = {
            site_id: credit_from
            for site_id, credit_from in db.session.execute(
                sa.select(Site.id, Site.crediting_start).where(Site.id.in_([r[0] for r in rows]))
            )
        }
        until = int((utcnow() - timedelta(hours=1)).timestamp()) // 900 * 900
        slots = []
        for site_id, serial, last_end in rows:
            if last_end is None:
                if starts.get(site_id) is None:
                    continue
                last_end = int(datetime.combine(starts[site_id], datetime.min.time(), UTC).timestamp())
            first = -(-last_end // 900) * 900  # the next whole quarter hour
            if until - first >= 3600:
                slots.append(
                    {"site_id": site_id, "meter_serial": serial, "free_from": first, "free_until": until}
                )
        engines = list(db.engines.values())
    _dispose(engines)
    return slots


def _dispose(engines) -> None:
    """Close the pools once the app context has ended (and with it the session's connection):
    disposing inside it would leave that connection open until the garbage collector finds it."""
    for engine in engines:
        engine.dispose()


if __name__ == "__main__":
    import os
    import tempfile

    target, out = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        plan = seed(target, Path(folder) / "uploads", int(os.environ.get("POA_LOAD_EXTRA_SITES", "100000")))
        plan["writer_slots"] = writer_slots(target, Path(folder) / "uploads")
    out.write_text(json.dumps(plan, indent=2))
    print(f"seeded {plan['sites_in_programme']} sites; plan in {out}")
