# Qingling developer commands. `make run` serves both sites on a fresh clone; `make test` runs
# the whole suite (SQLite and Chromium). Everything is installed into .venv from PyPI with the
# pinned versions of requirements/constraints.txt; nothing is installed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
PIP    := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_ARGS ?=
NODE_STAMP := node_modules/.installed
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The triage queue bench's size in `make bench` (issue 5 reports 1000000: about 3 minutes more).
BENCH_TRIAGE_TIPS ?= 200000
BENCH_SOAK_SECONDS ?= 600

.PHONY: help run test test-sqlite test-postgres test-browser lint typecheck db-check bench \
        translations constraints clean install install-dev node-modules

help:
	@echo "make run            install into .venv, initialise ./instance, load the demo, serve both sites"
	@echo "make test           the whole test suite on SQLite, browser tests included"
	@echo "make test-postgres  the suite without browser tests on PostgreSQL ($(POSTGRES_TEST_URL))"
	@echo "make test-browser   only the browser tests (Debian's /usr/bin/chromium; axe-core via npm ci)"
	@echo "make lint           ruff check and ruff format --check"
	@echo "make typecheck      mypy --strict on the packages"
	@echo "make db-check       alembic upgrade head, then alembic check, on a scratch SQLite database"
	@echo "make bench          benchmarks: public site and audit trail, tip crypto, tip storage, intake under load, triage queue, 10-minute soak (PostgreSQL)"
	@echo "make translations   extract the messages, update the zh_CN catalogue and compile it"
	@echo "make constraints    regenerate $(CONSTRAINTS) from a fresh virtualenv"
	@echo "make clean          remove .venv, node_modules, caches and test artifacts (never ./instance)"

# ---------------------------------------------------------------- virtualenv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "Qingling needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
	  echo "Install a newer Python, or run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

# Stamp files: a second `make run` or `make test` installs nothing unless pyproject.toml or the
# constraints changed.
$(VENV)/.installed-run: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(PIP) install --quiet --constraint $(CONSTRAINTS) --editable '.[postgres,redis]'
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(PIP) install --quiet --constraint $(CONSTRAINTS) --editable '.[dev,postgres,redis]'
	@touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

# ---------------------------------------------------------------- run

run: $(VENV)/.installed-run
	$(BIN)/qingling init
	$(BIN)/qingling demo
	$(BIN)/qingling serve

# ---------------------------------------------------------------- tests

# The browser tests load axe-core into Chromium for the accessibility check: the version pinned
# in package-lock.json, installed with `npm ci` into ./node_modules (only for the browser tests;
# nothing there is served by Qingling). The stamp reinstalls it when the lock file changes.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "The browser tests need Node.js and npm (axe-core from the npm registry); install them" >&2; \
	  echo "(Debian: apt-get install nodejs npm), or run only 'make test-sqlite'." >&2; \
	  exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-modules: $(NODE_STAMP)

test: $(VENV)/.installed-dev $(NODE_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test-sqlite: $(VENV)/.installed-dev
	QINGLING_TEST_DATABASE_URL= $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-dev
	QINGLING_TEST_DATABASE_URL="$${QINGLING_TEST_DATABASE_URL:-$(POSTGRES_TEST_URL)}" \
	  $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-browser: $(VENV)/.installed-dev $(NODE_STAMP)
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

# ---------------------------------------------------------------- checks

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict

# A scratch data directory, so the check never touches ./instance; QINGLING_DATABASE_URL is
# emptied so it is always SQLite there.
db-check: $(VENV)/.installed-dev
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	  export QINGLING_DATA_DIR="$$scratch" QINGLING_DATABASE_URL= && \
	  echo "alembic upgrade head (scratch SQLite in $$scratch)" && \
	  $(BIN)/alembic upgrade head && \
	  echo "alembic check" && \
	  $(BIN)/alembic check

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py
	$(BIN)/python bench/crypto.py
	$(BIN)/python bench/tips.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/triage.py --tips $(BENCH_TRIAGE_TIPS)
	$(BIN)/python bench/soak.py --seconds $(BENCH_SOAK_SECONDS)

translations: $(VENV)/.installed-dev
	$(BIN)/python -m core.i18n

# Regenerate the pins from a fresh virtualenv (then review and commit the diff).
constraints: $(BIN)/python
	@scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	  $(PYTHON) -m venv "$$scratch/venv" && \
	  "$$scratch/venv/bin/pip" install --quiet --upgrade pip && \
	  "$$scratch/venv/bin/pip" install --quiet --editable '.[dev,postgres,redis]' && \
	  { echo "# Exact versions of every runtime, extra and dev dependency."; \
	    echo "# Generated by 'make constraints' (pip freeze --exclude-editable of a fresh venv)."; \
	    "$$scratch/venv/bin/pip" freeze --exclude-editable; } > $(CONSTRAINTS)
	@echo "wrote $(CONSTRAINTS)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts node_modules
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
