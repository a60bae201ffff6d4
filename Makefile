# Two commands for a newcomer: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo demo-sync test lint bench bench-full clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/helpcrunch-async demo

# A first dlt sync into DuckDB, changes in the emulator, a second sync that costs what changed.
demo-sync: $(STAMP)
	$(BIN)/python -m helpcrunch_async._cli.sync_demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks --quick

bench-full: $(STAMP)
	$(BIN)/python -m benchmarks --full

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
