# The two commands a new user needs: `make run` and `make test`.
# Both run `setup` first, which is idempotent and cheap when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test check lint format e2e clean

setup: $(STAMP)
	@$(BIN)/python scripts/ensure_chromium.py

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/pairdesk gui --demo 3

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

lint:
	$(BIN)/ruff format --check app tests scripts
	$(BIN)/ruff check app tests scripts
	$(BIN)/mypy app
	$(BIN)/lint-imports

check: setup lint test

format: setup
	$(BIN)/ruff format app tests scripts
	$(BIN)/ruff check --fix app tests scripts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
