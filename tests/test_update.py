"""`update`: values added to a recorded run after the fact, appended to its note."""

from __future__ import annotations

import flexgit
from conftest import flexgit as cli, git, repo_state


def test_update_appends_a_line_and_the_newest_value_wins(repo):
    run = flexgit.record(name="u1", params={"lr": 0.1}, metrics={"acc": 0.8}, repo=repo)
    commit_before = git(repo, "rev-parse", "exp/u1").strip()
    result = cli(repo, "update", "u1", "-m", "test_acc=0.91", "-m", "acc=0.85")
    assert result.code == 0 and result.out == f"updated u1 ({run.short_id})\n"
    shown = flexgit.show("u1", repo=repo).run
    assert shown.metrics == {"acc": 0.85, "test_acc": 0.91} and shown.params == {"lr": 0.1}
    note = git(repo, "notes", "--ref=flexgit", "show", "exp/u1").splitlines()
    assert len(note) == 2 and '"test_acc":0.91' in note[1]
    assert git(repo, "rev-parse", "exp/u1").strip() == commit_before  # the run itself is not rewritten
    csv = cli(repo, "table", "--format", "csv", "--columns", "name,acc,test_acc").out
    assert csv == "name,metrics.acc,metrics.test_acc\nu1,0.85,0.91\n"


def test_update_of_an_unknown_run_or_without_values_writes_nothing(repo):
    flexgit.record(name="u2", repo=repo)
    before = repo_state(repo)
    assert cli(repo, "update", "nope", "-m", "a=1").err.startswith("Error: no run named 'nope'")
    assert cli(repo, "update", "u2").err.startswith("Error: give the values to add")
    assert repo_state(repo) == before
