"""Format 1 -> 2: a repository and a remote written by format 1's own code, migrated; a clone still
on format 1 keeps pushing its layout and nothing it records is missed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli, git, make_repo, repo_state

ROOT = Path(__file__).resolve().parent.parent
FORMAT_1 = "5e48d08"  # the last commit whose code writes format 1


@pytest.fixture(scope="module")
def old_code(tmp_path_factory) -> Path:
    """flexgit as format 1 wrote it, from this repository's history."""
    where = tmp_path_factory.mktemp("format1")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", FORMAT_1, "flexgit"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"format 1's code ({FORMAT_1}) needs this repository's git history: {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return where


def old_cli(old_code: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(old_code)}
    done = subprocess.run([sys.executable, "-m", "flexgit", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done


def refs(path: Path) -> list[str]:
    return git(path, "for-each-ref", "--format=%(refname)").split()


def with_remote(tmp_path: Path, *names: str) -> tuple[Path, list[Path]]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    clones = []
    for name in names:
        clone = make_repo(tmp_path / name)
        git(clone, "remote", "add", "origin", str(remote))
        clones.append(clone)
    return remote, clones


def names(repo: Path) -> list[str]:
    return sorted(run.name for run in flexgit.list_runs(repo=repo))


def test_a_format_1_repository_and_remote_are_migrated(tmp_path, old_code):
    remote, (a,) = with_remote(tmp_path, "a")
    for name in ("r1", "r2"):
        old_cli(old_code, a, "record", "--name", name, "-m", "acc=0.5")
    old_cli(old_code, a, "push")
    assert {"refs/heads/experiments", "refs/tags/exp/r1", "refs/tags/exp/r2"} <= set(refs(remote))
    before = refs(a)
    assert cli(a, "table", "--format", "csv", "--columns", "name").out == "name\nr1\nr2\n"  # read as it is
    assert refs(a) == before  # reading migrates nothing

    result = cli(a, "migrate", "origin")
    assert result.code == 0, result
    assert result.out == ("moved 2 run names to refs/exp/\n"
                          "origin: pulled 0 new runs, pushed in format 2, removed 3 format 1 refs\n")
    assert [r for r in refs(a) if "exp/" in r and "remotes" not in r] == ["refs/exp/r1", "refs/exp/r2"]
    assert set(refs(remote)) == {"refs/flexgit/heads/experiments", "refs/notes/flexgit"}
    assert git(a, "config", "flexgit.format").strip() == "2"
    again = cli(a, "migrate", "origin")
    assert again.out == "moved 0 run names to refs/exp/\norigin: pulled 0 new runs, pushed in format 2, " \
                        "removed 0 format 1 refs\n"
    assert set(refs(remote)) == {"refs/flexgit/heads/experiments", "refs/notes/flexgit"}

    plain = tmp_path / "plain"
    git(tmp_path, "clone", "-q", str(remote), str(plain))
    assert git(plain, "tag").strip() == "" and "experiments" not in git(plain, "branch", "-a")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    assert cli(fresh, "pull").out == "pulled from origin: 2 new runs\n"
    assert names(fresh) == ["r1", "r2"]
    assert git(fresh, "show", "-s", "--format=%s", "exp/r1").strip() == "run r1"  # plain git finds a run by name
    for repo in (a, remote, fresh):
        assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_recording_in_a_format_1_repository_migrates_it(tmp_path, old_code):
    repo = make_repo(tmp_path / "p")
    old_cli(old_code, repo, "record", "--name", "old")
    assert "refs/tags/exp/old" in refs(repo)
    flexgit.record(name="new", repo=repo)
    assert [r for r in refs(repo) if "exp/" in r] == ["refs/exp/new", "refs/exp/old"]
    assert flexgit.show("old", repo=repo).run.name == "old"


def test_a_clone_still_on_format_1_keeps_pushing_and_nothing_is_missed(tmp_path, old_code):
    remote, (new, old) = with_remote(tmp_path, "new", "old")
    old_cli(old_code, old, "record", "--name", "b1")
    old_cli(old_code, old, "push")
    pulled = cli(new, "pull")
    assert pulled.out == "pulled from origin: 1 new run\n"
    assert pulled.err == ("note: origin still holds runs in the older format, which every clone fetches; "
                          "'flexgit migrate origin' moves them\n")
    flexgit.record(name="a1", repo=new)
    assert cli(new, "push").code == 0
    old_cli(old_code, old, "record", "--name", "b2")
    old_cli(old_code, old, "push")  # format 1's layout, beside format 2's on the same remote
    assert cli(new, "pull").out == "pulled from origin: 1 new run, joined with a merge commit\n"
    assert names(new) == ["a1", "b1", "b2"]
    assert cli(new, "push").code == 0
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    cli(fresh, "pull")
    assert names(fresh) == ["a1", "b1", "b2"]


def test_an_interrupted_migration_is_finished_by_the_next(tmp_path, old_code):
    remote, (a,) = with_remote(tmp_path, "a")
    old_cli(old_code, a, "record", "--name", "r1")
    old_cli(old_code, a, "record", "--name", "r2")
    old_cli(old_code, a, "push")
    # As if killed halfway: one new name in place, its old tag not yet removed; the remote not touched.
    git(a, "update-ref", "refs/exp/r1", "refs/tags/exp/r1")
    assert cli(a, "migrate", "origin").code == 0
    assert [r for r in refs(a) if "exp/" in r and "remotes" not in r] == ["refs/exp/r1", "refs/exp/r2"]
    # A remote whose format 2 refs landed but whose format 1 refs were not all removed yet.
    git(a, "push", "-q", str(remote), "refs/exp/r1:refs/tags/exp/r1")
    result = cli(a, "migrate", "origin")
    assert result.out.endswith("removed 1 format 1 refs\n")
    assert not [r for r in refs(remote) if r.startswith("refs/tags/")]


def test_an_ordinary_branch_named_experiments_on_the_remote_is_left_alone(tmp_path):
    remote, (a, b) = with_remote(tmp_path, "a", "b")
    git(a, "push", "-q", "origin", "main:experiments")  # somebody's own branch, not runs
    flexgit.record(name="r1", repo=a)
    pushed = cli(a, "push")
    assert pushed.code == 0 and pushed.err == "", pushed
    pulled = cli(b, "pull")
    assert pulled.code == 0 and pulled.out == "pulled from origin: 1 new run\n" and pulled.err == "", pulled
    assert names(b) == ["r1"]
    flexgit.record(name="r2", repo=b)  # the clone stays usable
    assert git(remote, "rev-parse", "refs/heads/experiments") == git(a, "rev-parse", "main")


def test_a_foreign_branch_where_format_2_keeps_runs_is_refused(tmp_path):
    remote, (a, b) = with_remote(tmp_path, "a", "b")
    git(a, "push", "-q", "origin", "main:refs/flexgit/heads/experiments")
    before = refs(b)
    result = cli(b, "pull")
    assert result.code == 1 and "is not a flexgit experiments branch; nothing was joined" in result.err
    assert [r for r in refs(b) if "remotes/origin/" not in r] == [r for r in before if "remotes/origin/" not in r]
    assert cli(b, "record", "--name", "still-fine").code == 0


@pytest.mark.parametrize("command", [["record", "-m", "acc=1"], ["migrate"]])
def test_a_repository_of_a_newer_format_is_refused_and_left_alone(tmp_path, command):
    repo = make_repo(tmp_path / "repo")
    assert cli(repo, "record", "--name", "old", "-m", "acc=0.5").code == 0
    git(repo, "config", "flexgit.format", "3")  # as a later flexgit would leave it
    git(repo, "update-ref", "refs/tags/exp/legacy", "exp/old")  # what format 2 would take for format 1's name
    before = repo_state(repo)
    result = cli(repo, *command)
    assert result.code == 1 and result.err.startswith("Error: ") and "storage format 3" in result.err
    assert "upgrade flexgit" in result.err and len(result.err.splitlines()) == 1
    assert repo_state(repo) == before and git(repo, "config", "flexgit.format").strip() == "3"
