# Two commands on a fresh machine: `make run` (set up, then the default experiment) and
# `make test`. Both create ./.venv and install lth-tf into it the first time.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install run test ui bench science
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

ui: install
	$(BIN)/lth-tf ui

bench: install
	$(BIN)/python benchmarks/masking_speed.py

science: install
	$(BIN)/python benchmarks/science.py
