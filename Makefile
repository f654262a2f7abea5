# Bastion: `make run` starts it with a demo organisation; `make test` runs the whole suite.
SHELL := /bin/bash
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
# A Python >= 3.12: the pinned pyenv one if present, else whatever python3.x is on PATH.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13.0/bin/python3 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then echo $$p; break; fi; done)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test lint bench clean venv venv-test

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Bastion needs Python 3.12 or newer (python3.13 recommended)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run
venv-test: $(VENV)/.installed-test

run: venv
	$(BIN)/bastion migrate --noinput -v 0
	$(BIN)/bastion demo --if-empty
	$(BIN)/bastion serve --with-worker --port $(PORT)

lint: venv-test
	$(BIN)/ruff check bastion tests bench conftest.py
	$(BIN)/mypy bastion

test: lint
	@echo "== test suite on SQLite =="
	$(BIN)/pytest -q -p no:cacheprovider
	@echo "== test suite on PostgreSQL ($(TEST_DATABASE_URL)) =="
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q -p no:cacheprovider

bench: venv-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var
