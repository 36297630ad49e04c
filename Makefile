# Every target creates .venv and installs what it needs, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install debs lint test test-fast bench demo clean

# setup.py builds the optional C extensions: a changed .c or .h file installs again.
$(STAMP): pyproject.toml setup.py $(wildcard sdk/driftline/*.[ch] sidecar/driftline_sidecar/*/*.c)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Prometheus, promtool, Alertmanager and amtool for the integration tests; openssl makes the
# HTTPS transport test's certificate.
debs:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v prometheus-alertmanager >/dev/null || ! command -v amtool >/dev/null \
	    || ! command -v openssl >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends prometheus prometheus-alertmanager openssl; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) debs lint
	$(PY) -m pytest

# The suite without the lint step, for quick iterations.
test-fast: $(STAMP) debs
	$(PY) -m pytest -x -q

# The main job: train on real 2013 flight data, replay the year, watch drift get caught and paged.
demo: $(STAMP)
	$(VENV)/bin/driftline demo

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
