"""A hostile collaborator with push access to the shared remote, rebuilt with plain git (issue 14,
items 1, 4, 6 and 7): what arrives may falsify nothing, move no ref of the victim's, hide no run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli, git, make_repo

PLAIN_GIT_NOTES = "refs/notes/flexgit"


def victim_and_attacker(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare remote, the victim's clone with one pushed run, and the attacker's clone of it all."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    victim = make_repo(tmp_path / "victim")
    git(victim, "remote", "add", "origin", str(remote))
    git(victim, "push", "-q", "origin", "main")
    flexgit.record(name="baseline", metrics={"acc": 0.9}, repo=victim)
    assert cli(victim, "push").code == 0
    attacker = tmp_path / "attacker"
    git(tmp_path, "clone", "-q", str(remote), str(attacker))
    git(attacker, "config", "user.name", "Attacker")
    git(attacker, "config", "user.email", "attacker@example.com")
    git(attacker, "fetch", "-q", "origin", f"{PLAIN_GIT_NOTES}:{PLAIN_GIT_NOTES}",
        "refs/flexgit/heads/experiments:refs/heads/experiments")
    return remote, victim, attacker


def push_notes(attacker: Path) -> None:
    git(attacker, "push", "-q", "-f", "origin", f"{PLAIN_GIT_NOTES}:{PLAIN_GIT_NOTES}")


def test_a_pulled_notes_commit_cannot_move_the_victims_branch(tmp_path):
    """Item 1: trailers naming refs/heads/main and a commit on top of the victim's main."""
    remote, victim, attacker = victim_and_attacker(tmp_path)
    main = git(victim, "rev-parse", "main").strip()
    (attacker / "train.py").write_text("print('pwned')\n")
    git(attacker, "commit", "-qam", "evil")
    evil = git(attacker, "rev-parse", "HEAD").strip()
    assert git(attacker, "rev-parse", "HEAD~1").strip() == main
    tree = git(attacker, "rev-parse", f"{PLAIN_GIT_NOTES}^{{tree}}").strip()
    parent = git(attacker, "rev-parse", PLAIN_GIT_NOTES).strip()
    message = f"flexgit: record run x\n\nFlexgit-Tip: {evil}\nFlexgit-Branch: refs/heads/main\nFlexgit-Runs: 1\n" \
              "Flexgit-Format: 2\n"
    forged = git(attacker, "commit-tree", tree, "-p", parent, "-m", message).strip()
    git(attacker, "update-ref", PLAIN_GIT_NOTES, forged)
    git(attacker, "push", "-q", "origin", "HEAD:refs/heads/evil")  # makes the commit reachable there
    push_notes(attacker)
    assert cli(victim, "pull").code == 0
    assert cli(victim, "record", "--name", "after").code == 0
    assert git(victim, "rev-parse", "main").strip() == main
    assert git(victim, "status", "--porcelain").strip() == ""
    # Malformed trailers are no reason to block a write either.
    message = "flexgit: record\n\nFlexgit-Tip: zz\nFlexgit-Runs: x\nFlexgit-Format: 2\n"
    git(victim, "update-ref", PLAIN_GIT_NOTES, git(victim, "commit-tree", f"{PLAIN_GIT_NOTES}^{{tree}}", "-p",
                                                     PLAIN_GIT_NOTES, "-m", message).strip())
    assert cli(victim, "record", "--name", "again").code == 0


def test_a_kill_at_the_commit_point_then_a_pull_from_a_moved_remote_loses_nothing(tmp_path):
    """Item 4: the interrupted write is finished by the next write, whatever notes came in between."""
    remote, victim, other = victim_and_attacker(tmp_path)
    flexgit.record(name="theirs", repo=other)
    assert cli(other, "push").code == 0
    script = f"import flexgit; flexgit.record(name='mine', metrics={{'acc': 0.5}}, repo={str(victim)!r})"
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "FLEXGIT_CRASH_AT": "notes"})
    assert done.returncode == -9
    assert cli(victim, "pull").code == 0  # a notes merge on top of the interrupted write
    assert cli(victim, "show", "mine").code == 0
    assert cli(victim, "record", "--name", "next").code == 0
    git(victim, "gc", "-q", "--prune=now")
    mine = flexgit.show("mine", repo=victim).run
    assert mine.metrics == {"acc": 0.5}
    assert git(victim, "rev-parse", "exp/mine").strip() == mine.id
    assert mine.id in git(victim, "rev-list", "experiments").split()
    assert sorted(run.name for run in flexgit.list_runs(repo=victim)) == ["baseline", "mine", "next", "theirs"]
    assert git(victim, "fsck", "--strict", "--no-dangling").strip() == ""


def hostile_line(attacker: Path, run_id: str, line: str) -> None:
    note = git(attacker, "notes", "--ref=flexgit", "show", run_id).rstrip("\n")
    git(attacker, "notes", "--ref=flexgit", "add", "-f", "-m", note + "\n" + line, run_id)


def test_hostile_note_lines_affect_only_themselves(tmp_path):
    """Item 6: a line from the far future, a newer format, wrong shapes, deep JSON, a note on a blob."""
    remote, victim, attacker = victim_and_attacker(tmp_path)
    run_id = flexgit.show("baseline", repo=victim).run.id
    future = {"v": 1, "t": "9999-12-31T00:00:00.000000Z", "name": "renamed-by-attacker", "metrics": {"acc": 0.01}}
    for line in (json.dumps(future), '{"v": 2, "t": "2026-01-01T00:00:00.000000Z", "metrics": {"acc": 0.02}}',
                 '{"v": 1, "t": "2026-01-01T00:00:00.000000Z", "params": [1, 2]}',
                 '{"v": 1, "t": "2026-01-01T00:00:00.000000Z", "data": [1]}',
                 '{"v": 1, "t": "2026-01-01T00:00:00.000000Z", "metrics": {"nested": [[1]]}}',
                 "[" * 3000 + "]" * 3000):
        hostile_line(attacker, run_id, line)
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=attacker, input="x\n", text=True,
                          capture_output=True, check=True).stdout.strip()
    git(attacker, "notes", "--ref=flexgit", "add", "-f", "-m",
        json.dumps({"v": 1, "t": "2026-01-01T00:00:00.000000Z", "name": "blobby"}), blob)
    push_notes(attacker)
    assert cli(victim, "pull").code == 0
    assert cli(victim, "table", "--only-changed").code == 0
    result = cli(victim, "table", "--format", "csv", "--columns", "name,acc")
    assert result.code == 0, result
    assert result.out == "name,metrics.acc\nbaseline,0.9\n"
    updated = cli(victim, "update", "baseline", "-m", "acc=0.95")
    assert updated.out.startswith("updated baseline ")
    assert flexgit.show("baseline", repo=victim).run.metrics["acc"] == 0.95
    assert cli(victim, "show", "baseline").code == 0
    shown = cli(victim, "show", blob)
    assert shown.code == 1 and "no run named" in shown.err and "internal error" not in shown.err


def test_a_fast_forward_notes_commit_that_deletes_notes_hides_no_run(tmp_path):
    """Item 7: the remote's notes are lines to join, not a tree to adopt."""
    remote, victim, attacker = victim_and_attacker(tmp_path)
    run_id = flexgit.show("baseline", repo=victim).run.id
    git(attacker, "notes", "--ref=flexgit", "remove", run_id)
    push_notes(attacker)  # a descendant of the victim's notes: a fast-forward for them
    assert cli(victim, "pull").code == 0
    assert [run.name for run in flexgit.list_runs(repo=victim)] == ["baseline"]
    assert flexgit.show("baseline", repo=victim).run.metrics == {"acc": 0.9}
    assert cli(victim, "push").code == 0
    fresh = make_repo(Path(str(victim) + "-fresh"), commit=False)
    git(fresh, "remote", "add", "origin", str(remote))
    assert cli(fresh, "pull").code == 0
    assert [run.name for run in flexgit.list_runs(repo=fresh)] == ["baseline"]  # the victim's push restored it


@pytest.mark.parametrize("step", ["pull-branch", "pull-notes"])
def test_a_pull_killed_at_each_step_is_finished_by_the_next_command(tmp_path, step):
    remote, victim, other = victim_and_attacker(tmp_path)
    for name in ("t1", "t2"):
        flexgit.record(name=name, repo=other)
    assert cli(other, "push").code == 0
    flexgit.record(name="local", repo=victim)
    done = subprocess.run([sys.executable, "-m", "flexgit", "pull"], cwd=victim,
                          env={**os.environ, "FLEXGIT_CRASH_AT": step})
    assert done.returncode == -9
    if step == "pull-notes":
        assert cli(victim, "show", "t1").code == 0  # found before any name is made
    assert cli(victim, "record", "--name", "next").code == 0
    assert cli(victim, "pull").code == 0
    names = sorted(run.name for run in flexgit.list_runs(repo=victim))
    assert names == ["baseline", "local", "next", "t1", "t2"]
    for name in names:
        assert git(victim, "rev-parse", f"exp/{name}").strip() == flexgit.show(name, repo=victim).run.id
    assert git(victim, "fsck", "--strict", "--no-dangling").strip() == ""


def test_hostile_run_tags_on_a_remote_never_become_refs_here(tmp_path):
    """Item 8: format 1's tags are still read from remotes, so hostile ones must be refused one by one."""
    remote, victim, attacker = victim_and_attacker(tmp_path)
    victim_run = flexgit.show("baseline", repo=victim).run.id
    theirs = git(attacker, "rev-parse", "refs/heads/experiments").strip()
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=attacker, input="x\n", text=True,
                          capture_output=True, check=True).stdout.strip()
    for tag, target in (("exp/best/v2", theirs), ("exp/-rf", theirs), ("exp/evil\u202ename", theirs),
                        ("exp/blobby", blob), (f"exp/{victim_run}", theirs)):
        git(attacker, "update-ref", f"refs/tags/{tag}", target)
    git(attacker, "push", "-q", "origin", "refs/tags/*:refs/tags/*")
    result = cli(victim, "pull")
    assert result.code == 0 and "internal error" not in result.err
    assert "were not taken" in result.err
    names = git(victim, "for-each-ref", "--format=%(refname)", "refs/exp/", "refs/tags/").split()
    assert names == ["refs/exp/baseline"]
    assert cli(victim, "record", "--name", "best").code == 0  # no lock wedged by a best/v2 ref
    assert flexgit.show(victim_run, repo=victim).run.name == "baseline"  # a full id means that commit
