"""An object store that refuses writes (full disk, read-only .git/objects): one clear error, nothing moved."""

from __future__ import annotations

import shutil

import pytest

import flexgit
from conftest import flexgit_in_process as cli, git, repo_state


def refuse_object_writes(repo):
    """Pack every object, then put a plain file where each objects/xx folder goes: reads still work
    (from the pack), every new loose object fails to be written, as root too (chmod would not stop root)."""
    git(repo, "repack", "-a", "-d", "-q")
    git(repo, "prune-packed")
    objects = repo / ".git" / "objects"
    for fanout in (f"{i:02x}" for i in range(256)):
        shutil.rmtree(objects / fanout, ignore_errors=True)
        (objects / fanout).write_text("not a folder\n")


def restore_object_writes(repo):
    for fanout in (f"{i:02x}" for i in range(256)):
        (repo / ".git" / "objects" / fanout).unlink()


@pytest.mark.parametrize("args", [
    ["record", "--name", "new", "-m", "acc=0.9"],
    ["update", "base", "-m", "f1=0.5"],
    ["import", "old.csv"],
    ["checkout", "base", "--branch", "from-base"],
    ["checkout", "base", "--worktree", "../elsewhere"],
    ["rename", "base", "renamed"],
])
def test_a_store_that_refuses_writes_gives_one_clear_error_and_moves_nothing(repo, args):
    flexgit.record(name="base", metrics={"acc": 0.5}, repo=repo)
    (repo / "old.csv").write_text("name,acc\nold1,0.3\n")
    (repo / "train.py").write_text("print('changed')\n")  # the snapshot needs a new blob
    refuse_object_writes(repo)
    before = repo_state(repo)
    done = cli(repo, *args)
    assert done.code == 1 and done.out == "", done
    assert done.err.startswith("Error: git cannot store objects") and done.err.count("\n") == 1, done
    assert "free disk space" in done.err and "internal" not in done.err, done
    after = repo_state(repo)
    assert after["refs"] == before["refs"] and after["head"] == before["head"]
    assert not (repo.parent / "elsewhere").exists()
    restore_object_writes(repo)
    assert cli(repo, *args).code == 0  # and once git can write again, the same command works
