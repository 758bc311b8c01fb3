# The two commands (see README): `make run` and `make test`. Both build .venv first.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest django-suite browsers screenshots clean dist-check lowest-deps theme-tests

LOWEST_PYTHON ?= python3

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e . --group dev
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Sessions page: http://127.0.0.1:$(PORT)/admin/sessions_panel/sessionrecord/"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Django's own sessions_tests against every tracked engine (tests/django_suite/README.md):
# the classes as Django ships them, then the SimpleTestCase ones allowed the database.
django-suite: $(STAMP)
	scripts/django-suite --python $(BIN)/python
	scripts/django-suite --python $(BIN)/python --simple-testcases with-db

test: lint typecheck pytest django-suite

# The sdist and wheel a release would upload, built and checked as PyPI would.
dist-check: $(STAMP)
	scripts/check-dist --python $(BIN)/python

# The suite on the lowest version of each runtime dependency pyproject.toml allows, in its
# own .venv-lowest (rebuilt every time), on the oldest supported Python.
lowest-deps:
	scripts/lowest-deps --python $(LOWEST_PYTHON) $(PYTEST_ARGS)

clean:
	rm -rf .venv .venv-* db.sqlite3 staticfiles .mypy_cache .ruff_cache .pytest_cache

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py
	scripts/theme-tests --screenshots

# The Sessions page under admin themes: one virtualenv per theme (.venv-theme-*).
theme-tests:
	scripts/theme-tests $(THEMES)
