# Flashport task runner. `make` or `make help` lists the tasks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo serve serve-cluster worker test test-unit test-integration test-e2e test-quick test-chaos lint format \
	typecheck migrate translations check-clone bench bench-expiry bench-pipeline bench-notify clean

# Extra pytest arguments for the test targets, e.g. `make test-integration PYTEST_ARGS="-x -k payments"`.
PYTEST_ARGS ?=
# The integration tests run in parallel processes (pytest-xdist), each with a database and Redis prefix of
# its own: `make test-integration PARALLEL=` runs them in one process. Work is handed out test by test and
# an idle process takes tests from a busy one (worksteal): with one file per process (loadfile) no run
# could be shorter than its longest file, with the other processes idle at the end.
PARALLEL ?= -n 3 --dist worksteal
# The browser tests: two processes, one test file each at a time (each file has its own server and
# browser, module-scoped, and each process its own SQLite database). `make test-e2e E2E_PARALLEL=` runs
# them in one process.
E2E_PARALLEL ?= -n 2 --dist loadfile

help: ## List the tasks
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Flashport with its dev tools

demo: $(STAMP) ## Migrate, load the demo catalog and sale, serve on http://127.0.0.1:8000 (or FLASHPORT_PORT)
	$(BIN)/flashport demo

serve: $(STAMP) ## Serve the API (settings from FLASHPORT_* variables)
	$(BIN)/flashport serve

serve-cluster: $(STAMP) ## N API nodes behind HAProxy on FLASHPORT_PORT (NODES=2; installs HAProxy if missing)
	scripts/ensure-haproxy.sh
	$(BIN)/flashport serve-cluster --nodes $(or $(NODES),2)

worker: $(STAMP) ## Run the background worker
	$(BIN)/flashport worker

migrate: $(STAMP) ## Upgrade the database to the newest schema
	$(BIN)/flashport db upgrade

# The storefront's catalogues (src/flashport/web/locale): extract every marked text into messages.pot,
# merge it into each language's .po (new texts arrive untranslated: tests/unit/test_translations.py
# fails until they are translated), then compile the .mo files the app loads. README: "Languages".
LOCALE_DIR := src/flashport/web/locale
translations: $(STAMP) ## Extract, merge and compile the storefront's message catalogues
	$(BIN)/pybabel extract -F $(LOCALE_DIR)/babel.cfg -k tr:2 -k N_ --no-location --sort-output \
		--width 110 --project Flashport -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages \
		--width 110 --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(LOCALE_DIR) -D messages --statistics

lint: $(STAMP) ## ruff (lint + format check)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy

format: $(STAMP) ## Format and autofix
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

# `make test` is what .ci/run calls. It sets both storage backends, whatever FLASHPORT_TEST_BACKENDS says
# for quicker local loops.
test: $(STAMP) ## The whole suite: lint, types, then the unit, integration and browser tests
	FLASHPORT_TEST_BACKENDS=sqlite,postgres \
		$(MAKE) --no-print-directory lint typecheck check-clone test-unit test-integration test-e2e

test-unit: $(STAMP) ## Unit tests: pure rules and codecs, seconds, no database, Redis or browser
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) ## Integration tests on SQLite + PostgreSQL, SQL + Redis stock (starts them; installs HAProxy if missing)
	scripts/ensure-services.sh
	scripts/ensure-haproxy.sh
	$(BIN)/pytest tests/integration $(PARALLEL) $(PYTEST_ARGS)

test-e2e: $(STAMP) ## Browser tests: the storefront in Debian's Chromium (installs it if missing)
	scripts/ensure-browser.sh
	$(BIN)/pytest tests/e2e $(E2E_PARALLEL) $(PYTEST_ARGS)

test-chaos: $(STAMP) ## Faults during a purchase load (own PostgreSQL and Redis, restarted, flushed, stalled; root for the tmpfs)
	$(BIN)/pytest tests/chaos -m chaos -s $(PYTEST_ARGS)

test-quick: $(STAMP) ## Unit + integration tests without the slow race and load tests (-m "not slow")
	scripts/ensure-services.sh
	scripts/ensure-haproxy.sh
	$(BIN)/pytest tests/unit tests/integration -m "not slow" $(PYTEST_ARGS)

check-clone: $(STAMP) ## A clone of HEAD with nothing beside it builds a wheel that finds its schemas
	scripts/check-fresh-clone.sh

bench: $(STAMP) ## The record benchmark (see README: needs PostgreSQL and Redis)
	$(BIN)/flashport bench

bench-expiry: $(STAMP) ## Time how fast unpaid orders expire and their units return (see README)
	$(BIN)/flashport bench-expiry

bench-pipeline: $(STAMP) ## Time the back office: N paid orders declared, released, shipped (see README)
	$(BIN)/flashport bench-pipeline --scratch

bench-notify: $(STAMP) ## Fire signed payment notifications at a running server (see README)
	$(BIN)/flashport bench-notify --notifications 3000 --connections 64

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
