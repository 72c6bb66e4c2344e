"""List pages at 100,000 sites: first and middle page of every list, through the Flask test client.

Seeds one registered programme with POA_BENCH_SITES (default 100,000) sites by a raw bulk insert (as
bench_site_import.py's `_raw_insert`), then requests each list page REPEATS times and prints the
p50/p95 wall time per page next to the SQL time inside it (statements and driver seconds, measured
as bench_registry.py's `_sql_meter`), and the time of one full CSV export of the sites.

Run: `.venv/bin/python bench/bench_lists.py` (SQLite in a temporary file) or
`POA_BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/bench_lists.py` (an empty
database: the script migrates it). Target: p95 under 300 ms per page.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.web_login import log_in  # noqa: E402
from poa_manager import create_app  # noqa: E402
from poa_manager.accounts.roles import OrganisationKind  # noqa: E402
from poa_manager.database import db, utcnow  # noqa: E402
from tests.factories import PASSWORD, OrganisationFactory, UserFactory, registered_programme  # noqa: E402

SITES = int(os.environ.get("POA_BENCH_SITES", "100000"))
REPEATS = int(os.environ.get("POA_BENCH_REPEATS", "15"))
BATCH = 10_000
STATUSES = ["draft", "eligible", "crediting", "included", "not_eligible"]


def _seed_sites(programme_id: int, count: int) -> float:
    """Raw executemany of `count` site rows (no validation, no audit): seconds taken."""
    started = time.perf_counter()
    columns = [
        "programme_id",
        "reference",
        "name",
        "status",
        "technology",
        "capacity_kw",
        "equipment_serials",
        "documents",
        "attributes",
        "created_at",
    ]
    table = sa.table("sites", *(sa.column(name) for name in columns))
    now = utcnow()
    with db.engine.begin() as connection:
        for first in range(0, count, BATCH):
            rows = [
                {
                    "programme_id": programme_id,
                    "reference": f"CPA-{n:06d}",
                    "name": f"Rooftop {n}",
                    "status": STATUSES[n % len(STATUSES)],
                    "technology": "solar_pv" if n % 3 else "wind",
                    "capacity_kw": 500 + n % 400,
                    "equipment_serials": "[]",
                    "documents": "[]",
                    "attributes": "{}",
                    "created_at": now,
                }
                for n in range(first, min(first + BATCH, count))
            ]
            connection.execute(table.insert(), rows)
    return time.perf_counter() - started


def _analyze() -> None:
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(sa.text("ANALYZE"))


def _sql_meter(engine) -> dict:
    meter = {"count": 0, "seconds": 0.0, "started": []}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(*_args, **_kwargs):
        meter["count"] += 1
        meter["started"].append(time.perf_counter())

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(*_args, **_kwargs):
        meter["seconds"] += time.perf_counter() - meter["started"].pop()

    return meter


def _login(app, email: str):
    return log_in(app, email, PASSWORD)


def _time(client, url: str, meter: dict) -> tuple[list[float], list[float], int, int]:
    walls, sqls = [], []
    statements = size = 0
    for run in range(REPEATS):
        if run == 3 and min(walls) > 2:  # a page taking seconds: three runs tell enough
            break
        meter["count"], meter["seconds"] = 0, 0.0
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        walls.append(time.perf_counter() - started)
        sqls.append(meter["seconds"])
        statements, size = meter["count"], len(body)
        assert response.status_code == 200, (url, response.status_code, body[-1500:])
    return walls, sqls, statements, size


class _ApiClient:
    """A test client that sends a bearer token (the API takes no session cookie)."""

    def __init__(self, app, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str):
        return self.client.get(url, headers=self.headers)


def _prepare(app) -> tuple[int, dict[str, str], str]:
    """Users, a registered programme and its seeded sites; the programme id, emails and an API token."""
    from poa_manager.accounts import services as account_services

    with app.app_context():
        flask_migrate.upgrade()
        coordinator = UserFactory(organisation=OrganisationFactory())
        verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
        registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
        admin = UserFactory(
            organisation=OrganisationFactory(kind=OrganisationKind.registry_authority), is_admin=True
        )
        programme = registered_programme(coordinator, verifier, registry, title="Bench lists")
        _token, token = account_services.create_api_token(
            actor=coordinator, name="bench", expires_in_days=1, now=utcnow()
        )
        db.session.commit()
        programme_id = programme.id
        emails = {"coordinator": coordinator.email, "registry": registry.email, "admin": admin.email}
        db.session.remove()
        seeded = _seed_sites(programme_id, SITES)
        _analyze()
        name = db.engine.dialect.name
        print(f"engine: {name}; {SITES} sites seeded in {seeded:.1f} s; {REPEATS} runs per page")
    return programme_id, emails, token


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("POA_BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        app = create_app("testing", LOG_LEVEL="WARNING", SQLALCHEMY_DATABASE_URI=url)
        programme_id, emails, token = _prepare(app)
        with app.app_context():
            engine = db.engine
        # Requests run outside any app context, each in its own as in production (a shared one
        # would share `g`, and with it the logged-in user).
        meter = _sql_meter(engine)
        clients = {role: _login(app, email) for role, email in emails.items()}
        clients["api"] = _ApiClient(app, token)
        middle = max(1, SITES // 50 // 2)
        sites = f"/programmes/{programme_id}/sites"
        api_sites = f"/api/v1/programmes/{programme_id}/sites"
        pages = [
            ("coordinator", "programmes", "/programmes/"),
            ("coordinator", "sites first page", sites),
            ("coordinator", f"sites page {middle}", f"{sites}?page={middle}"),
            ("coordinator", "sites last page", f"{sites}?page={(SITES + 49) // 50}"),
            ("coordinator", "sites status=eligible", f"{sites}?status=eligible"),
            ("coordinator", "sites search q=rooftop 5", f"{sites}?q=rooftop+5&page=20"),
            ("coordinator", "programme detail", f"/programmes/{programme_id}"),
            ("coordinator", "reading uploads", f"/programmes/{programme_id}/readings"),
            ("coordinator", "monitoring reports", f"/programmes/{programme_id}/monitoring"),
            ("coordinator", "verifications", "/verifications"),
            ("registry", "registry accounts", "/registry/"),
            ("registry", "issuances", "/registry/issuances"),
            ("registry", "transactions", "/registry/transactions"),
            ("registry", "freezes", "/registry/freezes"),
            ("registry", "external registrations", "/external-registrations"),
            ("admin", "users", "/admin/users"),
            ("admin", "organisations", "/admin/organisations"),
            ("admin", "audit log", "/admin/audit"),
            ("api", "API sites page 1", f"{api_sites}?page=1&page_size=100"),
            ("api", "API sites middle", f"{api_sites}?page={max(1, SITES // 200)}&page_size=100"),
        ]
        heads = ("p50 ms", "p95 ms", "SQL p50", "SQL p95")
        print(f"{'page':<28} " + " ".join(f"{h:>8}" for h in heads) + f" {'stmts':>6} {'KB':>6}")
        slow = []
        for role, label, page_url in pages:
            walls, sqls, statements, size = _time(clients[role], page_url, meter)
            p95 = _p(walls, 0.95)
            if p95 > 300:
                slow.append(label)
            figures = (_p(walls, 0.5), p95, _p(sqls, 0.5), _p(sqls, 0.95))
            print(
                f"{label:<28} "
                + " ".join(f"{f:>8.1f}" for f in figures)
                + f" {statements:>6} {size / 1024:>6.0f}"
            )
        for fmt in ("csv", "xlsx"):
            meter["count"], meter["seconds"] = 0, 0.0
            started = time.perf_counter()
            response = clients["coordinator"].get(f"{sites}?export={fmt}")
            body = response.get_data()
            elapsed = time.perf_counter() - started
            rows = body.count(b"\r\n") - 1 if fmt == "csv" else SITES
            print(
                f"export {fmt} of all {rows} sites: {elapsed:.2f} s, SQL {meter['seconds']:.2f} s "
                f"in {meter['count']} statements, {len(body) / 1024 / 1024:.1f} MB"
            )
        print("over the 300 ms p95 target: " + (", ".join(slow) if slow else "none"))
        with app.app_context():
            for each in db.engines.values():
                each.dispose()


if __name__ == "__main__":
    main()
