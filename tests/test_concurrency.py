"""Commit, note and tag land together; parallel writers all land; interrupted writes are completed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import flexgit
from flexgit.storage.gitrepo import GitRepo
from flexgit.storage.refs import NOTES_REF
from flexgit.storage.store import Store
from conftest import git

RECORD_SCRIPT = """
import sys, flexgit
flexgit.record(name=sys.argv[1], params={"worker": int(sys.argv[2])}, metrics={"acc": 0.5}, repo=sys.argv[3])
"""


@pytest.mark.slow
def test_eight_parallel_processes_all_land(repo):
    (repo / "train.py").write_text("print('dirty snapshot')\n")
    procs = [subprocess.Popen([sys.executable, "-c", RECORD_SCRIPT, f"p{i}", str(i), str(repo)],
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    runs = flexgit.list_runs(repo=repo)
    assert sorted(r.name for r in runs) == [f"p{i}" for i in range(8)]
    assert sorted(r.params["worker"] for r in runs) == list(range(8))
    # One linear chain: every run commit is on the branch, each tag points at its commit.
    chain = git(repo, "rev-list", "--first-parent", "experiments").split()
    assert len(chain) == 9
    for run in runs:
        assert git(repo, "rev-parse", f"exp/{run.name}").strip() == run.id
        assert run.id in chain
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_note_tag_and_commit_point_at_the_same_run(repo):
    run = flexgit.record(name="one", repo=repo)
    assert git(repo, "rev-parse", "experiments").strip() == run.id
    assert git(repo, "rev-parse", "exp/one").strip() == run.id
    assert git(repo, "notes", "--ref=flexgit", "list", run.id).strip()


def killed_at(repo, step, name, **env):
    """Record run `name` in a process killed at write step `step` (the store's crash points)."""
    script = f"import flexgit; flexgit.record(name={name!r}, metrics={{'acc': 0.7}}, repo={str(repo)!r})"
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "FLEXGIT_CRASH_AT": step, **env},
                          capture_output=True, text=True)
    assert done.returncode == -9, done.stderr  # SIGKILL, at that step


def interrupt_after_notes(repo, name):
    """The state a process killed right after moving the notes ref leaves behind; returns the run's id."""
    flexgit.record(name="before", repo=repo)
    branch_before = git(repo, "rev-parse", "experiments").strip()
    killed_at(repo, "notes", name)
    assert git(repo, "rev-parse", "experiments").strip() == branch_before
    assert git(repo, "rev-parse", "--verify", "-q", f"refs/exp/{name}", check=False) == ""
    return json.loads((repo / ".git" / "flexgit.d" / "write.json").read_text())["tip"]  # the journal's run


def test_a_write_interrupted_after_the_note_is_completed_by_the_next_writer(repo):
    run_id = interrupt_after_notes(repo, "cut")
    # The run is already recorded: the table is built from the notes, and it can be shown.
    assert "cut" in [r.name for r in flexgit.list_runs(repo=repo)]
    assert flexgit.show("cut", repo=repo).run.id == run_id
    later = flexgit.record(name="later", repo=repo)
    assert git(repo, "rev-parse", "exp/cut").strip() == run_id
    assert git(repo, "rev-parse", "experiments~1").strip() == run_id
    assert git(repo, "rev-parse", "experiments").strip() == later.id
    assert [r.name for r in flexgit.list_runs(repo=repo)] == ["before", "cut", "later"]
    assert not (repo / ".git" / "flexgit.d" / "write.json").exists()


@pytest.mark.parametrize("step", ["journal", "notes", "branch"])
def test_a_write_killed_at_each_step_is_all_or_nothing(repo, step):
    flexgit.record(name="before", repo=repo)
    killed_at(repo, step, "cut")
    landed = step != "journal"  # the notes ref is the commit point
    assert ("cut" in [r.name for r in flexgit.list_runs(repo=repo)]) == landed
    flexgit.record(name="after", repo=repo)
    expected = ["before", "cut", "after"] if landed else ["before", "after"]
    assert [r.name for r in flexgit.list_runs(repo=repo)] == expected
    chain = git(repo, "rev-list", "--first-parent", "experiments").split()
    for run in flexgit.list_runs(repo=repo):
        assert git(repo, "rev-parse", f"exp/{run.name}").strip() == run.id and run.id in chain
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_stale_ref_lock_from_a_killed_process_is_cleared(repo):
    flexgit.record(name="first", repo=repo)
    lock = repo / ".git" / "refs" / "notes" / "flexgit.lock"
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))
    flexgit.record(name="second", repo=repo)
    assert not lock.exists()
    assert [r.name for r in flexgit.list_runs(repo=repo)] == ["first", "second"]


LOOP_SCRIPT = """
import sys, flexgit
for i in range(1000):
    flexgit.record(params={"i": i}, metrics={"acc": 0.5}, repo=sys.argv[1])
"""


@pytest.mark.slow
def test_killed_recorders_never_leave_a_broken_repository(repo):
    """SIGKILL recording loops at varied moments; afterwards every run is whole and fsck is clean."""
    for delay in (0.45, 0.6, 0.75, 0.9, 1.05):
        proc = subprocess.Popen([sys.executable, "-c", LOOP_SCRIPT, str(repo)])
        time.sleep(delay)
        proc.kill()
        proc.wait()
    survivor = flexgit.record(name="survivor", repo=repo)
    runs = flexgit.list_runs(repo=repo)
    assert runs[-1].name == "survivor" and len(runs) > 5
    chain = set(git(repo, "rev-list", "--first-parent", "experiments").split())
    for run in runs:
        assert git(repo, "rev-parse", f"exp/{run.name}").strip() == run.id
        assert run.id in chain
    assert git(repo, "rev-parse", "experiments").strip() == survivor.id
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_batch_write_is_one_notes_commit(repo):
    store = Store(GitRepo.open(repo))
    before = git(repo, "rev-list", "--count", NOTES_REF, check=False).strip() or "0"
    flexgit.import_csv(write_csv(repo, 5), repo=repo)
    after = git(repo, "rev-list", "--count", NOTES_REF).strip()
    assert int(after) == int(before) + 1
    assert len(store.runs()) == 5


def write_csv(repo, rows):
    path = repo / "old.csv"
    path.write_text("name,lr,val_acc\n" + "".join(f"old{i},0.{i + 1},0.{i + 5}\n" for i in range(rows)))
    return path


GC_WORKER = """
import sys, traceback, flexgit
from flexgit.errors import FlexgitError
worker, count, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for k in range(count):
    try:
        flexgit.record(name=f"{worker}-{k}", metrics={"acc": k}, repo=repo)
        print("landed", flush=True)
    except FlexgitError as exc:
        print("clear", str(exc).replace("\\n", " "), flush=True)
    except Exception:
        print("internal", traceback.format_exc().replace("\\n", " | "), flush=True)
"""


@pytest.mark.slow
def test_writers_beside_git_gc_and_pack_refs_land_or_fail_clearly(repo):
    """Writes while git packs refs and objects: each lands, or fails with one clear error, never an internal one."""
    git(repo, "config", "gc.auto", "1")  # `gc --auto` really runs, every time
    git(repo, "config", "gc.autoPackLimit", "1")
    flexgit.init(repo=repo)
    workers = [subprocess.Popen([sys.executable, "-c", GC_WORKER, f"w{i}", "25", str(repo)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(8)]
    deadline, housekeeping = time.monotonic() + 60, 0
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        for args in (["pack-refs", "--all"], ["gc", "--auto", "--quiet"], ["repack", "-d", "-q"], ["prune-packed"]):
            subprocess.run(["git", *args], cwd=repo, capture_output=True)
            housekeeping += 1
    outcomes = [line for w in workers for line in w.communicate(timeout=120)[0].splitlines()]
    assert housekeeping > 3 and len(outcomes) == 200, outcomes
    assert not [line for line in outcomes if not line.startswith(("landed", "clear"))], outcomes
    landed = sorted(run.name for run in flexgit.list_runs(repo=repo))
    assert len(landed) == sum(line == "landed" for line in outcomes)
    assert git(repo, "fsck", "--no-dangling").strip() == ""
