# Two commands on a fresh machine (Python >= 3.11, make, git): `make run` and `make test`.
# Everything Python comes from pyproject.toml into .venv/.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Reinstalled when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The first python3.x >= 3.11 on PATH; override with `make PYTHON=/path/to/python3.12 venv`.
PYTHON ?= $(shell for candidate in python3 python3.13 python3.12 python3.11; do \
	command -v $$candidate >/dev/null 2>&1 && $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$candidate; break; }; done)

.PHONY: venv run test lint serve-prod frontend messages

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python >= 3.11 not found on PATH (set PYTHON=...)" >&2; exit 1; fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dependencies of pyproject.toml into $(VENV)/ (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The embedded default: SQLite, in-memory channel layer, inline tasks, one uvicorn process.
run: venv frontend
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/uvicorn builder.config.asgi:application --host $(HOST) --port $(PORT) --lifespan off

# The React builder, once frontend/package.json exists (DESIGN.md §2); Django serves the build.
frontend:
	@if [ -f frontend/package.json ]; then cd frontend && npm ci --no-audit --no-fund && npm run build; \
	else echo "frontend: no frontend/package.json yet, nothing to build"; fi

# Refresh the English/简体中文 catalogue after changing user-facing strings, then translate
# the new entries in builder/locale/zh_Hans/LC_MESSAGES/django.po and compile.
messages: venv
	$(BIN)/python manage.py makemessages -l zh_Hans --no-location --ignore ".venv/*" --ignore "tests/*" --ignore "var/*" --ignore "benchmarks/*"
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=".venv/*"

# ruff, mypy, import-linter, then pytest on the embedded default and in production mode.
test:
	scripts/test.sh

# All three run even when one fails, so one run shows every problem.
lint: venv
	@status=0; \
	echo "--- ruff"; $(BIN)/ruff check . || status=1; \
	echo "--- mypy"; $(BIN)/mypy || status=1; \
	echo "--- import-linter"; $(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

# Production: DATABASE_URL, REDIS_URL and DJANGO_SECRET_KEY from the environment or a .env file
# (honcho reads it for every command here). Runs the Procfile: web (uvicorn workers), worker
# (Celery) and beat; each line can also run as its own service.
HONCHO := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho
serve-prod: venv
	@$(HONCHO) run sh -c '[ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]' \
		|| { echo "serve-prod needs DATABASE_URL and REDIS_URL (environment or .env); 'make run' is the embedded default" >&2; exit 1; }
	$(HONCHO) run python manage.py migrate --noinput
	$(HONCHO) run python manage.py collectstatic --noinput --verbosity 0
	@mkdir -p var
	$(HONCHO) start -f Procfile --port $(PORT)
