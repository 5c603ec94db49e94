# Flashport task runner. `make` or `make help` lists the tasks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo serve worker test check-clone lint format typecheck migrate bench bench-expiry bench-pipeline bench-notify clean

help: ## List the tasks
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

worker: $(STAMP) ## Run the background worker
	$(BIN)/flashport worker

migrate: $(STAMP) ## Upgrade the database to the newest schema
	$(BIN)/flashport db upgrade

lint: $(STAMP) ## ruff (lint + format check)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy

format: $(STAMP) ## Format and autofix
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

test: $(STAMP) ## The whole suite: lint, types, tests on SQLite + PostgreSQL + Redis
	scripts/ensure-services.sh
	scripts/ensure-browser.sh
	$(MAKE) --no-print-directory lint typecheck check-clone
	$(BIN)/pytest

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
