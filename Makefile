# Developer entry points. `make run` / `make test` start embedded Redis and
# PostgreSQL (see scripts/services.py) unless REDIS_URL / DATABASE_URL
# (TEST_REDIS_URL / TEST_DATABASE_URL for tests) point at external servers.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements*.txt)
PYTHON_BOOTSTRAP ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
PYTEST_ARGS ?=

.PHONY: run test lint stop bench setup

# Create the virtualenv only if it is missing.
$(PY):
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)

# Reinstall when any requirements*.txt is newer than the stamp.
$(STAMP): $(REQUIREMENTS) | $(PY)
	$(PY) -m pip install -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.services run

test: $(STAMP)
	$(PY) -m scripts.services test $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

stop:
	@if [ -x $(PY) ]; then $(PY) -m scripts.services stop; else echo "no $(VENV); nothing to stop"; fi

bench: $(STAMP)
	$(PY) -m bench.run
