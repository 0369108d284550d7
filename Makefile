# Dunwell: `make demo` runs the whole loop against the local sandbox; `make test` runs the suite.
# Both set up what they need from a fresh clone (a virtualenv, the packages, Redis, PostgreSQL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: install services test lint format demo demo-headless bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Dunwell needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install
	./.ci/services --postgres --browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

demo: install
	./.ci/services
	$(BIN)/python -m demo $(ARGS)

demo-headless: install
	./.ci/services
	$(BIN)/python -m demo --headless

bench: install
	./.ci/services --postgres
	$(BIN)/python bench/sync_ingest.py
	$(BIN)/python bench/evaluate.py

clean:
	rm -rf $(VENV) instance .demo .pytest_cache .ruff_cache .cache
