# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0

.PHONY: demo test lint bench bench-peers install system-deps screenshots dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)  # first, pinned: the CPU build, before a framework pulls another
	$(PY) -m pip install --quiet -e '.[test,demo]'
	$(PY) -m compileall -q flexgit
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo/demo.py

# Real components the suite uses (git-lfs; chromium and its driver for the report and UI tests;
# slurm-wlm and munge for a one-node Slurm cluster, slurmdbd and mariadb-server for its accounting),
# from Debian when missing and allowed (root with apt, as CI runs); elsewhere the tests that need
# them skip and say why. Each entry is COMMAND:PACKAGE.
SYSTEM_DEPS := git-lfs:git-lfs chromium:chromium chromedriver:chromium-driver slurmctld:slurm-wlm munged:munge \
	slurmdbd:slurmdbd mariadbd:mariadb-server
APT_INSTALL := apt-get -o DPkg::Lock::Timeout=600 install -y -q
system-deps:
	@for dep in $(SYSTEM_DEPS); do command=$${dep%%:*}; package=$${dep#*:}; \
	  { command -v $$command || [ -x /usr/sbin/$$command ]; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	    command -v apt-get >/dev/null 2>&1 && { $(APT_INSTALL) $$package >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && $(APT_INSTALL) $$package >/dev/null 2>&1; }; }; } || \
	    echo "$$package is not installed and cannot be installed here: its tests will skip"; \
	done

# The whole suite (slow tests included), with coverage measured in every flexgit process it starts.
test: $(STAMP) system-deps
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(PY) -m coverage run -m pytest -q $(PYTEST_ARGS)
	$(PY) -m coverage combine -q
	$(PY) -m coverage report --skip-covered --fail-under=90

# The browser tests' screenshots of the report and the UI, written to docs/img/ (README shows them).
screenshots: $(STAMP) system-deps
	FLEXGIT_SCREENSHOTS=$(CURDIR)/docs/img $(PY) -m pytest -q tests/test_browser.py

lint: $(STAMP)
	$(PY) -m ruff check .

# Bytecode is compiled first, as an installed package has it (an editable install does not).
bench: $(STAMP)
	$(PY) -m compileall -q flexgit
	$(PY) benchmarks/bench.py $(BENCH_ARGS)
	$(PY) benchmarks/shared.py $(BENCH_ARGS)
	$(PY) benchmarks/report.py

# The same, with DVC and MLflow installed into .venv and measured beside flexgit.
bench-peers: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(MAKE) bench

# The sdist and the wheel PyPI would get, in dist/, checked as PyPI checks them.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist *.egg-info
