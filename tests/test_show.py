"""`show`: everything about one run."""

from __future__ import annotations

import flexgit
from conftest import colleague_run, flexgit as cli, flexgit_in_process, git, make_repo


def test_show_lists_meta_params_metrics_source_and_changed_files(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "extra.py").write_text("x = 1\n")
    run = flexgit.record(name="s1", message="a try", params={"lr": 0.1}, metrics={"acc": 0.25}, repo=repo)
    result = cli(repo, "show", "s1")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[:6] == ["run      s1", f"id       {run.id}", f"date     {run.date}", "branch   experiments",
                         "message  a try", f"source   {head} (main, with uncommitted changes)"]
    assert "params:\n  lr = 0.1\nmetrics:\n  acc = 0.25\nmeta:\n" in result.out
    assert result.out.endswith("files changed from the source commit: 2\n  A extra.py\n  M train.py\n")


def test_show_by_commit_id_prefix(repo):
    run = flexgit.record(name="byid", repo=repo)
    assert cli(repo, "show", run.id[:8]).out.startswith("run      byid\n")


def test_show_api_returns_the_changes(repo):
    (repo / "train.py").unlink()
    details = flexgit.show(flexgit.record(name="del", repo=repo).name, repo=repo)
    assert details.changes == [("D", "train.py")] and details.source_known


def test_show_a_commit_that_is_not_a_run(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    result = cli(repo, "show", head[:10])
    assert result.code == 1 and result.err.startswith(f"Error: no run named '{head[:10]}'")


def test_show_a_run_recorded_before_the_first_commit(tmp_path):
    repo = make_repo(tmp_path / "fresh", commit=False)
    (repo / "train.py").write_text("print('first')\n")
    flexgit.record(name="first", repo=repo)
    result = flexgit_in_process(repo, "show", "first")
    assert result.code == 0, result
    assert "source " not in result.out
    assert result.out.endswith("files changed from an empty tree (recorded before the first commit): 1\n"
                               "  A train.py\n")


def test_show_a_run_whose_source_commit_is_not_in_this_clone(tmp_path):
    mine, source = colleague_run(tmp_path)
    details = flexgit.show("theirs", repo=mine)
    assert details.changes is None and not details.source_known
    result = flexgit_in_process(mine, "show", "theirs")
    assert result.code == 0, result
    assert f"source   {source} (feat, with uncommitted changes) [not in this clone]\n" in result.out
    assert result.out.endswith("files changed from the source commit: unknown, the source commit is not in this "
                               "clone; fetch the branch it was recorded on ('feat', by whoever recorded the run) "
                               "to see them\n")
    assert "  A train.py" not in result.out
