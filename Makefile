# Spectra — `make run` and `make test` bootstrap everything they need into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-pg check fmt bench demo migration ci clean screenshots messages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/spectra serve

demo: $(STAMP)
	$(BIN)/spectra demo $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -n auto --dist worksteal -q $(ARGS)

test-pg: $(STAMP)
	SPECTRA_TEST_DATABASE_URL=$${SPECTRA_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -n auto --dist worksteal -q $(ARGS)

check: $(STAMP)
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

migration: $(STAMP)
	$(BIN)/python -m spectra.db.autogen "$(m)"

ci:
	bash .ci/run

# `make screenshots`: every console page of the demo workspace in light and dark, at 1440 and
# 390 px, into ./screenshots/ (needs chromium, like the browser tests).
screenshots: $(STAMP)
	SPECTRA_SCREENSHOTS=$(CURDIR)/screenshots $(BIN)/pytest -q tests/browser/test_review_screenshots.py

# `make messages`: re-extract the console's strings (src/spectra/console/babel.cfg) into
# locale/messages.pot and merge them into each language's .po (then translate the new entries;
# tests/console/test_i18n.py fails on any left untranslated). Keywords match that test's.
LOCALES_DIR := src/spectra/console/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F src/spectra/console/babel.cfg -k N_ -k n_:1,2 -k Column:2 -k SettingSpec:4 \
		--no-location --sort-output --omit-header -o $(LOCALES_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) -l zh_CN \
		--init-missing --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# `make bench`: the benchmark suite (bench/run.py); BENCH_QUICK=1 for a ~2 minute smoke run.
bench: $(STAMP)
	@command -v wrk >/dev/null || (sudo -n true 2>/dev/null && sudo apt-get install -y wrk || apt-get install -y wrk)
	PYTHONPATH=. $(BIN)/python -m bench.run
