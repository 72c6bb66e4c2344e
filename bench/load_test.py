"""Load test of the production set-up: gunicorn + PostgreSQL + Redis, locust headless on loopback.

Seeds a scratch PostgreSQL database once (bench/load_seed.py: the demo plus 100,000 sites), then
for each worker count (1, 2, 4) starts `gunicorn -w N 'poa_manager:create_app()'` with
POA_ENV=production, runs locust headless (bench/locustfile.py: coordinators browsing, operators
pushing readings through the API, API readers, public serial lookups) for a bounded time, and reads
its CSV and the per-request samples: requests/s, p50/p95/p99 per group and per request kind, error
rate. Beside it, the raw engine: the sites list's SQL run directly, and a static file through the
same gunicorn (the HTTP ceiling). Prints a table and writes bench/results/load.md.

Run: `make bench-load` (about 6 minutes). Settings (environment):
  POA_LOAD_ADMIN_URL     PostgreSQL server to create the scratch database on
                         (default postgresql+psycopg://postgres@127.0.0.1/postgres; dropped after)
  POA_LOAD_SECONDS=60    locust run time per worker count;  POA_LOAD_USERS=50  concurrent users
  POA_LOAD_WORKERS=1,2,4 worker counts;  POA_LOAD_EXTRA_SITES=100000;  POA_LOAD_CEILING_SECONDS=15
  POA_LOAD_WAIT=0.5,2    think time per simulated user (seconds, uniform)
  POA_LOAD_REDIS_URL     Redis for the task queue and the login rate limit (redis://127.0.0.1:6379/14)
  POA_LOAD_RESULTS       the results file (default bench/results/load.md; "-" writes none)
  POA_LOAD_GUNICORN_CONFIG  a gunicorn config file to add (e.g. gunicorn.conf.py); default none:
                         gunicorn's defaults with sync workers, -w, -b and --timeout 120
"""

import csv
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

MIX = ["CoordinatorUser", "OperatorUser", "ApiReaderUser", "PublicUser"]
TARGETS_MS = {"pages": 300, "api reads": 150}
GROUP_ORDER = ["pages", "api reads", "public lookups", "api writes"]


def group_of(name: str) -> str | None:
    """The request kinds the locustfile names, in the issue's groups; None for the logins."""
    kind = name.split(":", 1)[0]
    return {
        "page": "pages",
        "api": "api reads",
        "push": "api writes",
        "public page": "public lookups",
        "public api": "public lookups",
    }.get(kind)


def target_of(name: str) -> int | None:
    """The issue's target for a request kind: pages 300 ms, API reads 150 ms (writes: none)."""
    kind = name.split(":", 1)[0]
    if kind in ("page", "public page"):
        return TARGETS_MS["pages"]
    if kind in ("api", "public api"):
        return TARGETS_MS["api reads"]
    return None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of response times in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database_url: str, uploads: Path, *, task_queue: str, ratelimit_storage: str) -> dict:
    """Production settings, over plain http on loopback: the secure-cookie flags are turned off
    through the config's own POA_* variables (the browser would drop a Secure cookie sent over
    http), and the login limit is raised, since every simulated user logs in from 127.0.0.1."""
    env = dict(os.environ)
    env.update(
        POA_ENV="production",
        POA_SECRET_KEY=secrets.token_urlsafe(48),
        POA_DATABASE_URL=database_url,
        POA_TASK_QUEUE_URL=task_queue,
        POA_RATELIMIT_STORAGE_URI=ratelimit_storage,
        POA_LOGIN_RATE_LIMIT="1000 per minute",
        POA_SESSION_COOKIE_SECURE="false",
        POA_REMEMBER_COOKIE_SECURE="false",
        POA_READINGS_UPLOAD_FOLDER=str(uploads),
    )
    env.pop("POA_TEST_DATABASE_URL", None)
    return env


class Server:
    """`gunicorn -w N 'poa_manager:create_app()'` on a free loopback port; always stopped."""

    def __init__(self, workers: int, env: dict, log: Path, config: str = "") -> None:
        """`config`: a gunicorn config file, e.g. the project's gunicorn.conf.py; empty: none at all
        (not even ./gunicorn.conf.py, which gunicorn reads by default), only the flags below."""
        if not config:
            config = str(log.with_suffix(".conf.py"))
            Path(config).write_text("# gunicorn's defaults: the load test sets workers and bind by flag\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--config",
                config,
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "120",
                "poa_manager:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops every worker
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready after {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def problems(self, limit: int = 60) -> str:
        """The log's lines other than INFO ones: errors and tracebacks, for failure messages."""
        if not self._log_file.closed:
            self._log_file.flush()
        lines = [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if '"level": "INFO"' not in line and "] [INFO] " not in line
        ]
        return "\n".join(lines[:limit])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # gunicorn's graceful stop
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log_file.close()


def run_locust(
    host: str, plan_path: Path, out: Path, *, users: int, seconds: int, classes: list[str], wait: str
) -> dict:
    """locust headless as a subprocess; the CSV's rows and the exact samples per request kind."""
    prefix = out / "locust"
    samples = out / "samples.json"
    env = dict(os.environ, POA_LOAD_PLAN=str(plan_path), POA_LOAD_SAMPLES=str(samples), POA_LOAD_WAIT=wait)
    command = [
        str(VENV_BIN / "locust"),
        "-f",
        str(BENCH / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(max(1, users // 5)),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "10",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    elapsed = time.monotonic() - started
    # Exit code 1 means "some requests failed", which the figures report; anything else is a crash.
    if result.returncode not in (0, 1) or not samples.exists():
        raise RuntimeError(
            f"locust failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    with (out / "locust_stats.csv").open(newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    data = json.loads(samples.read_text())
    return {"rows": rows, "samples": data["samples"], "failures": data["failures"], "elapsed_s": elapsed}


# The app's access log (poa_manager/logs.py: one JSON line per request with its duration inside
# the worker) gives the server's own time per request kind, without the queueing in front of it.
SERVER_KINDS = [
    ("GET", re.compile(r"^/$"), "page: dashboard"),
    ("GET", re.compile(r"^/programmes/\d+/sites$"), "page: sites list"),
    ("GET", re.compile(r"^/dashboards/cycle-times$"), "page: cycle times"),
    ("GET", re.compile(r"^/sites/\d+$"), "page: site"),
    ("POST", re.compile(r"^/api/v1/sites/\d+/readings$"), "push: readings"),
    ("GET", re.compile(r"^/api/v1/programmes/\d+/sites$"), "api: sites list"),
    ("GET", re.compile(r"^/registry/serials$"), "public page: serial lookup"),
    ("GET", re.compile(r"^/api/v1/public/serials$"), "public api: serial lookup"),
]


def server_times(log: Path) -> dict[str, list[float]]:
    """Milliseconds spent in the worker per request kind, from the access log (if it is on)."""
    times: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        for method, pattern, name in SERVER_KINDS:
            if entry.get("method") == method and pattern.match(entry.get("path", "")):
                times.setdefault(name, []).append(float(entry["duration_ms"]))
                break
    return times


def summarise(run: dict) -> dict:
    """Requests/s, error rate, and p50/p95/p99 per group and per request kind."""
    total = run["rows"]["Aggregated"]
    requests = int(total["Request Count"])
    failures = int(total["Failure Count"])
    groups: dict[str, list[float]] = {}
    kinds = {}
    for name, times in run["samples"].items():
        group = group_of(name)
        if group is None:
            continue
        groups.setdefault(group, []).extend(times)
        kinds[name] = {
            "group": group,
            "count": len(times),
            "failures": run["failures"].get(name, 0),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
            "target": target_of(name),
            "server_p50": percentile(run.get("server", {}).get(name, []), 50),
            "server_p95": percentile(run.get("server", {}).get(name, []), 95),
        }
    return {
        "requests": requests,
        "failures": failures,
        "error_rate": failures / requests if requests else 0.0,
        "rps": float(total["Requests/s"]),
        "groups": {
            g: {
                "count": len(times),
                "p50": percentile(times, 50),
                "p95": percentile(times, 95),
                "p99": percentile(times, 99),
            }
            for g, times in groups.items()
        },
        "kinds": dict(sorted(kinds.items())),
        "failure_messages": _failure_messages(run),
    }


def _failure_messages(run: dict) -> list[str]:
    path = Path(run.get("failures_csv", ""))
    if not path.name or not path.exists():
        return []
    with path.open(newline="") as failures:
        rows = list(csv.DictReader(failures))[:10]
    return [f"{row['Name']}: {row['Error'][:200]} ×{row['Occurrences']}" for row in rows]


def raw_sites_list(database_url: str, uploads: Path, programme_id: int, repeats: int = 30) -> dict:
    """The sites list's own SQL (the service's query: one page and its COUNT), run directly."""
    import sqlalchemy as sa
    from load_seed import COORDINATOR, _app

    from poa_manager.accounts.models import User
    from poa_manager.database import db
    from poa_manager.programmes import services as programme_services
    from poa_manager.sites import services as site_services

    app = _app(database_url, uploads)
    figures = {}
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == COORDINATOR))
        programme = programme_services.get_programme(programme_id, actor=user)
        query = site_services.list_sites(user, programme=programme, status=None, search=None)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        for label, page in (("first page", 1), ("middle page", max(1, total // 100))):
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
                db.session.execute(query.limit(50).offset((page - 1) * 50)).all()
                times.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            figures[label] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
        engines = list(db.engines.values())
    for engine in engines:
        engine.dispose()  # after the app context: its session's connection is back in the pool
    return figures


def _create_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _fmt(ms: float) -> str:
    return f"{ms:.0f}" if ms == ms else "–"


def report(meta: dict, runs: dict, ceilings: dict, raw: dict) -> str:
    """The results as Markdown (printed, and written to bench/results/load.md)."""
    lines = [
        "# Load test results",
        "",
        f"- Date: {meta['date']}; machine: {meta['machine']}",
        f"- Set-up: gunicorn (sync workers) `poa_manager:create_app()`, POA_ENV=production, "
        f"{meta['engine']}, Redis (task queue, login rate limit); locust {meta['locust']} on the same "
        "machine over loopback.",
        f"- Data: the demo (showcase) plus {meta['extra_sites']:,} sites: {meta['sites']:,} sites in the "
        f"browsed programme (seeded in {meta['seed_s']:.0f} s).",
        f"- Load: {meta['users']} users (coordinators 4 : operators 2 : API readers 2 : public 2), "
        f"think time {meta['wait']} s, {meta['seconds']} s per worker count, ramp {meta['ramp']} users/s.",
        f"- Command: `{meta['command']}`",
        "",
        "## Throughput and errors by worker count",
        "",
        "| workers | requests | req/s | errors | error rate | static file req/s | load avg before |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers, summary in runs.items():
        ceiling = ceilings.get(workers)
        lines.append(
            f"| {workers} | {summary['requests']} | {summary['rps']:.1f} | {summary['failures']} | "
            f"{summary['error_rate'] * 100:.2f} % | {f'{ceiling:.0f}' if ceiling else '–'} | "
            f"{summary.get('load_before', float('nan')):.1f} |"
        )
    lines += ["", "## Latency per group (ms)", ""]
    lines += [
        "| workers | group | requests | p50 | p95 | p99 | target p95 |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for workers, summary in runs.items():
        for group in GROUP_ORDER:
            figures = summary["groups"].get(group)
            if figures:
                target = {"pages": "< 300", "api reads": "< 150", "public lookups": "< 300 page / < 150 API"}
                lines.append(
                    f"| {workers} | {group} | {figures['count']} | {_fmt(figures['p50'])} | "
                    f"{_fmt(figures['p95'])} | {_fmt(figures['p99'])} | {target.get(group, 'none')} |"
                )
    lines += ["", "## Per request kind (ms)", ""]
    lines += ["Server p50/p95: the time inside the worker (the app's access log), without the queue."]
    lines += [
        "",
        "| workers | request | count | failures | p50 | p95 | p99 | target p95 | met | srv p50 | srv p95 |",
    ]
    lines += ["|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    verdicts = []
    for workers, summary in runs.items():
        for name, kind in summary["kinds"].items():
            target = kind["target"]
            met = "" if target is None else ("yes" if kind["p95"] < target else "**no**")
            if target is not None:
                verdicts.append((workers, name, kind["p95"], target, kind["p95"] < target))
            lines.append(
                f"| {workers} | {name} | {kind['count']} | {kind['failures']} | {_fmt(kind['p50'])} | "
                f"{_fmt(kind['p95'])} | {_fmt(kind['p99'])} | {target or '–'} | {met} | "
                f"{_fmt(kind['server_p50'])} | {_fmt(kind['server_p95'])} |"
            )
    lines += ["", "## Raw engine beside it", ""]
    for label, figures in raw.items():
        lines.append(
            f"- Sites list SQL run directly (the service's query, {label}: COUNT + 50 rows): "
            f"p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms"
        )
    if ceilings:
        lines.append(
            "- A static file through the same gunicorn, 50 users, no think time: "
            + ", ".join(f"{w} worker(s) {rps:.0f} req/s" for w, rps in ceilings.items())
        )
    lines += ["", "## Against the targets", ""]
    for workers, summary in runs.items():
        lines.append(
            f"- {workers} worker(s): {summary['failures']} errors "
            f"({'met' if summary['failures'] == 0 else '**missed**'}: the target is 0)"
        )
        for w, name, p95, target, met in verdicts:
            if w == workers:
                lines.append(
                    f"  - {name}: p95 {p95:.0f} ms against < {target} ms: {'met' if met else '**missed**'}"
                )
        for message in summary["failure_messages"]:
            lines.append(f"  - failure: {message}")
    return "\n".join(lines) + "\n"


def main() -> None:
    from load_seed import seed, writer_slots

    seconds = int(os.environ.get("POA_LOAD_SECONDS", "60"))
    users = int(os.environ.get("POA_LOAD_USERS", "50"))
    workers_list = [int(w) for w in os.environ.get("POA_LOAD_WORKERS", "1,2,4").split(",")]
    extra = int(os.environ.get("POA_LOAD_EXTRA_SITES", "100000"))
    ceiling_s = int(os.environ.get("POA_LOAD_CEILING_SECONDS", "15"))
    wait = os.environ.get("POA_LOAD_WAIT", "0.5,2")
    redis_url = os.environ.get("POA_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
    admin_url = os.environ.get("POA_LOAD_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
    results = os.environ.get("POA_LOAD_RESULTS", str(BENCH / "results" / "load.md"))
    gunicorn_config = os.environ.get("POA_LOAD_GUNICORN_CONFIG", "")
    name = f"poa_load_{os.getpid()}"
    database_url = _create_database(admin_url, name)
    try:
        with tempfile.TemporaryDirectory(prefix="poa-load-") as scratch:
            folder = Path(scratch)
            uploads = folder / "uploads"
            started = time.perf_counter()
            plan = seed(database_url, uploads, extra)
            seed_s = time.perf_counter() - started
            print(f"seeded {plan['sites_in_programme']:,} sites in {seed_s:.0f} s ({plan['timings']})")
            raw = raw_sites_list(database_url, uploads, plan["programme_id"])
            env = server_env(database_url, uploads, task_queue=redis_url, ratelimit_storage=redis_url)
            runs, ceilings = {}, {}
            for workers in workers_list:
                plan["writer_slots"] = writer_slots(database_url, uploads)
                plan_path = folder / f"plan-{workers}.json"
                plan_path.write_text(json.dumps(plan))
                out = folder / f"run-{workers}"
                out.mkdir()
                # The machine's load average (1 min) before the run: other work on the two cores
                # slows the server and locust alike, so the results file shows it.
                load_before = os.getloadavg()[0]
                server = Server(workers, env, folder / f"gunicorn-{workers}.log", gunicorn_config)
                try:
                    server.wait_ready()
                    run = run_locust(
                        server.url, plan_path, out, users=users, seconds=seconds, classes=MIX, wait=wait
                    )
                    run["failures_csv"] = str(out / "locust_failures.csv")
                    run["server"] = server_times(server.log)
                    runs[workers] = summarise(run)
                    runs[workers]["load_before"] = load_before
                    if ceiling_s:
                        ceiling_out = out / "ceiling"
                        ceiling_out.mkdir()
                        ceiling = run_locust(
                            server.url,
                            plan_path,
                            ceiling_out,
                            users=users,
                            seconds=ceiling_s,
                            classes=["StaticFileUser"],
                            wait="0,0",
                        )
                        ceilings[workers] = float(ceiling["rows"]["Aggregated"]["Requests/s"])
                finally:
                    server.stop()
                summary = runs[workers]
                print(
                    f"{workers} worker(s): {summary['requests']} requests, {summary['rps']:.1f} req/s, "
                    f"{summary['failures']} errors; "
                    + "; ".join(f"{g} p95 {_fmt(f['p95'])} ms" for g, f in summary["groups"].items())
                )
    finally:
        _drop_database(admin_url, name)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "engine": f"PostgreSQL ({plan['engine']})",
        "locust": _locust_version(),
        "extra_sites": extra,
        "sites": plan["sites_in_programme"],
        "seed_s": seed_s,
        "users": users,
        "wait": wait,
        "seconds": seconds,
        "ramp": max(1, users // 5),
        "command": "make bench-load",
    }
    text = report(meta, runs, ceilings, raw)
    print(text)
    if results != "-":
        Path(results).parent.mkdir(parents=True, exist_ok=True)
        Path(results).write_text(text)
        print(f"written to {results}")


def _locust_version() -> str:
    result = subprocess.run([str(VENV_BIN / "locust"), "--version"], capture_output=True, text=True)
    return (result.stdout or result.stderr).split()[1] if result.returncode == 0 else "?"  # "locust 2.x …"


if __name__ == "__main__":
    main()
