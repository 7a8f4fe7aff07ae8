"""`flexgit fsck [--repair]` on broken states built with plain git."""

from __future__ import annotations

import os
import time

import flexgit
from conftest import flexgit as real_cli, flexgit_in_process as cli, git


def two_runs(repo):
    first = flexgit.record(name="r1", metrics={"acc": 0.1}, repo=repo)
    second = flexgit.record(name="r2", metrics={"acc": 0.2}, repo=repo)
    return first.id, second.id


def check(repo, *args):
    done = cli(repo, "fsck", *args)
    assert "internal" not in done.err, done
    return done


def names(repo):
    return sorted(run.name for run in flexgit.list_runs(repo=repo))


def test_a_clean_repository_exits_zero(repo):
    two_runs(repo)
    done = check(repo)
    assert done.code == 0 and done.out == "no problems found\n", done


def test_skipped_note_lines_are_listed_and_never_deleted(repo):
    first, _ = two_runs(repo)
    git(repo, "notes", "--ref=flexgit", "append", "-m", '{"v": 99, "name": "x"}', first)
    note = git(repo, "notes", "--ref=flexgit", "show", first)
    done = check(repo, "--repair")
    assert done.code == 1 and f"problem: note line skipped: {first}: " in done.out, done
    assert "1 problem left, 0 repaired" in done.out
    assert git(repo, "notes", "--ref=flexgit", "show", first) == note


def test_a_missing_name_is_created_and_a_clashing_one_left(repo):
    first, second = two_runs(repo)
    git(repo, "update-ref", "-d", "refs/exp/r1")
    git(repo, "update-ref", "refs/exp/r2", first)  # the name r2 now means r1's commit
    done = check(repo)
    assert done.code == 1, done
    assert f"problem: run 'r1' ({first[:10]}) has no name ref (refs/exp/r1)" in done.out
    assert f"problem: run {second[:10]} is noted as 'r2', but that name means run {first[:10]}" in done.out
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/exp/").split() == ["refs/exp/r2"]  # read only
    repaired = check(repo, "--repair")
    assert repaired.code == 1 and f"repaired: run 'r1' ({first[:10]}) has no name ref" in repaired.out, repaired
    assert git(repo, "rev-parse", "refs/exp/r1").strip() == first
    assert git(repo, "rev-parse", "refs/exp/r2").strip() == first  # a clash is the user's to settle


def test_an_orphaned_run_commit_is_joined_with_a_merge(repo):
    first, second = two_runs(repo)
    git(repo, "update-ref", "refs/heads/experiments", first)  # the branch lost r2
    done = check(repo)
    assert done.code == 1 and f"problem: run 'r2' ({second[:10]}) is not on its branch 'experiments'" in done.out
    assert check(repo, "--repair").code == 0
    tip = git(repo, "rev-parse", "experiments").strip()
    assert git(repo, "rev-list", "--parents", "-n", "1", "experiments").split() == [tip, first, second]
    assert git(repo, "merge-base", "--is-ancestor", second, "experiments", check=False) == ""
    assert check(repo).code == 0 and names(repo) == ["r1", "r2"]


def test_an_interrupted_write_is_reported_and_finished(repo):
    flexgit.record(name="r1", repo=repo)
    killed = real_cli(repo, "record", "--name", "cut", "-m", "acc=1", env={"FLEXGIT_CRASH_AT": "notes"})
    assert killed.code != 0 and (repo / ".git" / "flexgit.d" / "write.json").exists()
    done = check(repo)
    assert done.code == 1 and "problem: an interrupted write left its journal" in done.out, done
    assert "has no name ref (refs/exp/cut)" in done.out and "is not on its branch" in done.out
    repaired = check(repo, "--repair")
    assert repaired.code == 0 and "problem:" not in repaired.out, repaired
    assert not (repo / ".git" / "flexgit.d" / "write.json").exists()
    assert check(repo).code == 0 and names(repo) == ["cut", "r1"]
    assert git(repo, "merge-base", "--is-ancestor", "exp/cut", "experiments", check=False) == ""


def test_stale_locks_and_corrupt_caches_are_removed(repo):
    two_runs(repo)
    assert cli(repo, "table").code == 0  # writes the run cache and a table cache
    state = repo / ".git" / "flexgit.d"
    caches = [*state.glob("runs-v*"), *(state / "tables").glob("*")]
    assert len(caches) == 2
    for cache in caches:
        data = bytearray(cache.read_bytes())
        data[-2] ^= 0x01
        cache.write_bytes(bytes(data))
    locks = [repo / ".git" / "refs" / "exp" / "r1.lock", repo / ".git" / "packed-refs.lock"]
    fresh = repo / ".git" / "refs" / "exp" / "r2.lock"
    for lock in locks + [fresh]:
        lock.write_text("")
    for lock in locks:
        os.utime(lock, (time.time() - 60, time.time() - 60))
    done = check(repo)
    assert done.code == 1 and done.out.count("problem: corrupt cache") == 2, done
    assert "stale lock file .git/refs/exp/r1.lock" in done.out and ".git/packed-refs.lock" in done.out
    assert "r2.lock" not in done.out  # a lock a live git process may hold: left alone
    assert all(path.exists() for path in caches + locks)
    repaired = check(repo, "--repair")
    assert repaired.code == 0 and repaired.out.count("repaired: ") == 4, repaired
    assert not any(path.exists() for path in caches + locks) and fresh.exists()
    fresh.unlink()
    assert cli(repo, "table", "--format", "csv", "--columns", "name").out == "name\nr1\nr2\n"
