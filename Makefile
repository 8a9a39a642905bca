# Two commands on a fresh machine: `make run` (set up, then the default experiment) and
# `make test` (both test tiers; `make test-fast` runs tests/unit alone). Both create ./.venv and
# install lth-tf into it the first time.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install run test test-fast ui bench science
install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $@

run: install
	$(BIN)/lth-tf run

test: install
	$(BIN)/python -m pytest

# The unit tier: no MLflow server, Ray or subprocess; under 2 minutes.
test-fast: install
	$(BIN)/python -m pytest tests/unit

ui: install
	$(BIN)/lth-tf ui

bench: install
	$(BIN)/python benchmarks/masking_speed.py

science: install
	$(BIN)/python benchmarks/science.py
