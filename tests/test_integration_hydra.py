"""Hydra: a real Hydra app, run in a subprocess, records each job at on_job_end; a multirun is a group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("hydra")

from conftest import flexgit_in_process as cli, make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402

import flexgit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

APP = '''
import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig

import flexgit


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    if cfg.optimizer.lr < 0:
        raise ValueError("the learning rate must be positive")
    for step in range(cfg.epochs):
        flexgit.log(step=step, loss=cfg.optimizer.lr / (step + 1))
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "metrics.json").write_text(json.dumps({"f1": 0.5 + cfg.optimizer.lr}))
    (out / "model.txt").write_text(f"weights for lr={cfg.optimizer.lr}")
    return {"acc": 0.9 - cfg.optimizer.lr}


if __name__ == "__main__":
    main()
'''

CONFIG = '''
epochs: 3
model: mlp
optimizer:
  lr: 0.1
  name: adam
batch: ${epochs}
hydra:
  callbacks:
    flexgit:
      _target_: flexgit.integrations.hydra.FlexgitCallback
      results: [metrics.json]
      outputs: ["*.txt"]
'''


@pytest.fixture
def app(tmp_path):
    repo = make_repo(tmp_path / "project")
    (repo / "app.py").write_text(APP)
    (repo / "conf").mkdir()
    (repo / "conf" / "config.yaml").write_text(textwrap.dedent(CONFIG))
    (repo / ".gitignore").write_text("outputs/\nmultirun/\n")
    return repo


def hydra_app(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "app.py", *args], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=120)


def test_a_single_run_is_one_run(app):
    done = hydra_app(app, "optimizer.lr=0.2", "model=cnn")
    assert done.returncode == 0, done.stderr
    (run,) = flexgit.list_runs(repo=app)
    assert run.status == "ok" and not run.group
    assert run.params == {"epochs": 3, "model": "cnn", "optimizer.lr": 0.2, "optimizer.name": "adam", "batch": 3}
    assert run.metrics["acc"] == pytest.approx(0.7) and run.metrics["f1"] == pytest.approx(0.7)
    assert run.metrics["loss"] == pytest.approx(0.2 / 3)  # the last logged step
    assert run.meta["hydra_overrides"] == ["optimizer.lr=0.2", "model=cnn"]
    assert run.meta["hydra_output_dir"].startswith("outputs/")
    shape = assert_same_shape(app, run.name, files=True)
    assert any(line.strip().startswith(f"{run.meta['hydra_output_dir']}/model.txt") for line in shape["outputs"])
    assert shape["message"] == "hydra app: optimizer.lr=0.2 model=cnn"


def test_a_multirun_is_a_group_with_a_failed_job(app):
    done = hydra_app(app, "-m", "optimizer.lr=0.1,0.3,-1")
    runs = sorted(flexgit.list_runs(repo=app), key=lambda run: run.meta["hydra_job_num"])
    assert [run.params["optimizer.lr"] for run in runs] == [0.1, 0.3, -1], done.stderr
    assert [run.status for run in runs] == ["ok", "ok", "failed"]
    assert "must be positive" in runs[2].meta["error"] and runs[2].metrics == {}
    group = runs[0].group
    assert group.startswith("multirun/") and {run.group for run in runs} == {group}
    assert_same_shape(app, runs[2].name, status="failed", history=False)
    table = cli(app, "table", "--group-by", "group", "--format", "json", "--columns", "group,runs,acc.mean")
    assert table.code == 0, table
    (row,) = json.loads(table.out)
    assert row["group"] == group and row["runs"] == 3 and row["metrics.acc.mean"] == pytest.approx(0.7)
