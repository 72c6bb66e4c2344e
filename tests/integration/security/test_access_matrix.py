"""The access-control matrix: every web route and API operation, as every role and anonymously,
against the role's own objects and another organisation's (issue 8, item 1).

Each cell of EXPECTED is a status. For reads (GET) the status must match exactly, and a list page
(a route without URL parameters) must not show the other side's programme or organisation: a cell
ending in "L" is one where seeing it is right (platform administrators see everything; registry
administrators run the one registry). For state-changing methods only the refusal is held: a cell
whose expected status is a refusal (302 to the login page, 401, 403, 404) must be that refusal with
no audit entry written; any other expected status only has to stay below 500 (other tests make
valid submissions succeed), and a cell marked "+" is one where the request changed something
(an audit entry was written, then rolled back): a change where the table has no "+" fails.

Rows: the anonymous cell, then the eight roles on their own side (the showcase programme), then
the same eight roles held on another organisation's programme, looking at the showcase's objects.
Set POA_MATRIX_DUMP=1 to print the observed table in EXPECTED's format after a change.
"""

import os
import re
import time

from flask import current_app

from tests.integration.security.conftest import ROLES
from tests.integration.security.expected_matrix import EXPECTED

DENIALS = {302, 401, 403, 404}  # 302 only for the anonymous cell: to the login page
SIGNED_IN_DENIALS = {401, 403, 404}
# Refusals that are audited on purpose: a refused password-reset link is a security event
# (ASVS 5.0 V16.3: log authentication failures), as a failed login is.
AUDITED_REFUSALS = {"POST /password/reset/<token>", "GET /password/reset/<token>"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Routes outside the matrix: the static files and the login form itself (tested in accounts).
NOT_IN_MATRIX = {"static"}
PARAMETER_CHOICES = {"extension": None, "fmt": "json", "kind": "transfer"}
PERSONAL = ("notification_id", "token_id", "user_id", "organisation_id")


def operations(app) -> list[tuple[str, object]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_IN_MATRIX:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((f"{method} {rule.rule}", rule))
    return sorted(found, key=lambda item: item[0])


def _value(rule, name: str, ids: dict, actor, side: str):
    if name in PERSONAL and side == "own":
        return {
            "notification_id": actor.notification_id,
            "token_id": actor.token_id,
            "user_id": actor.user_id,
            "organisation_id": actor.organisation_id,
        }[name]
    if name in PERSONAL:
        owner = ids["own_coordinator"]  # someone else's inbox, token, account and organisation
        return {
            "notification_id": owner.notification_id,
            "token_id": owner.token_id,
            "user_id": owner.user_id,
            "organisation_id": owner.organisation_id,
        }[name]
    if name == "report_id" and "aef" in rule.rule:
        return ids["aef_report_id"]
    if name == "site_id" and "verification" in rule.rule:
        return ids["sampled_site_id"]
    if name == "extension":
        return "geojson" if "geojson" in rule._converters[name].regex else "csv"
    if name in PARAMETER_CHOICES:
        return PARAMETER_CHOICES[name]
    if name not in ids and type(rule._converters[name]).__name__ == "UnicodeConverter":
        return "not-a-valid-value"  # e.g. a password-reset token: the route must refuse it
    return ids[name]


def url_for_cell(rule, ids: dict, actor, side: str) -> str:
    values = {name: _value(rule, name, ids, actor, side) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def call(world, rule, method: str, url: str, actor) -> object:
    """One request; a write's cookie changes (a logout, a password change) are undone with it."""
    client = actor.client if actor is not None else world.anonymous
    kept = dict(client._cookies) if method in WRITES else None
    try:
        return _send(world, rule, method, url, actor, client)
    finally:
        if kept is not None:
            client._cookies.clear()
            client._cookies.update(kept)


def _send(world, rule, method: str, url: str, actor, client) -> object:
    if rule.rule.startswith("/api/v1"):
        headers = {"Authorization": actor.token} if actor is not None else {}
        kwargs = {"json": {}} if method in WRITES else {}
        return world.anonymous.open(url, method=method, headers=headers, **kwargs)
    return client.open(url, method=method, data={} if method in WRITES else None)


def observe(world, key: str, rule, actor, side: str) -> str:
    """One cell: the status, "L" when a list shows the other side's markers, "!" when a refused
    write still wrote an audit entry."""
    method = key.split(" ", 1)[0]
    ids = world.ids
    url = url_for_cell(rule, ids, actor, side)
    try:
        response, audited = world.isolated(
            lambda: call(world, rule, method, url, actor), write=method in WRITES
        )
    except Exception as error:  # the app raises in testing; a crash is a 500 cell, not a stop
        return f"500({type(error).__name__})"
    cell = str(response.status_code)
    listing = not any(type(rule._converters[a]).__name__ == "IntegerConverter" for a in rule.arguments)
    if method == "GET" and listing and response.status_code == 200 and actor is not None:
        body = response.get_data(as_text=True)
        foreign = world.own_markers if side == "other" else world.other_markers
        if any(marker in body for marker in foreign):
            cell += "L"
    refusals = DENIALS if actor is None else SIGNED_IN_DENIALS
    if response.status_code in refusals and audited and key not in AUDITED_REFUSALS:
        cell += "!"
    elif audited and response.status_code not in refusals:
        cell += "+"  # the request changed something (rolled back afterwards)
    return cell


def row_of(world, key: str, rule) -> str:
    anon = observe(world, key, rule, None, "anon")
    own = [observe(world, key, rule, world.own[role], "own") for role in ROLES]
    other = [observe(world, key, rule, world.other[role], "other") for role in ROLES]
    return f"{anon} | {' '.join(own)} | {' '.join(other)}"


def unexpected_cells(key: str, expected: str, observed: str) -> list[str]:
    method = key.split(" ", 1)[0]
    names = ["anon"] + [f"own {r}" for r in ROLES] + [f"other {r}" for r in ROLES]
    want = expected.replace("|", " ").split()
    got = observed.replace("|", " ").split()
    problems = []
    for name, w, o in zip(names, want, got, strict=True):
        refusals = DENIALS if name == "anon" else SIGNED_IN_DENIALS
        if "!" in o or o.startswith("5"):
            problems.append(f"{key} as {name}: {o}")
        elif method not in WRITES:
            if w != o:
                problems.append(f"{key} as {name}: expected {w}, got {o}")
        elif int(w.rstrip("+")) in refusals and w != o:
            problems.append(f"{key} as {name}: expected refusal {w}, got {o}")
        elif o.endswith("+") and not w.endswith("+"):
            problems.append(f"{key} as {name}: changed something (audited), expected {w}")
    return problems


def test_every_route_and_operation_answers_each_role_as_the_matrix_says(app, matrix_world, figures):
    with app.app_context():
        world = matrix_world
        world.ids["own_coordinator"] = world.own["coordinator"]
        routes = operations(current_app)
        missing = [key for key, _rule in routes if key not in EXPECTED]
        stale = sorted(set(EXPECTED) - {key for key, _rule in routes})
        assert os.environ.get("POA_MATRIX_DUMP") or not missing, (
            f"{len(missing)} routes without an entry in the matrix: {missing}"
        )
        assert os.environ.get("POA_MATRIX_DUMP") or not stale, (
            f"entries for routes that no longer exist: {stale}"
        )

        started = time.perf_counter()
        observed, problems, cells = {}, [], 0
        slowest = []
        for key, rule in routes:
            began = time.perf_counter()
            observed[key] = row_of(world, key, rule)
            slowest.append((time.perf_counter() - began, key))
            cells += 1 + 2 * len(ROLES)
            if key in EXPECTED:
                problems += unexpected_cells(key, EXPECTED[key], observed[key])
        seconds = time.perf_counter() - started
        if os.environ.get("POA_MATRIX_DUMP"):
            print("\nEXPECTED = {")
            for key, row in observed.items():
                print(f"    {key!r}: {row!r},")
            print("}")
            for spent, key in sorted(slowest, reverse=True)[:25]:
                print(f"{spent:6.2f} s  {key}")
        web = sum(1 for key, _r in routes if not re.match(r"\S+ /api/v1", key))
        figure = (
            f"{len(routes)} routes ({web} web, {len(routes) - web} API) × {1 + 2 * len(ROLES)} roles: "
            f"{cells} cells, {len(problems)} unexpected ({seconds:.0f} s)"
        )
        print(f"\n{figure}")
        figures.append(figure)
        assert not problems, figure + "\n" + "\n".join(problems)


def test_every_operation_of_the_openapi_document_is_in_the_matrix(app, matrix_world):
    """The API half of the matrix comes from the URL map; the published document must not hold
    an operation the map lacks (flask-smorest writes both from the same views)."""
    with app.app_context():
        spec = app.test_client().get("/api/docs/openapi.json").get_json()
        keys = set(EXPECTED)
        documented = []
        for path, item in spec["paths"].items():
            rule = re.sub(r"\{(\w+)\}", r"<\1>", "/api/v1" + path if not path.startswith("/api") else path)
            for method in item:
                if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                    documented.append((method.upper(), rule))
        flattened = {re.sub(r"<(?:[^:>]+:)?(\w+)>", r"<\1>", key) for key in keys}
        flattened = {re.sub(r"<any\([^)]*\):(\w+)>", r"<\1>", key) for key in flattened}
        absent = [f"{m} {r}" for m, r in documented if f"{m} {r}" not in flattened]
        assert len(documented) > 100, len(documented)
        assert not absent, absent


def test_the_comparison_flags_a_changed_cell_a_leak_an_unexpected_change_and_a_crash():
    """The matrix can fail: each kind of difference between the table and the answers is named."""
    row = "302 | 200 200 404 200 200 200 200 200 | 200 404 404 404 404 404 404 404"
    assert unexpected_cells("GET /x/<int:id>", row, row) == []
    opened = row.replace("| 200 404", "| 200 200", 1)  # an outsider coordinator reads the object
    assert unexpected_cells("GET /x/<int:id>", row, opened) == [
        "GET /x/<int:id> as other coordinator: expected 404, got 200"
    ]
    leaked = row.replace("200 200 404", "200L 200L 404", 1)
    assert len(unexpected_cells("GET /x", row, leaked)) == 2
    write = "302 | 302+ 403 403 403 403 403 403 403 | 302+ 404 404 404 404 404 404 404"
    changed = write.replace("| 302+ 403", "| 302+ 302+", 1)  # a refused coordinator got through
    assert unexpected_cells("POST /x", write, changed) == [
        "POST /x as own coordinator: expected refusal 403, got 302+"
    ]
    silent = write.replace("302+ 403", "302+ 422+", 1)
    assert unexpected_cells("POST /x", write.replace("302+ 403", "302+ 422", 1), silent) == [
        "POST /x as own coordinator: changed something (audited), expected 422"
    ]
    crashed = write.replace("302 |", "500(KeyError) |", 1)
    assert unexpected_cells("POST /x", write, crashed) == ["POST /x as anon: 500(KeyError)"]
