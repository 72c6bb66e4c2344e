# poa_manager: `make run` serves the demo, `make test` runs every check CI runs.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export FLASK_APP := poa_manager

# The database `make test` checks migrations on: the PostgreSQL one when POA_TEST_DATABASE_URL is
# set (CI does), otherwise a scratch SQLite file.
CHECK_DB := $(or $(POA_TEST_DATABASE_URL),sqlite:///$(CURDIR)/instance/migration-check.sqlite3)

.PHONY: install run run-prod dev worker test lint migrations-check pytest vendor clean bench bench-readings bench-verification bench-registry \
	bench-dashboards bench-lists bench-map bench-load

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## Migrate the embedded SQLite database, load the demo data once, serve on http://127.0.0.1:5000
## with the task worker (large readings uploads) beside it; Ctrl-C stops both.
run: install
	POA_ENV=development $(BIN)/flask db upgrade
	POA_ENV=development $(BIN)/flask poa seed-demo
	trap 'kill 0' EXIT; \
	POA_ENV=development $(BIN)/flask poa worker & \
	POA_ENV=development $(BIN)/flask run --host 127.0.0.1 --port 5000

## Production on this machine: PostgreSQL (database poa_manager_prod), Redis, gunicorn on
## http://127.0.0.1:8000 and the task worker; POA_SEED_DEMO=1 loads the demo, POA_INSECURE_COOKIES=1
## allows plain-HTTP logins on loopback. See docs/operations.md.
run-prod: install
	bash scripts/run_prod.sh

## The task-queue worker alone (huey; SQLite storage unless POA_TASK_QUEUE_URL=redis://…)
worker: install
	POA_ENV=development $(BIN)/flask poa worker

## The same with the debugger and reloader (never expose this beyond your machine)
dev: install
	POA_ENV=development $(BIN)/flask db upgrade
	POA_ENV=development $(BIN)/flask poa seed-demo
	trap 'kill 0' EXIT; \
	POA_ENV=development $(BIN)/flask poa worker & \
	POA_ENV=development $(BIN)/flask run --host 127.0.0.1 --port 5000 --debug

## Lint, architecture contracts, migrations in step with the models, then the test suite
test: install lint migrations-check pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r poa_manager -ll -q
	@$(BIN)/bandit -c pyproject.toml -r poa_manager -f json -q --exit-zero 2>/dev/null | $(BIN)/python -c 'import json, sys; t = json.load(sys.stdin)["metrics"]["_totals"]; print("bandit: %d medium, %d high; %d low" % (t["SEVERITY.MEDIUM"], t["SEVERITY.HIGH"], t["SEVERITY.LOW"]))'

migrations-check: install
	mkdir -p instance
	rm -f instance/migration-check.sqlite3
	POA_ENV=testing POA_TEST_DATABASE_URL=$(CHECK_DB) $(BIN)/flask db upgrade
	POA_ENV=testing POA_TEST_DATABASE_URL=$(CHECK_DB) $(BIN)/flask db check

# pytest exits 5 when it collects nothing; for this project that means the suite is broken, so
# it fails with a message instead of passing quietly.
pytest: install
	status=0; $(BIN)/pytest || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is missing or misconfigured"; fi; \
	exit $$status

## Re-vendor the front-end libraries from npm into static/vendor (needs npm; see package.json)
vendor:
	bash scripts/vendor_assets.sh

clean:
	rm -rf $(VENV) instance/migration-check.sqlite3 .pytest_cache .ruff_cache

## Benchmarks (print figures; not part of `make test`): POA_BENCH_DATABASE_URL=postgresql://… for PostgreSQL
bench: install
	$(BIN)/python bench/bench_site_import.py

## Readings at scale (10,000 sites × 365 days, both engines, a few minutes): import and roll-up vs raw
bench-readings: install
	$(BIN)/python bench/bench_readings.py

## Verification at scale (10,000 and 100,000 sites, both engines, a few minutes): each step vs raw
bench-verification: install
	$(BIN)/python bench/bench_verification.py

## Registry at scale (1,000, 10,000 and 100,000 sites, both engines, 60 s per step at most): each step vs raw
bench-registry: install
	$(BIN)/python bench/bench_registry.py

## Dashboards with the demo data (SQLite; PostgreSQL with POA_BENCH_DATABASE_URL=… naming an empty
## database): every role's landing page, cycle times and chart JSON, p50/p95 vs the 300 ms target
bench-dashboards: install
	$(BIN)/python bench/bench_dashboards.py

## Every list page's first and middle page at 100,000 sites, p50/p95 and the SQL time inside
bench-lists: install
	$(BIN)/python bench/bench_lists.py

## The sites map's GeoJSON and the GeoJSON/KML exports at 100,000 sites, next to the raw query
bench-map: install
	$(BIN)/python bench/bench_map.py

## Load test of the production set-up (gunicorn 1, 2, 4 workers; PostgreSQL; Redis) with locust on
## loopback, 50 users for 60 s each, at 100,000 sites: req/s, p50/p95/p99, errors (docs/load.md)
bench-load: install
	$(BIN)/python bench/load_test.py
