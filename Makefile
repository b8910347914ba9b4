# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check clean bench

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## the whole service on embedded defaults: API on :8000, a worker, embedded Redis
	$(BIN)/imgpress up

test: $(STAMP)  ## the whole suite, on real parts it starts itself
	$(BIN)/pytest

lint: $(STAMP)  ## ruff, mypy and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

bench: $(STAMP)  ## the benchmarks of issues 4 and 9: figures, ratios and PASS/FAIL, also in var/bench/last.json
	$(BIN)/python -m ops.bench

clean:
	rm -rf $(VENV) var *.egg-info .pytest_cache .mypy_cache .ruff_cache
