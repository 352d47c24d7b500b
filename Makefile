# Parley: `make run` serves the app on http://127.0.0.1:8000, `make test` runs linters and every test.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Two workers suit the 2-core CI machine; `make test PYTEST_ARGS=-x` to stop at the first failure.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: run test lint format bench bench-archive-search bench-realtime reset-demo clean

$(BIN)/python:
	@echo "== creating the virtualenv in $(VENV)"
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes, so a second `make run` starts in seconds.
# The first install takes one to three minutes; pip shows each package as it goes.
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	@echo "== installing Parley's requirements into $(VENV) (first run: one to three minutes)"
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-ldap.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

# daphne's options are config/server.py's, the same wherever a worker starts (config/tests/test_deployment.py).
run: $(VENV)/.installed-runtime
	@echo "== migrating the database"
	$(BIN)/python manage.py migrate --noinput
	@echo "== seeding the demo company (first run only)"
	$(BIN)/python manage.py seed_demo --if-empty
	@echo "Parley is starting on http://$(HOST):$(PORT)/ with its background worker (Ctrl+C stops both)"
	@# The worker (supervision, exports, checkpoints, retention) runs beside daphne and stops with it: a
	@# background job of a non-interactive shell ignores Ctrl+C, so the trap ends it. With SQLite both write;
	@# IMMEDIATE transactions and a 20 s busy timeout (config/settings.py) make them take turns, not fail.
	@$(BIN)/python manage.py run_archive_jobs & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/daphne --websocket_connect_timeout 60 --bind $(HOST) --port $(PORT) config.asgi:application

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks (docs/benchmarks.md). The archive benchmark fills a scratch database, never the demo one:
# `make bench BENCH_DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench BENCH_MESSAGES=1000000`.
# bench/realtime.py (S1-S5 and the fault run, issue 13) needs PostgreSQL (a scratch database it drops and
# recreates: its name must contain "bench") and the redis-server binary (it runs its own Redis); about 30
# minutes at full size, plus up to 20 for S2's ramp (half a minute a step). A smoke run in about three minutes:
# `make bench-realtime BENCH_REALTIME_ARGS="--seconds 5 --users 20 --idle-max 40 --workers 2"`; one scenario:
# `BENCH_REALTIME_ARGS="s1 --workers 2"`.
BENCH_REALTIME_DATABASE_URL ?= postgres://parley:parley@127.0.0.1:5432/parley_bench_rt
BENCH_REALTIME_ARGS ?=
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench.sqlite3
BENCH_MESSAGES ?= 100000
# The search benchmark builds 1,000,000 archived messages once (about 15 minutes) in a PostgreSQL database of
# its own whose name must contain "bench"; `make bench-archive-search BENCH_ARCHIVE_SEARCH_ARGS=--reuse` times
# them again without rebuilding.
BENCH_ARCHIVE_SEARCH_DATABASE_URL ?= postgres://parley:parley@127.0.0.1:5432/parley_bench_archive_search
BENCH_ARCHIVE_SEARCH_ARGS ?=
# Lexicons off the send path (issue 16): a scratch PostgreSQL database it drops and recreates (name with "bench").
BENCH_SUPERVISION_DATABASE_URL ?= postgres://parley:parley@127.0.0.1:5432/parley_bench_supervision
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/crypto.py
	rm -f var/bench.sqlite3
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/presence.py --contacts 500
	rm -f var/bench.sqlite3
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/archive.py --messages $(BENCH_MESSAGES) --rooms 100
	$(MAKE) bench-archive-search
	DATABASE_URL=$(BENCH_SUPERVISION_DATABASE_URL) $(BIN)/python bench/supervision.py --messages 4000
	rm -f var/bench.sqlite3
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/socket_memory.py --sockets 1000
	$(MAKE) bench-realtime

bench-archive-search: $(VENV)/.installed-dev
	DATABASE_URL=$(BENCH_ARCHIVE_SEARCH_DATABASE_URL) $(BIN)/python bench/archive_search.py $(BENCH_ARCHIVE_SEARCH_ARGS)

bench-realtime: $(VENV)/.installed-dev
	DATABASE_URL=$(BENCH_REALTIME_DATABASE_URL) $(BIN)/python bench/realtime.py $(BENCH_REALTIME_ARGS)

# Start over means over: the demo's database and every file uploaded to it (the keys stay, so nothing sealed
# elsewhere is lost). PARLEY_VAR_DIR as in config/settings.py.
PARLEY_VAR_DIR ?= var
reset-demo:
	rm -rf $(PARLEY_VAR_DIR)/parley.sqlite3 $(PARLEY_VAR_DIR)/parley.sqlite3-wal $(PARLEY_VAR_DIR)/parley.sqlite3-shm \
		$(PARLEY_VAR_DIR)/media

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
