# Hookline's commands. The two that matter: `make run` (the pipeline, live, with sample
# traffic) and `make test` (the whole suite against real Kafka and PostgreSQL). Each sets
# up whatever it needs on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format bench venv services-up services-down schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

run: venv
	scripts/run.sh

test: venv
	scripts/test.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: venv
	$(BIN)/python -m schemas.export

bench: venv
	scripts/bench.sh

services-up: venv
	scripts/postgres.sh start
	scripts/kafka.sh start

services-down:
	scripts/kafka.sh stop
	scripts/postgres.sh stop

clean: services-down
	rm -rf .run
