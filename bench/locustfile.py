"""The load test's simulated users (locust 2.x), run by bench/load_test.py and the smoke test.

Never imported by pytest: locust monkey-patches the standard library with gevent. The plan that
bench/load_seed.py wrote is read from the JSON file named by POA_LOAD_PLAN (programme, tokens, site
ids, serials, the operator's free reading intervals). Every request is named by its kind
("page: sites list", "api: sites list"…) so the stats group by kind, not by URL; the words before
the colon say its group (page, api, push, public page, public api; setup: the logins).

Each response time is also kept, and written at the end of the run to POA_LOAD_SAMPLES (JSON:
group → milliseconds, and failures per name), so the runner computes exact percentiles per group
instead of merging locust's per-name percentiles.

Mix (weights of users): coordinators browsing 4, operators pushing readings 2, API readers 2,
public serial lookups 2. Think time per user: POA_LOAD_WAIT="min,max" seconds (default 0.5,2).
The runner names the four mix classes on the command line; `StaticFileUser`, run alone, fetches a
static file without think time: the HTTP ceiling of the same gunicorn, the raw engine beside it.
"""

import itertools
import json
import os
import random
import re
import uuid
from datetime import UTC, datetime

from locust import HttpUser, between, events, task

PLAN = json.loads(open(os.environ["POA_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_low, _high = (float(x) for x in os.environ.get("POA_LOAD_WAIT", "0.5,2").split(","))
THINK = between(_low, _high)
PER_PAGE = 50  # sites/views.py PER_PAGE
LAST_PAGE = max(1, -(-PLAN["sites_in_programme"] // PER_PAGE))
QUARTER = 900
READINGS_PER_BATCH = 4  # one hour of quarter-hour readings per request

SAMPLES: dict[str, list[float]] = {}
FAILURES: dict[str, int] = {}
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


@events.request.add_listener
def _keep(request_type, name, response_time, response_length, exception=None, **_kwargs):
    SAMPLES.setdefault(name, []).append(response_time)
    if exception is not None:
        FAILURES[name] = FAILURES.get(name, 0) + 1


@events.test_stop.add_listener
def _write_samples(**_kwargs):
    path = os.environ.get("POA_LOAD_SAMPLES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"samples": SAMPLES, "failures": FAILURES}, out)


def _page_number() -> int:
    """Mostly the first pages, as people browse; one in five anywhere in the 100,000 sites."""
    return random.randint(1, min(20, LAST_PAGE)) if random.random() < 0.8 else random.randint(1, LAST_PAGE)


class _Slots:
    """Hands out one new hour per request, round robin over the operator's meters, never twice:
    the users of one locust process are greenlets, so a plain counter is enough."""

    def __init__(self, slots: list[dict]) -> None:
        self.slots = [dict(slot) for slot in slots]
        self.turn = itertools.count()

    def take(self) -> tuple[dict, int] | None:
        for _ in range(len(self.slots)):
            if not self.slots:
                return None
            slot = self.slots[next(self.turn) % len(self.slots)]
            start = slot["free_from"]
            if start + READINGS_PER_BATCH * QUARTER <= slot["free_until"]:
                slot["free_from"] = start + READINGS_PER_BATCH * QUARTER
                return slot, start
            self.slots.remove(slot)
        return None


SLOTS = _Slots(PLAN.get("writer_slots", []))


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class CoordinatorUser(HttpUser):
    """Logs in once through the login form (CSRF token and all), then browses."""

    weight = 4
    wait_time = THINK

    def on_start(self) -> None:
        form = self.client.get("/login", name="setup: login form")
        tag = _CSRF.search(form.text or "")
        token = _VALUE.search(tag.group(0)).group(1) if tag else ""
        with self.client.post(
            "/login",
            data={
                "email": PLAN["coordinator"]["email"],
                "password": PLAN["coordinator"]["password"],
                "csrf_token": token,
                "next": "",
            },
            allow_redirects=False,
            name="setup: login",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}")

    def _page(self, url: str, name: str) -> None:
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} (a redirect here means the login was lost)")

    @task(2)
    def dashboard(self) -> None:
        self._page("/", "page: dashboard")

    @task(3)
    def sites_list(self) -> None:
        self._page(f"/programmes/{PLAN['programme_id']}/sites?page={_page_number()}", "page: sites list")

    @task(1)
    def cycle_times(self) -> None:
        self._page("/dashboards/cycle-times", "page: cycle times")

    @task(2)
    def site(self) -> None:
        self._page(f"/sites/{random.choice(PLAN['site_ids'])}", "page: site")


class OperatorUser(HttpUser):
    """A site's data logger pushing an hour of quarter-hour readings per request (docs/api.md)."""

    weight = 2
    wait_time = THINK

    @task
    def push_readings(self) -> None:
        taken = SLOTS.take()
        if taken is None:
            events.request.fire(
                request_type="POST",
                name="push: readings",
                response_time=0,
                response_length=0,
                exception=RuntimeError("no free reading interval left in the plan"),
                context={},
            )
            return
        slot, start = taken
        readings = [
            {
                "meter_serial": slot["meter_serial"],
                "reading_start": _iso(start + n * QUARTER),
                "reading_end": _iso(start + (n + 1) * QUARTER),
                # Under 1 kWh a quarter hour (4 kW): below every demo site's capacity cap.
                "value": f"0.{random.randint(100, 999)}",
            }
            for n in range(READINGS_PER_BATCH)
        ]
        with self.client.post(
            f"/api/v1/sites/{slot['site_id']}/readings",
            json={"batch_id": f"load-{uuid.uuid4().hex}", "readings": readings},
            headers={"Authorization": f"Bearer {PLAN['operator_token']}"},
            name="push: readings",
            catch_response=True,
        ) as response:
            body = response.json() if response.status_code == 202 else {}
            if response.status_code != 202 or body.get("status") != "accepted":
                detail = (body.get("errors") or body.get("failure") or response.text)[:300] if body else ""
                response.failure(
                    f"{response.status_code} {body.get('status')}: {detail or response.text[:300]}"
                )


class ApiReaderUser(HttpUser):
    """A coordinator's script paging through the sites with a token."""

    weight = 2
    wait_time = THINK

    @task
    def sites_page(self) -> None:
        with self.client.get(
            f"/api/v1/programmes/{PLAN['programme_id']}/sites?page={_page_number()}&page_size={PER_PAGE}",
            headers={"Authorization": f"Bearer {PLAN['coordinator']['token']}"},
            name="api: sites list",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or not response.json():
                response.failure(f"{response.status_code}: {response.text[:200]}")


class PublicUser(HttpUser):
    """Anyone checking a credit's serial: the page and the JSON, no login."""

    weight = 2
    wait_time = THINK

    @task
    def serial_page(self) -> None:
        serial = random.choice(PLAN["serials"])
        with self.client.get(
            "/registry/serials", params={"q": serial}, name="public page: serial lookup", catch_response=True
        ) as response:
            found = serial.encode() in response.content or not PLAN["serials_found"]
            if response.status_code != 200 or not found:
                response.failure(f"{response.status_code}: the serial is not on the page")

    @task
    def serial_api(self) -> None:
        with self.client.get(
            "/api/v1/public/serials",
            params={"q": random.choice(PLAN["serials"])},
            name="public api: serial lookup",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or (PLAN["serials_found"] and not response.json()):
                response.failure(f"{response.status_code}: no block found")


class StaticFileUser(HttpUser):
    """The ceiling: a static file through the same gunicorn, no think time (named explicitly)."""

    wait_time = between(0, 0)

    @task
    def static_file(self) -> None:
        self.client.get("/static/css/app.css", name="static: app.css")
