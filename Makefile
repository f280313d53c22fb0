# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs the project into it first, when pyproject.toml is newer than the last install.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ziwo-reports demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/metrics_bench.py
	$(BIN)/python bench/export_bench.py
	$(BIN)/python bench/pull_bench.py
	$(BIN)/python bench/webhook_bench.py
	$(BIN)/python bench/salesforce_bench.py
	$(BIN)/python bench/zendesk_bench.py
	$(BIN)/python bench/hubspot_bench.py
	$(BIN)/python bench/sql_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
