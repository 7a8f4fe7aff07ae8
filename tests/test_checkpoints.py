"""Checkpoints: flexgit.checkpoint in training code, kept with the run like its steps; get --checkpoint;
flexgit run --resume starting from a run's code and last checkpoints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import flexgit
from conftest import flexgit as cli
from conftest import flexgit_in_process, git, pulled_run
from flexgit.errors import InputError
from flexgit.project.checkpoints import Checkpoint, choose

TRAIN = """\
import os, sys
import flexgit
start = int(open("ckpt.pt").read().split()[0]) + 1 if os.path.exists("ckpt.pt") else 0
print("start", start, flush=True)
losses = [0.9, 0.4, 0.6]
for step in range(start, start + 3):
    open("ckpt.pt", "w").write(f"{step} weights")
    flexgit.checkpoint("ckpt.pt", step=step, loss=losses[step % 3], acc=step / 10)
    flexgit.log(step=step, loss=losses[step % 3])
if "--max-acc" in sys.argv:
    flexgit.finish(max=["acc"])
"""


def script(repo, *args, env=None):
    (repo / "train.py").write_text(TRAIN)
    done = subprocess.run([sys.executable, "train.py", *args], cwd=repo, capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    return done


def test_checkpoints_of_a_script_go_with_the_next_record_and_come_back_by_step_best_and_last(repo, tmp_path):
    script(repo, "--max-acc")
    done = cli(repo, "record", "--name", "r")
    assert done.code == 0, done
    run = flexgit.show("r", repo=repo)
    assert [(c.step, c.path, c.metrics["loss"]) for c in run.checkpoints] == [(0, "ckpt.pt", 0.9),
                                                                           (1, "ckpt.pt", 0.4),
                                                                           (2, "ckpt.pt", 0.6)]
    assert run.run.meta["checkpoints"] == 3 and run.run.meta["history_steps"] == 3  # beside flexgit.log
    lines = [json.loads(line) for line in git(repo, "show", "exp/r:.flexgit/checkpoints.jsonl").splitlines()]
    assert [(line["step"], line["file"]) for line in lines] == [(0, "0/ckpt.pt"), (1, "1/ckpt.pt"), (2, "2/ckpt.pt")]
    assert git(repo, "show", "exp/r:.flexgit/checkpoints/1/ckpt.pt") == "1 weights"
    assert "checkpoint" not in git(repo, "show", "exp/r:.flexgit/history.jsonl")
    shown = cli(repo, "show", "r").out
    assert "checkpoints:\n  step 0      ckpt.pt  9 B  acc=0  loss=0.9\n" in shown

    def got(*args):
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        result = cli(repo, "get", "r", "--checkpoint", *args, "-o", str(out))
        assert result.code == 0, result
        return out.read_text()

    assert got("1") == "1 weights"
    assert got("last") == "2 weights"
    assert got("best", "--by", "loss") == "1 weights"  # the lowest loss
    assert got("best", "--by", "loss", "--max") == "0 weights"
    assert got("best", "--by", "acc") == "2 weights"  # finish(max=["acc"]) said higher is better
    assert got("best", "--by", "acc", "--min") == "0 weights"
    unclear = cli(repo, "get", "r", "--checkpoint", "best")
    assert unclear.code == 1
    assert "needs --by METRIC: the checkpoints of run 'r' have the metrics acc, loss" in unclear.err
    missing = cli(repo, "get", "r", "--checkpoint", "7")
    assert missing.code == 1 and "has no checkpoint at step 7; its steps are 0, 1, 2" in missing.err
    assert cli(repo, "get", "r", "--checkpoint", "1", "--by", "loss").code == 2


def test_a_checkpoint_no_run_took_is_set_aside_with_its_steps(repo):
    script(repo)
    (repo / "train.py").write_text(TRAIN.replace("losses = [0.9, 0.4, 0.6]", "losses = [0.1, 0.1, 0.1]"))
    (repo / "ckpt.pt").unlink()
    subprocess.run([sys.executable, "train.py"], cwd=repo, check=True, capture_output=True)
    run = flexgit.record(name="second", repo=repo)
    assert run.meta["checkpoints"] == 3 and run.meta["history_set_aside"] == 3
    assert {c.metrics["loss"] for c in flexgit.show("second", repo=repo).checkpoints} == {0.1}
    aside = (repo / ".git" / "flexgit.d" / "history-set-aside.jsonl").read_text()
    assert aside.count('"checkpoint"') == 3


@pytest.mark.parametrize("call, message", [
    ("flexgit.checkpoint('ckpt.pt', step='3')", "needs step=N, a whole number"),
    ("flexgit.checkpoint('ckpt.pt', step=-1)", "needs step=N, a whole number"),
    ("flexgit.checkpoint('nope.pt', step=1)", "is not a file; save the checkpoint first"),
    ("flexgit.checkpoint('sub', step=1)", "is not a file"),
    ("flexgit.checkpoint('../x.pt', step=1)", "outside the working tree"),
    ("flexgit.checkpoint('ckpt.pt', step=1, loss=[[1]])", "flexgit.checkpoint"),
])
def test_bad_checkpoints_are_refused_with_a_clear_error_and_nothing_pending(repo, monkeypatch, call, message):
    (repo / "ckpt.pt").write_text("w")
    (repo / "sub").mkdir()
    (repo / "sub" / "a.pt").write_text("a")
    (repo.parent / "x.pt").write_text("x")
    monkeypatch.chdir(repo)
    with pytest.raises(InputError, match=message):
        eval(call, {"flexgit": flexgit})
    assert not (repo / ".git" / "flexgit.d" / "history.jsonl").exists()


def test_run_resume_starts_from_the_runs_code_and_last_checkpoint_and_names_it(repo, tmp_path):
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("ckpt.pt\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "train")
    env = {"TMPDIR": str(tmp_path)}
    first = cli(repo, "run", "--name", "first", "--", sys.executable, "train.py", env=env)
    assert first.code == 0 and first.out == "start 0\n", first
    assert [c.step for c in flexgit.show("first", repo=repo).checkpoints] == [0, 1, 2]
    (repo / "train.py").write_text("raise SystemExit('the working tree changed since')\n")
    resumed = cli(repo, "run", "--name", "second", "--resume", "first", "--", sys.executable, "train.py", env=env)
    assert resumed.code == 0 and resumed.out == "start 3\n", resumed  # the run's code, its checkpoint in place
    second = flexgit.show("second", repo=repo)
    first_id = flexgit.show("first", repo=repo).run.id
    assert second.run.meta["resumed"] == first_id and second.run.parent == first_id
    assert [c.step for c in second.checkpoints] == [3, 4, 5]
    assert git(repo, "show", "exp/second:train.py") == TRAIN
    none = flexgit_in_process(repo, "run", "--resume", "nothing-here", "--", "true")
    assert none.code == 1 and none.err.startswith("Error: --resume: ")
    flexgit.record(name="plain", repo=repo)
    empty = flexgit_in_process(repo, "run", "--resume", "plain", "--", "true")
    assert empty.code == 1 and "run 'plain' has no checkpoints to resume from" in empty.err


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed here")
def test_a_large_checkpoint_goes_through_git_lfs(repo, monkeypatch):
    (repo / ".flexgit.toml").write_text('lfs_threshold = "1KB"\n')
    (repo / "big.pt").write_bytes(b"w" * 4096)
    monkeypatch.chdir(repo)
    flexgit.checkpoint("big.pt", step=10, loss=0.5)
    flexgit.record(name="big", repo=repo)
    assert git(repo, "show", "exp/big:.flexgit/checkpoints/10/big.pt").startswith("version https://git-lfs")
    assert ".flexgit/checkpoints/10/big.pt" in git(repo, "lfs", "ls-files", "-n", "exp/big")


def test_choosing_a_checkpoint():
    items = [Checkpoint(0, "c", "0/c", 1, {"loss": 0.5}), Checkpoint(5, "c", "5/c", 1, {"loss": 0.2}),
             Checkpoint(9, "c", "9/c", 1, {"loss": 0.2, "acc": "n/a"}), Checkpoint(12, "c", "12/c", 1, {})]
    assert choose(items, "last").step == 12
    assert choose(items, "5").step == 5 and choose(items, 9).step == 9
    assert choose(items, "best").step == 5  # the one numeric metric; ties go to the earlier step
    assert choose(items, "best", mode="max").step == 0
    assert choose(items, "best", by="loss", declared={"loss": "max"}).step == 0
    with pytest.raises(InputError, match="no checkpoint of the run has a number for 'acc'"):
        choose(items, "best", by="acc")
    with pytest.raises(InputError, match="give a step number, 'last' or 'best'"):
        choose(items, "first")
    with pytest.raises(InputError, match="has no checkpoints"):
        choose([], "last")


def test_checkpoints_in_an_ignored_folder_of_the_working_tree_are_kept_and_resumed_without_touching_it(repo,
                                                                                                      tmp_path):
    (repo / "train.py").write_text(TRAIN.replace('"ckpt.pt"', '"checkpoints/ckpt.pt"'))
    (repo / ".gitignore").write_text("checkpoints/\n")
    (repo / "checkpoints").mkdir()
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "train")
    env = {"TMPDIR": str(tmp_path)}
    first = cli(repo, "run", "--name", "first", "--", sys.executable, "train.py", env=env)
    assert first.code == 0, first
    assert [(c.step, c.path) for c in flexgit.show("first", repo=repo).checkpoints][-1] == (2, "checkpoints/ckpt.pt")
    mine = (repo / "checkpoints" / "ckpt.pt").read_text()  # the linked folder: the command wrote here
    resumed = cli(repo, "run", "--name", "again", "--resume", "first", "--", sys.executable, "train.py", env=env)
    assert resumed.code == 0 and resumed.out == "start 3\n", resumed
    assert (repo / "checkpoints" / "ckpt.pt").read_text() == mine  # the resumed run had its own folder
    assert [c.step for c in flexgit.show("again", repo=repo).checkpoints] == [3, 4, 5]


def test_a_pulled_runs_history_and_checkpoint_list_of_any_shape_never_break_show_get_or_plot(tmp_path):
    """Lines nested past Python's stack, integers past a float's range, a `finish` of another shape:
    a pulled run's files are input, each bad line skipped, never an internal error."""
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    history = (deep + b'{"step": 1' + b"0" * 400 + b', "metrics": {"loss": 1' + b"0" * 400 + b'}}\n'
               b'{"step": 2, "metrics": {"loss": 0.5}}\n{"finish": {"min": 5}}\n{"finish": [1]}\n')
    listed = (deep + b'{"step": 1, "path": "a.pt", "file": "1/a.pt", "metrics": {"loss": 1' + b"0" * 400 + b'}}\n'
              b'{"step": 2, "path": "a.pt", "file": "2/a.pt", "metrics": {"loss": 0.25}}\n')
    victim = pulled_run(tmp_path, [("100644", "blob", b"fine", "ok.txt")],
                        files={"history.jsonl": history, "checkpoints.jsonl": listed, "checkpoints/1/a.pt": b"one",
                               "checkpoints/2/a.pt": b"two"})
    shown = cli(victim, "show", "hostile")
    assert shown.code == 0 and "step 2" in shown.out, shown
    best = cli(victim, "get", "hostile", "--checkpoint", "best", "-o", str(tmp_path / "best.pt"))
    assert best.code == 0, best
    assert (tmp_path / "best.pt").read_bytes() == b"two"
    pytest.importorskip("matplotlib")
    plot = cli(victim, "plot", "loss", "--runs", "hostile", "-o", str(tmp_path / "loss.png"))
    assert plot.code == 0, plot
