# Dues: `make run` serves the demo gym, `make test` runs every check on SQLite and PostgreSQL.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/dues
PYTEST_WORKERS ?= 2

.PHONY: run install install-dev system-fonts browser test test-sqlite test-postgres lint bench clean

# Debian packages: fonts for invoice PDFs in every language (Noto: Latin, Thai, Chinese),
# and chromium for the end-to-end tests. Installed when missing (needs root or sudo).
FONT_PACKAGES := fonts-noto-core fonts-noto-cjk
BROWSER_PACKAGES := chromium
APT = $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

system-fonts:
	@fc-list | grep -q "Noto Sans Thai" && fc-list | grep -q "Noto Sans CJK" || \
		{ $(APT) update -qq && $(APT) install -y -qq $(FONT_PACKAGES); }

browser: system-fonts
	@command -v chromium >/dev/null || \
		{ $(APT) update -qq && $(APT) install -y -qq $(BROWSER_PACKAGES); }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python system-fonts
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/dues migrate --no-input
	$(BIN)/dues demo --if-empty
	$(BIN)/dues run

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/dues bench
	$(BIN)/dues makemigrations --check --dry-run

test: lint browser test-sqlite test-postgres

test-sqlite: install-dev
	DUES_DATABASE_URL= $(BIN)/pytest -n $(PYTEST_WORKERS) -q

# With CI=true a missing PostgreSQL fails the build instead of skipping it.
test-postgres: install-dev
	@if $(BIN)/python -m dues.ops.pgcheck "$(PG_URL)"; then \
		DUES_DATABASE_URL=$(PG_URL) DUES_REQUIRE_POSTGRES=1 $(BIN)/pytest -n $(PYTEST_WORKERS) -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is not reachable and CI=true: failing"; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipping the PostgreSQL run"; \
	fi

bench: install-dev
	DUES_DATABASE_URL= $(BIN)/python -m bench.billing_run --members 100000
	DUES_DATABASE_URL=$(PG_URL) $(BIN)/python -m bench.billing_run --members 100000
	DUES_DATABASE_URL= $(BIN)/python -m bench.pages --members 100000
	DUES_DATABASE_URL=$(PG_URL) $(BIN)/python -m bench.pages --members 100000
	DUES_DATABASE_URL= $(BIN)/python -m bench.access --members 100000
	DUES_DATABASE_URL=$(PG_URL) $(BIN)/python -m bench.access --members 100000

clean:
	rm -rf $(VENV) var build dist *.egg-info
