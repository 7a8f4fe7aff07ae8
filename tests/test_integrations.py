"""What every framework integration promises: importing flexgit imports no framework, each module
imports without its framework and says how to install it, and runs recorded with a status or a group."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_repo

import flexgit

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"sklearn": ("sklearn", "autolog"), "lightning": ("lightning", "FlexgitLogger"),
              "transformers": ("transformers", "FlexgitCallback"), "keras": ("keras", "FlexgitCallback"),
              "optuna": ("optuna", "FlexgitCallback"), "hydra": ("hydra", "FlexgitCallback")}
HEAVY = ["torch", "sklearn", "numpy", "optuna", "hydra", "omegaconf", "lightning", "transformers", "keras",
         "IPython", "ipykernel", "nbformat"]


def python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_import_flexgit_and_record_import_no_framework(tmp_path):
    make_repo(tmp_path / "project")
    done = python(f"import os, sys, flexgit; os.chdir({str(tmp_path / 'project')!r}); flexgit.record(name='x'); "
                  f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("module", sorted(FRAMEWORKS))
def test_each_integration_imports_without_its_framework(module):
    framework, name = FRAMEWORKS[module]
    done = python(f"import sys; sys.modules[{framework!r}] = None\n"
                  f"import flexgit.integrations.{module} as integration\n"
                  f"print(sorted(m for m in {HEAVY!r} if sys.modules.get(m)))\n"
                  f"obj = getattr(integration, {name!r})\n"
                  f"obj() if {module in ('sklearn', 'optuna')} else None")
    assert done.stdout.startswith("[]"), done
    if module == "optuna":  # a plain callable: Optuna itself calls it, and it never imports optuna but for its version
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0 and f"pip install 'flexgit[{module}]'" in done.stderr, done.stderr


def test_record_keeps_status_group_and_parent(tmp_path):
    repo = make_repo(tmp_path / "project")
    parent = flexgit.record(name="search", repo=repo)
    child = flexgit.record(name="c1", status="pruned", group="search", parent="search", repo=repo)
    assert (child.status, child.group, child.parent) == ("pruned", "search", parent.id)
    (read,) = [run for run in flexgit.list_runs(repo=repo) if run.name == "c1"]
    assert (read.status, read.group, read.parent) == ("pruned", "search", parent.id)


@pytest.mark.parametrize("kwargs, error", [({"status": "great"}, "not one of"), ({"group": "a\nb"}, "one line"),
                                           ({"group": " "}, "one line"), ({"parent": "nope"}, "nope")])
def test_record_refuses_a_bad_status_group_or_parent(tmp_path, kwargs, error):
    repo = make_repo(tmp_path / "project")
    with pytest.raises(flexgit.FlexgitError, match=error):
        flexgit.record(repo=repo, **kwargs)
    assert flexgit.list_runs(repo=repo) == []


def test_a_training_outside_a_repository_is_refused_before_it_starts(tmp_path):
    from flexgit.integrations._runs import Training

    with pytest.raises(flexgit.FlexgitError):
        Training(repo=tmp_path)
