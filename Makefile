# The two commands a new user needs: `make run` and `make test`.
# Both run `setup` first, which is idempotent and cheap when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast check lint format clean bundle

setup: $(STAMP)
	@$(BIN)/python scripts/ensure_chromium.py
	@$(BIN)/python scripts/ensure_system_libs.py

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/pairdesk gui --demo 3

# Format, lint, types and import contracts first, then every test (what CI runs).
test: setup lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

# The same checks, then only the tests that need no browser.
test-fast: setup lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e and not bundle"

lint: setup
	$(BIN)/ruff format --check app tests scripts packaging
	$(BIN)/ruff check app tests scripts packaging
	$(BIN)/mypy app tests/ui/fakes.py
	$(BIN)/lint-imports

check: test

# The Linux desktop bundle, dist/pairdesk/ (packaging/README.md).
bundle: setup
	$(BIN)/python packaging/build_bundle.py $(BUNDLE_FLAGS)

format: setup
	$(BIN)/ruff format app tests scripts packaging
	$(BIN)/ruff check --fix app tests scripts packaging

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
