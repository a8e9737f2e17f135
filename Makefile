# Everything installs into .venv from this file; a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# apt-get needs root: sudo when not already root.
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install run serve migrate admin test schema docs migrations bench check lint clean browsers screenshots vendor-graphiql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

install: $(STAMP)

## run: install, migrate, create the admin from ADMIN_EMAIL/ADMIN_PASSWORD, serve on HOST:PORT
run: migrate
	$(BIN)/python -m app create-admin --from-env
	$(BIN)/python -m app serve

migrate: install
	$(BIN)/python -m app migrate

admin: install
	$(BIN)/python -m app create-admin

## test: the whole suite (SQLite; set TEST_DATABASE_URL=postgres://... for PostgreSQL)
test: install
	$(BIN)/python -m pytest

## browsers: Debian's chromium for tests/browser/ (skipped without it); never `playwright install`
browsers:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@chromium --version 2>/dev/null

## screenshots: the browser tests, writing docs/screenshots/ (shown in the README)
screenshots: install browsers
	BROWSER_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/browser -q

## vendor-graphiql: fetch GraphiQL's release files from the npm registry (versions in the script)
vendor-graphiql:
	scripts/vendor-graphiql.sh

schema: install
	$(BIN)/python -m app export-schema

## docs: rewrite the README's configuration table from app/config.py (a test fails when it is stale)
docs: install
	$(BIN)/python -m app.settings_doc

## migrations: write a migration for model changes (commit it with the change)
migrations: install
	$(BIN)/tortoise makemigrations

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy app

check: lint test

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
