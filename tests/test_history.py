"""flexgit.log / finish: step-wise metrics kept with the run, their summary in its row."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import flexgit
from flexgit.project.history import summarize
from conftest import flexgit as cli, git

TRAIN = """\
import flexgit
with flexgit.logging(min=["loss"], max=["acc"]):
    for step, (loss, acc) in enumerate([(0.9, 0.5), (0.4, 0.8), (0.6, 0.7)]):
        flexgit.log(step=step, loss=loss, acc=acc)
"""


def test_logged_steps_are_kept_and_summarised_by_the_next_record(repo):
    (repo / "train.py").write_text(TRAIN)
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "train")
    subprocess.run([sys.executable, "train.py"], cwd=repo, check=True)
    assert cli(repo, "record", "--name", "h1", "-m", "acc=0.75").code == 0
    run = flexgit.show("h1", repo=repo).run
    assert run.metrics == {"loss": 0.6, "acc": 0.75, "loss.min": 0.4, "acc.max": 0.8}
    lines = [json.loads(line) for line in git(repo, "show", "exp/h1:.flexgit/history.jsonl").splitlines()]
    assert [line["step"] for line in lines[:3]] == [0, 1, 2] and "finish" in lines[3]
    assert not (repo / ".git" / "flexgit.d" / "history.jsonl").exists()
    assert cli(repo, "record", "--name", "h2").code == 0
    assert flexgit.show("h2", repo=repo).run.metrics == {}


def test_flexgit_run_gives_each_run_its_own_history(repo):
    (repo / "train.py").write_text("import flexgit, tomllib\np = tomllib.load(open('params.toml', 'rb'))\n"
                                   "for s in range(3):\n    flexgit.log(step=s, loss=p['lr'] * (3 - s))\n")
    (repo / "params.toml").write_text("lr = 1\n")
    (repo / ".flexgit.toml").write_text('config = "params.toml"\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    result = cli(repo, "run", "-S", "lr=1,10", "-j", "2", "--", sys.executable, "train.py")
    assert result.code == 0, result
    losses = sorted(run.metrics["loss"] for run in flexgit.list_runs(repo=repo))
    assert losses == [1, 10]


def test_summary_skips_broken_lines_and_nan():
    data = (b'{"step": 0, "metrics": {"loss": 1.0}}\n{cut\n{"step": 1, "metrics": {"loss": NaN}}\n'
            b'{"finish": {"min": ["loss"], "max": []}}\n')
    summary = summarize(data)
    assert summary["loss.min"] == 1.0 and summary["loss"] != summary["loss"]  # last is NaN, min ignores it


def test_log_needs_a_metric(repo):
    with pytest.raises(flexgit.FlexgitError, match="needs at least one metric"):
        flexgit.log(step=1, repo=repo)
