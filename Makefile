# Two commands on a fresh machine: `make run` (set up, then the default experiment) and
# `make test` (the docs site's strict build, then both test tiers; `make test-fast` runs tests/unit
# alone). Both create ./.venv and install lth-tf into it the first time.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install run test test-fast docs ui bench science
install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ray,docs]'
	touch $@

run: install
	$(BIN)/lth-tf run

# Two pytest workers (pytest-xdist), each taking whole test files: the tests are latency-bound and
# use about one core each, so two share this 2-core machine's cores (717 s -> 484 s here). Each
# worker grows to a few GB; more workers need more memory.
test: install docs
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The docs site into ./site; --strict: any warning (a broken link or anchor, a page left out of the
# nav, a README link to nothing) fails it, and with it `make test`. Not --quiet: it hides the warnings
# from --strict, which then passes.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The unit tier: no MLflow server, Ray or subprocess; under 2 minutes.
test-fast: install
	$(BIN)/python -m pytest tests/unit

ui: install
	$(BIN)/lth-tf ui

bench: install
	$(BIN)/python benchmarks/masking_speed.py

science: install
	$(BIN)/python benchmarks/science.py
