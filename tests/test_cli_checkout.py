"""`checkout`: the run's code comes back exactly, and uncommitted work is never lost."""

from __future__ import annotations

import flexgit
from conftest import colleague_run, flexgit as cli, flexgit_in_process, git, repo_state


def record_dirty_run(repo):
    """A run whose snapshot differs from HEAD: a modified, an untracked and a deleted file."""
    (repo / "train.py").write_text("print('lr=0.5')\n")
    (repo / "params.toml").write_text("lr = 0.5\n")
    (repo / ".gitignore").unlink()
    run = flexgit.record(name="exp1", metrics={"acc": 0.9}, repo=repo)
    git(repo, "checkout", "-q", "--", ".")
    (repo / "params.toml").unlink()
    assert git(repo, "status", "--porcelain") == ""
    return run


def test_checkout_into_a_clean_tree_restores_the_snapshot_and_keeps_head_and_index(repo):
    record_dirty_run(repo)
    head, index = git(repo, "rev-parse", "HEAD"), (repo / ".git" / "index").read_bytes()
    result = cli(repo, "checkout", "exp1")
    assert result.code == 0, result
    short_id = flexgit.show('exp1', repo=repo).run.short_id
    assert result.out == f"working tree now holds the code of run exp1 ({short_id}); " \
                         "HEAD and the index are unchanged\n"
    assert (repo / "train.py").read_text() == "print('lr=0.5')\n"
    assert (repo / "params.toml").read_text() == "lr = 0.5\n"
    assert not (repo / ".gitignore").exists()
    assert not (repo / ".flexgit").exists()
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".git" / "index").read_bytes() == index


def test_checkout_refuses_a_dirty_tree_and_changes_nothing(repo):
    record_dirty_run(repo)
    (repo / "train.py").write_text("precious work\n")
    before = repo_state(repo)
    result = cli(repo, "checkout", "exp1")
    assert result.code == 1
    assert result.err.startswith("Error: the working tree has uncommitted changes (1 paths, e.g. train.py); ")
    assert "--branch NEW or --worktree DIR" in result.err and len(result.err.splitlines()) == 1
    assert repo_state(repo) == before
    assert (repo / "train.py").read_text() == "precious work\n"


def test_untracked_files_make_the_tree_dirty_too(repo):
    record_dirty_run(repo)
    (repo / "scratch.py").write_text("keep me\n")
    assert cli(repo, "checkout", "exp1").code == 1
    assert (repo / "scratch.py").read_text() == "keep me\n"


def test_force_stashes_uncommitted_work_first(repo):
    record_dirty_run(repo)
    (repo / "train.py").write_text("precious work\n")
    (repo / "scratch.py").write_text("untracked work\n")
    result = cli(repo, "checkout", "exp1", "--force")
    assert result.code == 0, result
    assert "git stash pop" in result.out
    assert (repo / "train.py").read_text() == "print('lr=0.5')\n"
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd")
    git(repo, "stash", "pop", "-q")
    assert (repo / "train.py").read_text() == "precious work\n"
    assert (repo / "scratch.py").read_text() == "untracked work\n"


def test_checkout_to_a_new_branch_parents_the_snapshot_on_the_source_commit(repo):
    run = record_dirty_run(repo)
    before = repo_state(repo)
    result = cli(repo, "checkout", "exp1", "--branch", "redo-exp1")
    assert result.code == 0, result
    assert result.out == "branch 'redo-exp1' holds the code of run exp1; switch with: git switch redo-exp1\n"
    assert git(repo, "rev-parse", "redo-exp1^").strip() == run.meta["source"]
    assert git(repo, "show", "redo-exp1:params.toml") == "lr = 0.5\n"
    assert ".flexgit" not in git(repo, "ls-tree", "--name-only", "redo-exp1")
    after = repo_state(repo)
    assert after["index"] == before["index"] and after["status"] == before["status"]
    assert git(repo, "diff", "--name-status", "HEAD", "redo-exp1") == "D\t.gitignore\nA\tparams.toml\nM\ttrain.py\n"


def test_checkout_to_an_existing_branch_is_refused(repo):
    record_dirty_run(repo)
    result = cli(repo, "checkout", "exp1", "--branch", "main")
    assert result.code == 1 and result.err == "Error: branch 'main' already exists; pick another name for --branch\n"


def test_checkout_into_a_new_worktree(repo, tmp_path):
    record_dirty_run(repo)
    before = repo_state(repo)
    target = tmp_path / "exp1-tree"
    result = cli(repo, "checkout", "exp1", "--worktree", str(target))
    assert result.code == 0, result
    assert (target / "train.py").read_text() == "print('lr=0.5')\n"
    assert (target / "params.toml").read_text() == "lr = 0.5\n"
    assert git(target, "status", "--porcelain") == ""
    assert repo_state(repo)["status"] == before["status"]


def test_checkout_worktree_on_a_new_branch(repo, tmp_path):
    record_dirty_run(repo)
    target = tmp_path / "wt"
    assert cli(repo, "checkout", "exp1", "--worktree", str(target), "--branch", "wt-branch").code == 0
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "wt-branch"


def test_checkout_worktree_into_a_non_empty_directory_is_refused(repo, tmp_path):
    record_dirty_run(repo)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    result = cli(repo, "checkout", "exp1", "--worktree", str(tmp_path / "full"))
    assert result.code == 1 and "not an empty directory" in result.err


def test_checkout_of_an_unknown_run(repo):
    before = repo_state(repo)
    result = cli(repo, "checkout", "nope")
    assert (result.code, result.err) == (1, "Error: no run named 'nope'; list the recorded runs with 'flexgit table'\n")
    assert repo_state(repo) == before


def test_checkout_then_rerun_gives_the_same_files_as_recorded(repo):
    """Round trip: every file of the snapshot comes back byte for byte."""
    (repo / "model.py").write_bytes(bytes(range(256)))
    flexgit.record(name="bytes", repo=repo)
    (repo / "model.py").unlink()
    assert cli(repo, "checkout", "bytes").code == 0
    assert (repo / "model.py").read_bytes() == bytes(range(256))


def test_checkout_of_an_imported_run_is_refused_in_every_form(repo, tmp_path):
    (repo / "old.csv").write_text("name,lr,acc\nold1,0.1,0.8\n")
    assert cli(repo, "import", "old.csv").code == 0
    (repo / "old.csv").unlink()
    before = repo_state(repo)
    for extra in ([], ["--force"], ["--branch", "redo-old"], ["--worktree", str(tmp_path / "wt")]):
        result = flexgit_in_process(repo, "checkout", "old1", *extra)
        assert (result.code, result.out) == (1, ""), result
        assert result.err == ("Error: run 'old1' has no code snapshot (it was imported from a CSV, old.csv); "
                              "there is nothing to check out: 'flexgit show old1' lists its values\n")
        assert repo_state(repo) == before
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "train.py"]
    assert not (tmp_path / "wt").exists()


def test_checkout_elsewhere_warns_when_the_source_commit_is_not_in_this_clone(tmp_path):
    mine, source = colleague_run(tmp_path)
    hint = "fetch the branch it was recorded on ('feat', by whoever recorded the run), then check the run out again\n"
    result = flexgit_in_process(mine, "checkout", "theirs", "--branch", "redo")
    assert result.code == 0, result
    assert result.err == (f"warning: the source commit {source[:10]} of run theirs is not in this clone, "
                          f"so branch 'redo' has no parent; {hint}")
    assert git(mine, "rev-list", "--count", "redo").strip() == "1"
    result = flexgit_in_process(mine, "checkout", "theirs", "--worktree", str(tmp_path / "wt"))
    assert result.code == 0, result
    assert result.err == (f"warning: the source commit {source[:10]} of run theirs is not in this clone, "
                          f"so the worktree's commit has no parent; {hint}")
    assert (tmp_path / "wt" / "train.py").read_text() == "print('their version')\n"
    assert flexgit_in_process(mine, "checkout", "theirs", "--branch", "redo2", "--worktree",
                              str(tmp_path / "wt2")).err.startswith("warning: the source commit ")
    git(mine, "fetch", "-q", str(tmp_path / "clone1"), "feat")  # what the warning advises
    result = flexgit_in_process(mine, "checkout", "theirs", "--branch", "redo3")
    assert (result.code, result.err) == (0, ""), result
    assert git(mine, "rev-parse", "redo3^").strip() == source
