"""Sweeps as groups: one group id per `flexgit run`, names from a template, --parent, and
`table --group-by` (issue 13 item 3)."""

from __future__ import annotations

import json
import math
import re
import sys

import pytest

import flexgit
from flexgit.errors import InputError
from flexgit.storage.run import Run, line_problem, note_row
from flexgit.view.query import TableQuery, build_table
from conftest import flexgit as cli, flexgit_in_process as cli_in_process, repo_state
from test_cli_run import project

LATEST = "9999-01-01T00:00:00.000000Z"


def test_a_grid_shares_one_group_and_takes_its_names_from_the_template(repo):
    project(repo)
    result = cli(repo, "run", "--name", "lr{lr}-d{depth}", "-S", "lr=0.1,0.2", "-S", "depth=3,5", "--",
                 sys.executable, "train.py")
    assert result.code == 0, result
    runs = flexgit.list_runs(repo=repo)
    assert sorted(r.name for r in runs) == ["lr0.1-d3", "lr0.1-d5", "lr0.2-d3", "lr0.2-d5"]
    assert all(r.params["lr"] == float(r.name[2:5]) for r in runs)
    groups = {r.group for r in runs}
    assert len(groups) == 1 and re.fullmatch(r"g-[0-9a-f]{6}", groups.pop())
    text = cli_in_process(repo, "table", "--format", "csv", "--columns", "name,group").out.splitlines()
    assert text[0] == "name,group" and {line.split(",")[1] for line in text[1:]} == {runs[0].group}
    assert "group" in flexgit.table(repo=repo).columns
    assert f"group    {runs[0].group}\n" in cli_in_process(repo, "show", "lr0.1-d3").out


def test_each_call_gets_its_own_group_and_default_names_say_what_varies(repo):
    project(repo)
    assert cli(repo, "run", "--", sys.executable, "train.py").code == 0
    assert cli(repo, "run", "-S", "lr=0.3", "-S", "depth=2,4", "--", sys.executable, "train.py").code == 0
    alone, *grid = sorted(flexgit.list_runs(repo=repo), key=lambda r: r.time)
    assert re.fullmatch(r"g-[0-9a-f]{6}", alone.name) and alone.group == alone.name  # one run: the group alone
    assert grid[0].group != alone.group and {r.group for r in grid} == {grid[0].group}
    assert sorted(r.name for r in grid) == [f"{grid[0].group}-depth2", f"{grid[0].group}-depth4"]  # lr is the same
    text = cli_in_process(repo, "table", "--no-pager").out
    assert "group" in text.split() and alone.group in text.split()  # a column of the terminal view too


def test_a_plain_name_is_the_group_of_its_numbered_runs(repo):
    project(repo)
    assert cli(repo, "run", "--name", "base", "-S", "lr=0.1,0.2", "--", sys.executable, "train.py").code == 0
    assert sorted((r.name, r.group) for r in flexgit.list_runs(repo=repo)) == [("base-1", "base"), ("base-2", "base")]


@pytest.mark.parametrize("name, error", [
    ("lr{lr}", "Error: --name 'lr{lr}' gives the name 'lr0.1' to two runs; put every -S key that has several "
               "values in it, e.g. {lr}"),
    ("lr{lr}-{seed}", "Error: --name 'lr{lr}-{seed}' names {seed}, which no -S sets; the keys are lr, depth"),
    ("a/{lr}-{depth}", "Error: 'a/0.1-3' cannot be a run name"),
])
def test_a_template_that_cannot_name_every_run_is_refused_before_anything_runs(repo, name, error):
    project(repo)
    before = repo_state(repo)
    result = cli_in_process(repo, "run", "--name", name, "-S", "lr=0.1,0.2", "-S", "depth=3,5", "--",
                            sys.executable, "train.py")
    assert result.code == 1 and result.err.splitlines()[0].startswith(error), result
    assert len(result.err.splitlines()) == 1
    assert repo_state(repo)["refs"] == before["refs"]


def test_a_template_name_taken_by_a_run_is_refused_up_front(repo):
    project(repo)
    assert cli_in_process(repo, "record", "--name", "lr0.2").code == 0
    before = repo_state(repo)
    result = cli_in_process(repo, "run", "--name", "lr{lr}", "-S", "lr=0.1,0.2", "--", sys.executable, "train.py")
    assert result.code == 1 and result.err.startswith("Error: a run named 'lr0.2' already exists"), result
    assert repo_state(repo)["refs"] == before["refs"]


def test_parent_relates_runs_and_must_exist(repo):
    project(repo)
    assert cli_in_process(repo, "record", "--name", "base").code == 0
    base = flexgit.show("base", repo=repo).run
    before = repo_state(repo)
    result = cli_in_process(repo, "run", "--parent", "nope", "--", sys.executable, "train.py")
    assert result.code == 1 and result.err.startswith("Error: --parent: no run named 'nope'"), result
    assert repo_state(repo)["refs"] == before["refs"]
    assert cli(repo, "run", "--parent", "base", "--name", "fold{lr}", "-S", "lr=0.1,0.2", "--",
               sys.executable, "train.py").code == 0
    child = flexgit.show("fold0.1", repo=repo)
    assert child.run.parent == base.id and child.parent_name == "base"
    assert f"parent   base ({base.id[:10]})\n" in cli_in_process(repo, "show", "fold0.2").out
    assert cli_in_process(repo, "table", "--format", "csv", "--columns", "name,parent", "--where",
                          f'parent = "{base.id}"', "--sort-by", "name").out == (
        f"name,parent\nfold0.1,{base.id}\nfold0.2,{base.id}\n")


def test_group_and_parent_are_row_keys_of_the_note_line():
    run = Run(name="a", group="g-123abc", parent="ab" * 20, time="2026-01-01T00:00:00.000000Z")
    line = json.loads(run.to_note_line())
    assert line["group"] == "g-123abc" and line["parent"] == "ab" * 20 and line["v"] == 1
    again = Run.from_note("cd" * 20, run.to_note_line())
    assert (again.group, again.parent) == ("g-123abc", "ab" * 20)
    assert "group" not in json.loads(Run(name="b", time=run.time).to_note_line())  # older rows stay as they were
    assert note_row(b'{"v":1,"t":"2026-01-01T00:00:00.000000Z","name":"old"}')["name"] == "old"
    base = {"v": 1, "t": "2026-01-01T00:00:00.000000Z", "name": "x"}
    assert line_problem({**base, "group": 3}, LATEST) == "group is not text"
    assert line_problem({**base, "parent": "main"}, LATEST) == "parent is not a commit id"
    assert line_problem({**base, "group": "g-1", "parent": "ab" * 20}, LATEST) is None


def row(name, group, **metrics):
    return {"name": name, "id": name, "group": group, "params.lr": 0.1 if group == "a" else 0.2,
            **{"metrics." + k: v for k, v in metrics.items()}}


ROWS = [row("r1", "a", acc=0.5, loss=2.0), row("r2", "a", acc=0.7, loss=float("nan")), row("r3", "a", acc=0.9),
        row("r4", "b", acc=0.6, loss=1.0), {"name": "r5", "id": "r5", "metrics.acc": 0.1}]


def test_group_by_summarises_each_metric_per_group():
    table = build_table(ROWS, TableQuery(group_by="group"))
    assert table.columns[:2] == ("group", "runs")
    assert table.columns[2:] == tuple(f"metrics.{m}.{s}" for m in ("acc", "loss")
                                      for s in ("mean", "std", "min", "max", "count"))
    a, b, none = table.rows
    assert (a["group"], a["runs"], a["metrics.acc.count"]) == ("a", 3, 3)
    assert a["metrics.acc.mean"] == pytest.approx(0.7)
    assert a["metrics.acc.std"] == pytest.approx(0.2)  # sqrt(((-0.2)^2 + 0 + 0.2^2) / (3 - 1))
    assert (a["metrics.acc.min"], a["metrics.acc.max"]) == (0.5, 0.9)
    assert (a["metrics.loss.count"], a["metrics.loss.mean"], a["metrics.loss.min"]) == (1, 2.0, 2.0)  # NaN left out
    assert math.isnan(a["metrics.loss.std"])  # one value: no sample std
    assert (b["runs"], b["metrics.acc.mean"], b["metrics.loss.max"]) == (1, 0.6, 1.0)
    assert "group" not in none and none["runs"] == 1 and none["metrics.loss.count"] == 0
    assert "metrics.loss.mean" not in none


def test_group_by_any_column_with_where_sort_limit_and_columns():
    query = TableQuery(group_by="lr", where="acc > 0.55", sort_by="acc.mean", desc=True,
                       columns=("lr", "runs", "acc.mean", "acc.count"))
    table = build_table(ROWS, query)
    assert table.columns == ("params.lr", "runs", "metrics.acc.mean", "metrics.acc.count")
    assert [(r["params.lr"], r["runs"], r["metrics.acc.count"]) for r in table.rows] == [(0.1, 2, 2), (0.2, 1, 1)]
    assert table.rows[0]["metrics.acc.mean"] == pytest.approx(0.8)
    assert build_table(ROWS, TableQuery(group_by="group", limit=1)).rows[0]["group"] == "a"
    with pytest.raises(InputError, match="no column 'nope'"):
        build_table(ROWS, TableQuery(group_by="nope"))
    with pytest.raises(InputError, match="no column 'acc'; did you mean metrics.acc"):
        build_table(ROWS, TableQuery(group_by="group", sort_by="acc"))


def recorded(repo):
    for name, lr, acc in (("a1", 0.1, 0.5), ("a2", 0.1, 0.7), ("a3", 0.1, 0.9), ("b1", 0.2, 0.6)):
        assert cli_in_process(repo, "record", "--name", name, "-p", f"lr={lr}", "-m", f"acc={acc}").code == 0


def test_group_by_from_the_cli_in_every_format(repo):
    recorded(repo)
    csv = cli_in_process(repo, "table", "--group-by", "lr", "--format", "csv", "--sort-by", "acc.mean").out
    lines = csv.splitlines()
    assert lines[0] == "params.lr,runs," + ",".join(f"metrics.acc.{s}" for s in ("mean", "std", "min", "max", "count"))
    assert lines[1] == "0.2,1,0.6,nan,0.6,0.6,1"
    lr, runs, mean, std, low, high, count = lines[2].split(",")
    assert (lr, runs, low, high, count) == ("0.1", "3", "0.5", "0.9", "3")
    assert float(mean) == pytest.approx(0.7) and float(std) == pytest.approx(0.2)
    records = json.loads(cli_in_process(repo, "table", "--group-by", "lr", "--format", "json").out)
    assert [(r["params.lr"], r["runs"], r["metrics.acc.std"]) for r in records][1] == (0.2, 1, None)
    text = cli_in_process(repo, "table", "--group-by", "lr", "--where", "acc < 0.8").out.splitlines()
    assert text[0].split() == ["acc."] and text[1].split() == ["lr", "runs", "mean", "std", "min", "max", "count"]
    assert text[2].split() == ["0.1", "2", "0.6", "0.141421", "0.5", "0.7", "2"]
    frame = flexgit.table(repo=repo, group_by="params.lr", sort_by="runs", desc=True)
    assert list(frame["runs"]) == [3, 1] and frame["metrics.acc.mean"][0] == pytest.approx(0.7)


def test_default_names_keep_to_name_characters_and_number_runs_they_cannot_tell_apart():
    from flexgit.verbs.launch import default_names, expand_grid

    assert default_names("g-1a2b3c", expand_grid(["model=k nn,svm/rbf", "seed=1"])) == [
        "g-1a2b3c-modelk_nn", "g-1a2b3c-modelsvm_rbf"]  # seed is the same in both: left out
    assert default_names("g-1a2b3c", expand_grid(["opt.lr=0.1"])) == ["g-1a2b3c-opt.lr0.1"]  # a single run: all
    assert default_names("g-1a2b3c", expand_grid(["sleep=0.2,0.2,30"])) == ["g-1a2b3c-1", "g-1a2b3c-2", "g-1a2b3c-3"]
    assert default_names("g-1a2b3c", [{}]) == ["g-1a2b3c"]
