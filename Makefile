# avowal — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
POLICY ?= examples/contactmonkey-2017/policy.yaml
# Test processes (pytest-xdist): one per core; each test file runs whole in one of them.
TEST_WORKERS ?= auto
# The demo site at /demo/ (DEMO=false to leave it out).
DEMO ?= true

.PHONY: run test lint bench mutate install install-dev lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Runtime dependencies, pinned by constraints.txt so a fresh machine gets the same versions.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/avowal db upgrade
	AVOWAL_DEMO=$(DEMO) $(BIN)/avowal serve --host $(HOST) --port $(PORT) --policy $(POLICY)

test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python scripts/check_tracker_size.py

bench: install-dev
	$(BIN)/python -m bench

# Mutation testing of the rule modules; fails if a mutant survives in a protected rule.
mutate: install-dev
	$(BIN)/python -m pip install -q -c constraints.txt mutmut
	$(BIN)/python scripts/mutate.py $(MUTATE_ARGS)

# Re-pin every dependency after changing pyproject.toml.
lock: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^avowal' > constraints.txt

clean:
	rm -rf $(VENV) .avowal .pytest_cache .mypy_cache .ruff_cache mutants
