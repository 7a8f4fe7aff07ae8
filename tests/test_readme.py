"""The README's Python snippets run as written, in order, from a copy of examples/flex."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_repo

ROOT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_the_seed_use_cases():
    code = "\n".join(python_blocks())
    for needle in ("Configuration([meta_data, config_params, results])", "save_config(", "Configuration(logs=",
                   "load_logs(", "save_logs(", "Experiment(loader=", ".save({'branch'", "Experiment().load(",
                   "Application(loader="):
        assert needle in code, needle


def test_readme_snippets_run(tmp_path):
    pytest.importorskip("sklearn")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "flex", project)
    make_repo(project, commit=False)
    (project / "params.toml").write_text("lr = 0.1\n")
    (project / "metrics.json").write_text('{"acc": 0.93}')
    (project / "results_old.csv").write_text("name,learning_rate,val_acc,dropout\nold_1,0.01,0.8,0.5\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "project")
    script = project / "readme_snippets.py"
    script.write_text("\n".join(python_blocks()))
    done = subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{project}{os.pathsep}{ROOT}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'name': 'experiment_1'" in done.stdout
    assert (project / "runs" / "results.csv").read_text().startswith("name,")
    assert (tmp_path / "lr-0.1" / "params.toml").read_text() == "lr = 0.1\n"
    names = git(project, "for-each-ref", "--format=%(refname:lstrip=1)", "refs/exp/").split()
    assert {"exp/lr-0.1", "exp/sklearn-logreg", "exp/old_1"} <= set(names)
