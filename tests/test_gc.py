"""`flexgit gc`: removed runs' space reclaimed for real, and pull / push across the rewritten branch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as subprocess_cli, flexgit_in_process as cli, git, make_repo, shared_clones


def names(repo: Path, *args: str) -> list[str]:
    return cli(repo, "table", "--format", "csv", "--columns", "name", *args).out.split()[1:]


def git_size(repo: Path) -> int:
    return sum(path.stat().st_size for path in (repo / ".git").rglob("*") if path.is_file())


def name_refs(repo: Path) -> dict[str, str]:
    listed = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/exp/").split()
    return dict(zip(listed[0::2], listed[1::2], strict=True))


def test_gc_drops_removed_runs_moves_the_others_and_keeps_their_names(repo):
    for name in ("a", "b", "c"):
        flexgit.record(name=name, metrics={"acc": len(name)}, repo=repo)
    flexgit.tag("c", "+best", repo=repo)
    before = name_refs(repo)
    assert cli(repo, "gc").out.startswith("no removed runs on the experiments branch; nothing to reclaim")
    assert name_refs(repo) == before
    cli(repo, "rm", "b")
    done = cli(repo, "gc")
    assert done.code == 0 and done.out.startswith("dropped 1 removed run; 2 other runs kept with new commit ids"), done
    after = name_refs(repo)
    assert sorted(after) == ["a", "c"] and after["c"] != before["c"]  # c's parent changed: its id did
    assert names(repo) == ["a", "c"] and names(repo, "--removed") == []
    assert flexgit.show("c", repo=repo).run.tags == ("best",)  # the note moved with its run, lines and all
    for name in ("a", "c"):  # same snapshot, same message
        assert git(repo, "rev-parse", f"{before[name]}^{{tree}}") == git(repo, "rev-parse", f"exp/{name}^{{tree}}")
    history = git(repo, "log", "--format=%H", "experiments").split()
    assert before["b"] not in history and git(repo, "notes", "--ref=flexgit", "list").count("\n") == 2
    assert subprocess_cli(repo, "fsck").code == 0


@pytest.mark.slow
def test_gc_and_git_gc_reclaim_the_space_of_removed_runs(repo):
    git(repo, "gc", "-q")
    empty = git_size(repo)
    big = repo / "weights.bin"  # untracked: each run's snapshot holds its own 1 MB of random bytes
    for i in range(100):
        big.write_bytes(os.urandom(1 << 20))
        flexgit.record(name=f"r{i}", metrics={"i": i}, repo=repo)
    git(repo, "gc", "-q")
    full = git_size(repo)
    flexgit.rm([f"r{i}" for i in range(10, 100)], repo=repo)
    assert flexgit.gc(repo=repo).removed
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    collected = git_size(repo)
    added_by_removed = (full - empty) * 90 / 100
    assert full - empty > 100 << 20 and full - collected >= 0.8 * added_by_removed, (empty, full, collected)
    assert names(repo) == [f"r{i}" for i in range(10)]


def test_pull_and_push_across_a_gc_keep_runs_recorded_elsewhere(tmp_path):
    remote, (a, b) = shared_clones(tmp_path)
    for i in range(1, 6):
        flexgit.record(name=f"r{i}", metrics={"i": i}, repo=a)
    assert subprocess_cli(a, "push").code == 0
    assert subprocess_cli(b, "pull").code == 0
    flexgit.record(name="b1", metrics={"i": 0}, repo=b)
    assert cli(a, "rm", "r2", "r3").code == 0
    assert cli(a, "gc").code == 0
    pushed = subprocess_cli(a, "push")
    assert pushed.code == 0 and "replaced by our 'flexgit gc' rewrite" in pushed.out, pushed
    assert git(a, "rev-parse", "refs/flexgit/remotes/origin/heads/experiments") == git(a, "rev-parse", "experiments")
    pulled = subprocess_cli(b, "pull")
    assert pulled.code == 0 and pulled.out.startswith("pulled from origin: 0 new runs\n"), pulled
    assert "2 removed runs went here too" in pulled.out, pulled
    assert names(b) == ["r1", "r4", "r5", "b1"] and names(b, "--removed") == []
    assert git(b, "rev-parse", "exp/r1") == git(a, "rev-parse", "exp/r1")  # the same rewritten run
    assert subprocess_cli(b, "push").code == 0
    c = tmp_path / "c"
    git(tmp_path, "clone", "-q", str(remote), str(c))
    assert subprocess_cli(c, "pull").code == 0
    assert names(c) == ["r1", "r4", "r5", "b1"]
    assert subprocess_cli(a, "pull").code == 0 and names(a) == ["r1", "r4", "r5", "b1"]
    assert subprocess_cli(c, "fsck").code == 0


def test_a_push_of_old_runs_after_a_gc_is_joined_onto_the_rewrite(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    for i in range(1, 4):
        flexgit.record(name=f"r{i}", metrics={"i": i}, repo=a)
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    flexgit.record(name="b1", metrics={"i": 0}, repo=b)
    assert subprocess_cli(b, "push").code == 0  # onto the old history, before A's gc reaches the remote
    cli(a, "rm", "r2")
    cli(a, "gc")
    pushed = subprocess_cli(a, "push")  # the lease fails, the pull replays b1 onto the rewrite
    assert pushed.code == 0 and "replaced by our 'flexgit gc' rewrite" in pushed.out, pushed
    pulled = subprocess_cli(a, "pull")
    assert pulled.out.startswith("pulled from origin: 0 new runs"), pulled
    assert names(a) == ["r1", "r3", "b1"]
    assert subprocess_cli(b, "sync").code == 0 and names(b) == ["r1", "r3", "b1"]


def test_gc_flattens_merge_commits(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    flexgit.record(name="a1", metrics={"i": 1}, repo=a)
    flexgit.record(name="b1", metrics={"i": 2}, repo=b)
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    flexgit.record(name="b2", metrics={"i": 3}, repo=b)
    assert git(b, "log", "--merges", "--format=%H", "experiments").strip()  # the pull joined with a merge
    cli(b, "rm", "b1")
    assert cli(b, "gc").code == 0
    assert git(b, "log", "--merges", "--format=%H", "experiments").strip() == ""
    assert sorted(names(b)) == ["a1", "b2"]
    assert all(git(b, "merge-base", "--is-ancestor", f"exp/{name}", "experiments") == "" for name in ("a1", "b2"))


def test_a_run_brought_back_elsewhere_survives_the_gc(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    flexgit.record(name="r1", metrics={"i": 1}, repo=a)
    flexgit.record(name="r2", metrics={"i": 2}, repo=a)
    cli(a, "rm", "r2")
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    cli(b, "rm", "--undo", "r2")  # newer than A's tombstone
    cli(a, "gc")
    assert subprocess_cli(a, "push").code == 0
    assert subprocess_cli(b, "pull").code == 0
    assert names(b) == ["r1", "r2"]


def test_gc_in_a_repository_without_runs_changes_nothing(tmp_path):
    repo = make_repo(tmp_path / "p")
    done = cli(repo, "gc")
    assert done.code == 0 and "nothing to reclaim" in done.out


@pytest.mark.parametrize("step, landed", [("rewrite-journal", False), ("rewrite-notes", True)])
def test_a_gc_killed_midway_is_all_or_nothing(repo, step, landed):
    for name in ("a", "b", "c"):
        flexgit.record(name=name, metrics={"acc": len(name)}, repo=repo)
    cli(repo, "rm", "b")
    before = name_refs(repo)
    killed = subprocess_cli(repo, "gc", env={"FLEXGIT_CRASH_AT": step})
    assert killed.code != 0 and name_refs(repo) == before  # killed before the names moved
    flexgit.record(name="d", metrics={"acc": 4}, repo=repo)  # the next write finishes (or drops) the gc
    after = name_refs(repo)
    assert ("b" not in after) == landed and (after["c"] != before["c"]) == landed
    assert names(repo) == ["a", "c", "d"]
    history = git(repo, "log", "--format=%H", "experiments").split()
    assert all(after[name] in history for name in after) and subprocess_cli(repo, "fsck").code == 0
    assert not (repo / ".git" / "flexgit.d" / "rewrite.json").exists()


def test_a_clone_that_pulled_an_older_state_keeps_its_runs_across_a_gc(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    flexgit.record(name="r1", metrics={"i": 1}, repo=a)
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    flexgit.record(name="b1", metrics={"i": 0}, repo=b)  # B saw r1 only
    for name in ("r2", "r3"):
        flexgit.record(name=name, metrics={"i": 2}, repo=a)
    cli(a, "rm", "r1", "r2")
    cli(a, "gc")
    assert subprocess_cli(a, "push").code == 0
    assert subprocess_cli(b, "pull").code == 0
    assert sorted(names(b)) == ["b1", "r3"] and names(b, "--removed") == []
    assert git(b, "log", "--merges", "--format=%H", "experiments").strip() == ""


def test_a_branch_that_shares_no_run_with_a_gc_is_joined_as_usual(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    for name in ("r1", "r2"):
        flexgit.record(name=name, metrics={"i": 1}, repo=a)
    cli(a, "rm", "r1")
    cli(a, "gc")
    assert subprocess_cli(a, "push").code == 0
    flexgit.record(name="b1", metrics={"i": 0}, repo=b)  # its own root: nothing of A's
    assert subprocess_cli(b, "pull").code == 0
    assert sorted(names(b)) == ["b1", "r2"]
