"""`checkout`: the run's code comes back exactly, and uncommitted work is never lost."""

from __future__ import annotations

import os
import re
import shlex
import shutil

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
                         "HEAD and the index are unchanged\n'flexgit checkout --back' undoes this checkout\n"
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


def files_of(repo):
    """Every file of the working tree but .git, path -> bytes (links: their target)."""
    found = {}
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        if path.is_symlink():
            found[relative] = ("link", os.readlink(path))
        elif path.is_file():
            found[relative] = path.read_bytes()
        else:
            found[relative] = "folder"
    return found


def work_state(repo):
    """The files, what git says of them (staged and not) and the stash list."""
    return {"files": files_of(repo), "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all",
                                                   "--ignored"),
            "staged": git(repo, "diff", "--cached"), "stash": git(repo, "stash", "list"),
            "head": git(repo, "rev-parse", "HEAD")}


def run_printed_command(repo, out):
    """Run the flexgit command the output tells the user to run, exactly as printed."""
    command = shlex.split(re.search(r"'(flexgit [^']*)'", out).group(1))
    return cli(repo, *command[1:])


def test_force_then_the_printed_way_back_gives_back_every_edit_and_untracked_file(repo):
    record_dirty_run(repo)
    before_run = set(files_of(repo))
    (repo / "train.py").write_text("precious work\n")                 # tracked, edited
    (repo / ".gitignore").write_text("*.log\ndata/\n*.tmp\n")
    git(repo, "add", ".gitignore")                                     # tracked, edited and staged
    (repo / "scratch.py").write_bytes(b"untracked\x00work\n")         # untracked
    (repo / "notes").mkdir()
    (repo / "notes" / "idea.md").write_text("untracked folder\n")     # untracked, in a new folder
    (repo / "params.toml").write_text("lr = 0.01  # mine, not the run's\n")  # untracked, the run has one too
    (repo / "train.log").write_text("ignored\n")                      # ignored: never touched
    before = work_state(repo)
    result = cli(repo, "checkout", "exp1", "--force")
    assert result.code == 0, result
    stash = git(repo, "rev-parse", "stash@{0}").strip()
    assert result.out.endswith(f"your uncommitted work is in the stash ({stash[:10]}); "
                               "'flexgit checkout --back' brings it back and undoes this checkout\n")
    assert (repo / "train.py").read_text() == "print('lr=0.5')\n"
    assert (repo / "params.toml").read_text() == "lr = 0.5\n"
    assert not (repo / "scratch.py").exists() and not (repo / ".gitignore").exists()
    back = run_printed_command(repo, result.out)
    assert back.code == 0, back
    assert back.out == "working tree back as it was before run exp1 was checked out; " \
                       "your uncommitted work is back from the stash\n"
    assert work_state(repo) == before
    assert set(files_of(repo)) - before_run == {"scratch.py", "notes", "notes/idea.md", "params.toml", "train.log"}


def test_the_way_back_removes_the_files_and_folders_the_run_brought_in(repo):
    (repo / "conf" / "deep").mkdir(parents=True)
    (repo / "conf" / "deep" / "x.toml").write_text("x = 1\n")
    flexgit.record(name="deep", repo=repo)
    shutil.rmtree(repo / "conf")
    before = work_state(repo)
    result = cli(repo, "checkout", "deep")
    assert result.code == 0, result
    assert result.out.endswith("\n'flexgit checkout --back' undoes this checkout\n")
    assert (repo / "conf" / "deep" / "x.toml").exists()
    back = run_printed_command(repo, result.out)
    assert (back.code, back.out) == (0, "working tree back as it was before run deep was checked out\n"), back
    assert work_state(repo) == before


def test_the_way_back_refuses_to_lose_a_change_made_since(repo):
    record_dirty_run(repo)
    (repo / "train.py").write_text("precious work\n")
    assert cli(repo, "checkout", "exp1", "--force").code == 0
    stash = git(repo, "rev-parse", "stash@{0}").strip()
    (repo / "params.toml").write_text("lr = 0.7  # tried after the checkout\n")
    before = repo_state(repo)
    result = flexgit_in_process(repo, "checkout", "--back")
    assert (result.code, result.out) == (1, "")
    assert result.err == ("Error: params.toml changed since run exp1 was checked out (1 paths); --back would lose "
                          "that: keep it elsewhere or undo it, then run --back again; your earlier work is safe in "
                          f"the stash ({stash[:10]})\n")
    assert repo_state(repo) == before
    (repo / "params.toml").write_text("lr = 0.5\n")
    assert flexgit_in_process(repo, "checkout", "--back").code == 0
    assert (repo / "train.py").read_text() == "precious work\n" and not (repo / "params.toml").exists()
    assert git(repo, "stash", "list") == ""


def test_the_way_back_refuses_when_head_moved_or_a_file_is_where_stashed_work_goes(repo):
    record_dirty_run(repo)
    (repo / "scratch.py").write_text("untracked work\n")
    assert flexgit_in_process(repo, "checkout", "exp1", "--force").code == 0
    stash = git(repo, "rev-parse", "stash@{0}").strip()
    (repo / "scratch.py").write_text("made after the checkout\n")
    result = flexgit_in_process(repo, "checkout", "--back")
    assert (result.code, result.err) == (1, "Error: scratch.py is where one of your stashed untracked files goes "
                                            f"back; move it away, then run --back again; your earlier work is safe "
                                            f"in the stash ({stash[:10]})\n")
    (repo / "scratch.py").unlink()
    git(repo, "commit", "-q", "--allow-empty", "-m", "moved on")
    before = repo_state(repo)
    result = flexgit_in_process(repo, "checkout", "--back")
    assert result.code == 1 and result.err.startswith("Error: HEAD or the index changed since run exp1 was checked")
    assert repo_state(repo) == before


def test_the_way_back_with_nothing_to_undo_or_with_a_name(repo):
    result = flexgit_in_process(repo, "checkout", "--back")
    assert result.code == 1
    assert result.err == "Error: nothing to undo: no 'flexgit checkout NAME' wrote into this working tree " \
                         "since the last --back\n"
    flexgit.record(name="r", repo=repo)
    assert flexgit_in_process(repo, "checkout", "r", "--back").code == 2
    assert flexgit_in_process(repo, "checkout").code == 2
    assert flexgit_in_process(repo, "checkout", "r").code == 0
    assert flexgit_in_process(repo, "checkout", "--back").code == 0
    assert flexgit_in_process(repo, "checkout", "--back").code == 1  # undone already


def test_checkout_refuses_to_overwrite_an_ignored_file(repo):
    (repo / "cache.tmp").write_text("from the run\n")
    flexgit.record(name="tmp", repo=repo)
    (repo / ".gitignore").write_text("*.log\ndata/\n*.tmp\n")
    git(repo, "commit", "-qam", "ignore tmp")
    (repo / "cache.tmp").write_text("mine, ignored\n")
    before = repo_state(repo)
    for extra in ([], ["--force"]):
        result = flexgit_in_process(repo, "checkout", "tmp", *extra)
        assert result.code == 1
        assert result.err == ("Error: the run's files would overwrite 1 files git ignores here (e.g. cache.tmp); "
                              "move them away, or use --branch NEW or --worktree DIR to get the run elsewhere\n")
        assert repo_state(repo) == before
    assert (repo / "cache.tmp").read_text() == "mine, ignored\n"


def run_with_data_then_a_link(repo, outside):
    """Run 'r1' has data/train.csv; since, `data` became an ignored link to a folder outside the tree."""
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("the run's data\n")
    (repo / ".gitignore").write_text("*.log\n")
    flexgit.record(name="r1", repo=repo)
    shutil.rmtree(repo / "data")
    (repo / ".gitignore").write_text("*.log\n/data\n")
    git(repo, "commit", "-qam", "data is a link now")
    outside.mkdir()
    (repo / "data").symlink_to(outside)


def test_checkout_never_writes_through_a_symbolic_link(repo, tmp_path):
    outside = tmp_path / "datasets-v2"
    run_with_data_then_a_link(repo, outside)
    for there in ({}, {"train.csv": "v2, precious\n"}):
        for name, text in there.items():
            (outside / name).write_text(text)
        before = repo_state(repo)
        for extra in ([], ["--force"]):
            result = flexgit_in_process(repo, "checkout", "r1", *extra)
            assert (result.code, result.out) == (1, "")
            assert result.err == (f"Error: data is a symbolic link (to {outside}) and checking out run r1 would "
                                  "write data/train.csv through it; remove or rename the link, or use --branch NEW "
                                  "or --worktree DIR to get the run elsewhere\n")
            assert repo_state(repo) == before
            assert {p.name: p.read_text() for p in outside.iterdir()} == there
    (repo / "data").unlink()  # as the error says: the run then brings a real folder
    assert flexgit_in_process(repo, "checkout", "r1").code == 0
    assert (repo / "data" / "train.csv").read_text() == "the run's data\n" and not (repo / "data").is_symlink()


def test_the_way_back_never_removes_through_a_link_made_since(repo, tmp_path):
    outside = tmp_path / "datasets-v2"
    run_with_data_then_a_link(repo, outside)
    (repo / "data").unlink()
    assert flexgit_in_process(repo, "checkout", "r1").code == 0
    shutil.rmtree(repo / "data")
    outside.rmdir()
    outside.mkdir()
    (outside / "train.csv").write_text("the run's data\n")  # the same bytes: nothing "changed since"
    (repo / "data").symlink_to(outside)
    before = repo_state(repo)
    result = flexgit_in_process(repo, "checkout", "--back")
    assert (result.code, result.err) == (1, "Error: data is a symbolic link made since run r1 was checked out, "
                                            "and --back would write data/train.csv through it; remove it, then "
                                            "run --back again\n")
    assert repo_state(repo) == before and (outside / "train.csv").read_text() == "the run's data\n"


def test_checkout_replaces_a_committed_link_as_git_does(repo, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.csv").write_text("not the repository's\n")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("the run's data\n")
    (repo / ".gitignore").write_text("*.log\n")
    flexgit.record(name="r1", repo=repo)
    shutil.rmtree(repo / "data")
    (repo / "data").symlink_to(outside)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "data is a committed link")
    before = work_state(repo)
    result = flexgit_in_process(repo, "checkout", "r1")
    assert result.code == 0, result
    assert not (repo / "data").is_symlink() and (repo / "data" / "train.csv").read_text() == "the run's data\n"
    assert [p.name for p in outside.iterdir()] == ["keep.csv"]
    assert flexgit_in_process(repo, "checkout", "--back").code == 0
    assert work_state(repo) == before


def test_checkout_refuses_to_lose_an_ignored_file_no_stash_keeps(repo):
    """An ignored model.ckpt the run also has, once tracked (then `git rm --cached`): with --force the
    stash would put the committed file back over it; and ignored files in a folder where the run has a file."""
    (repo / "model.ckpt").write_text("committed\n")
    git(repo, "add", "model.ckpt")
    git(repo, "commit", "-qm", "a checkpoint")
    (repo / "model.ckpt").write_text("the run's weights\n")
    (repo / "out").write_text("the run's file\n")
    flexgit.record(name="r1", repo=repo)
    (repo / "out").unlink()
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "rm", "-q", "--cached", "model.ckpt")
    (repo / ".gitignore").write_text("*.log\ndata/\n*.ckpt\n")
    (repo / "model.ckpt").write_text("weights after 3 days of training\n")
    (repo / "out").mkdir()
    (repo / "out" / "train.log").write_text("the log of those 3 days\n")
    before = repo_state(repo)
    result = flexgit_in_process(repo, "checkout", "r1", "--force")
    assert (result.code, result.err) == (1, "Error: the run's files would overwrite 2 files git ignores here "
                                            "(e.g. model.ckpt); move them away, or use --branch NEW or --worktree "
                                            "DIR to get the run elsewhere\n")
    assert repo_state(repo) == before
    assert (repo / "model.ckpt").read_text() == "weights after 3 days of training\n"
    (repo / "model.ckpt").rename(repo / "kept.ckpt")
    result = flexgit_in_process(repo, "checkout", "r1", "--force")
    assert result.code == 1 and "overwrite 1 files git ignores here (e.g. out)" in result.err
    assert (repo / "out" / "train.log").read_text() == "the log of those 3 days\n"


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
