"""flexgit.log / finish: step-wise metrics kept with the run, their summary in its row."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import flexgit
from flexgit.errors import InputError
from flexgit.project.history import split_pending, summarize
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


LOG_ACC = "import flexgit; [flexgit.log(step=i, acc={acc}) for i in range(3)]; flexgit.finish(max=['acc'])"


def python(repo, code):
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)


def history_lines(repo, name):
    return [json.loads(line) for line in git(repo, "show", f"exp/{name}:.flexgit/history.jsonl").splitlines()]


def test_a_run_takes_the_steps_of_one_process_and_sets_older_ones_aside(repo):
    flexgit_d = repo / ".git" / "flexgit.d"
    python(repo, LOG_ACC.format(acc=0.9))  # a training run nobody recorded
    python(repo, LOG_ACC.format(acc=0.5))
    result = cli(repo, "record", "--name", "second", "-m", "note=1")
    assert result.code == 0, result
    run = flexgit.show("second", repo=repo).run
    assert run.metrics == {"acc": 0.5, "acc.max": 0.5, "note": 1}
    lines = history_lines(repo, "second")
    assert [line.get("metrics") for line in lines] == [{"acc": 0.5}] * 3 + [None]
    assert len({line["proc"] for line in lines}) == 1
    assert run.meta["history_steps"] == 3 and run.meta["history_since"] == lines[0]["t"]
    assert result.out.splitlines()[1] == f"attached 3 logged steps, the first at {lines[0]['t']}"
    assert result.err == ("warning: set aside 3 steps logged by an earlier process that no run took; they are kept "
                          "in .git/flexgit.d/history-set-aside.jsonl\n")
    aside = [json.loads(line) for line in (flexgit_d / "history-set-aside.jsonl").read_text().splitlines()]
    assert [line.get("metrics") for line in aside] == [{"acc": 0.9}] * 3 + [None]
    assert not (flexgit_d / "history.jsonl").exists()
    # An unrelated script logs, then a training run: only the training run's steps go with the next run.
    python(repo, "import flexgit; flexgit.log(step=0, loss=123.0)")
    python(repo, LOG_ACC.format(acc=0.7))
    assert cli(repo, "record", "--name", "third").code == 0
    third = flexgit.show("third", repo=repo).run
    assert third.metrics == {"acc": 0.7, "acc.max": 0.7} and third.meta["history_set_aside"] == 1
    assert "loss" in (flexgit_d / "history-set-aside.jsonl").read_text().splitlines()[-1]
    result = cli(repo, "record", "--name", "fourth")
    assert flexgit.show("fourth", repo=repo).run.metrics == {} and result.err == ""
    assert len(result.out.splitlines()) == 1 and "history_steps" not in flexgit.show("fourth", repo=repo).run.meta


def test_the_process_that_records_takes_its_own_steps(repo):
    flexgit.log(step=0, acc=0.3, repo=repo)
    python(repo, "import flexgit; flexgit.log(step=0, acc=0.8); flexgit.log(step=1, acc=0.9)")  # logged later
    run = flexgit.record(name="own", repo=repo)
    assert run.metrics == {"acc": 0.3} and run.meta["history_steps"] == 1 and run.meta["history_set_aside"] == 2


def test_lines_no_process_can_claim_are_set_aside_never_dropped():
    own = b'{"step": 0, "t": "a", "metrics": {"x": 1}, "proc": "1@a"}\n'
    other = b'{"step": 0, "t": "b", "metrics": {"x": 2}, "proc": "2@b"}\n'
    legacy = b'{"step": 5, "t": "c", "metrics": {"x": 3}}\n'
    pending = split_pending(legacy + own + b'{"step": 1, "t"' + b"\n" + other, own="1@a")
    assert pending.taken == own and pending.set_aside == legacy + b'{"step": 1, "t"\n' + other
    assert pending.set_aside_steps == 2
    assert split_pending(legacy + other).taken == other  # no own lines: the process that logged last
    assert split_pending(b"{cut").set_aside == b"{cut" and split_pending(b"{cut").taken == b""


def test_steps_buffered_in_this_process_are_all_attached_by_its_record(repo, monkeypatch):
    monkeypatch.chdir(repo)
    for step in range(50):  # well under a second: still in memory when record reads
        flexgit.log(step=step, loss=1 / (step + 1), note="x" if step == 49 else "y")
    run = flexgit.record(name="buffered")
    assert run.meta["history_steps"] == 50 and run.metrics["loss"] == 1 / 50 and run.metrics["note"] == "x"
    assert not (repo / ".git" / "flexgit.d" / "history.jsonl").exists()


def test_a_buffered_value_is_still_checked_when_logged(repo, monkeypatch):
    monkeypatch.chdir(repo)
    with pytest.raises(InputError, match="beyond 64 bits"):
        flexgit.log(step=1, loss=2 ** 70)


def test_a_killed_process_leaves_only_whole_lines_and_an_exit_writes_every_line(repo):
    killed = ("import flexgit, os, signal, time\n"
              "for s in range(200):\n    flexgit.log(step=s, loss=s / 7, tag='é' * s)\n"
              "time.sleep(1.2)\nflexgit.log(step=200, loss=0.0)\n"  # a second later: this call writes all 201
              "for s in range(201, 260):\n    flexgit.log(step=s, loss=1.0)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    (repo / "killed.py").write_text(killed)
    assert subprocess.run([sys.executable, "killed.py"], cwd=repo).returncode == -9
    pending = repo / ".git" / "flexgit.d" / "history.jsonl"
    lines = [json.loads(line) for line in pending.read_bytes().splitlines()]  # every line whole
    assert [line["step"] for line in lines] == list(range(len(lines))) and 201 <= len(lines) <= 260
    pending.unlink()
    (repo / "exits.py").write_text("import flexgit\nfor s in range(30):\n    flexgit.log(step=s, loss=1.0)\n")
    subprocess.run([sys.executable, "exits.py"], cwd=repo, check=True)
    assert [json.loads(line)["step"] for line in pending.read_bytes().splitlines()] == list(range(30))


def test_a_forked_child_does_not_write_its_parents_buffered_steps(repo):
    (repo / "fork.py").write_text("import flexgit, os\nflexgit.log(step=0, loss=1.0)\npid = os.fork()\n"
                                  "if pid == 0:\n    flexgit.log(step=1, loss=2.0)\n    raise SystemExit(0)\n"
                                  "os.waitpid(pid, 0)\n")
    subprocess.run([sys.executable, "fork.py"], cwd=repo, check=True)
    lines = [json.loads(line) for line in (repo / ".git" / "flexgit.d" / "history.jsonl").read_bytes().splitlines()]
    assert sorted(line["step"] for line in lines) == [0, 1] and len({line["proc"] for line in lines}) == 2
