# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-peers install system-deps dist clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,demo]'
	$(PY) -m compileall -q flexgit
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo/demo.py

# Real components the suite uses (git-lfs; slurm-wlm and munge for a one-node Slurm cluster), from Debian when missing and allowed (root with apt,
# as CI runs); elsewhere the tests that need them skip and say why.
system-deps:
	@command -v git-lfs >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -q git-lfs >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q git-lfs >/dev/null 2>&1; }; }; } || \
		echo "git-lfs is not installed and cannot be installed here: its tests will skip"
	@{ command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ]; } && \
		{ command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ]; } || { [ "$$(id -u)" = 0 ] && \
		command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q slurm-wlm munge >/dev/null 2>&1; }; }; } || \
		echo "slurm-wlm and munge are not installed and cannot be installed here: the Slurm tests will skip"

# The whole suite (slow tests included), with coverage measured in every flexgit process it starts.
test: $(STAMP) system-deps
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(PY) -m coverage run -m pytest -q $(PYTEST_ARGS)
	$(PY) -m coverage combine -q
	$(PY) -m coverage report --skip-covered --fail-under=90

lint: $(STAMP)
	$(PY) -m ruff check .

# Bytecode is compiled first, as an installed package has it (an editable install does not).
bench: $(STAMP)
	$(PY) -m compileall -q flexgit
	$(PY) benchmarks/bench.py $(BENCH_ARGS)
	$(PY) benchmarks/shared.py $(BENCH_ARGS)

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
