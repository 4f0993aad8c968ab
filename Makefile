# Forbear — the two commands are `make demo` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BASE_STAMP := $(VENV)/.stamp-base
DEV_STAMP  := $(VENV)/.stamp-dev
PYTEST_ARGS ?=
BORROWERS ?= 20000

.PHONY: demo test lint imports format typecheck bench bench-smoke serve clean help

help:
	@echo "make demo   - set up, build the demo book, run the daily job, serve the web app (Ctrl+C stops)"
	@echo "make test   - install dev dependencies, lint, type-check and run the whole test suite"
	@echo "make lint   - ruff check + format check + layer contracts (lint-imports, .importlinter)"
	@echo "make format - apply ruff format and fixes"
	@echo "make bench  - run the benchmarks at full size (slow)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Forbear needs Python 3.11+, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml $(BASE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The assistant's model trains beside the demo book (it reads no database): two cores, two jobs.
# The sources are byte-compiled first: an editable install is not, and where
# PYTHONDONTWRITEBYTECODE is set every command would compile every module it imports.
demo: $(BASE_STAMP)
	@$(BIN)/python -m compileall -q src > /dev/null
	@$(BIN)/forbear assistant train & train=$$!; \
	$(BIN)/forbear demo --borrowers $(BORROWERS); built=$$?; \
	wait $$train; trained=$$?; \
	[ $$built -eq 0 ] && [ $$trained -eq 0 ]
	$(BIN)/forbear serve

# the run ends with its 25 slowest tests: the suite's budget is about 15 minutes on 2 cores
test: $(DEV_STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --durations=25 $(PYTEST_ARGS)

lint: $(DEV_STAMP) imports
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The layers (docs/architecture.md): contracts in .importlinter.
imports: $(DEV_STAMP)
	$(BIN)/lint-imports --no-cache

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy src/forbear

serve: $(BASE_STAMP)
	$(BIN)/forbear serve

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/ledger.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache forbear-data
