"""`table`: the merged table, as a pure function of runs and through the CLI and API."""

from __future__ import annotations

import json
import math
import unicodedata

import pytest

import flexgit
from flexgit.errors import InputError
from flexgit.view.query import Table, TableQuery, build_table
from flexgit.storage.run import Run
from flexgit.view.render import render
from conftest import flexgit as cli, flexgit_in_process as cli_in_process, git, repo_state


def run(name, t, params=None, metrics=None, message=""):
    """A hand-built table row, as `Run.table_row` makes it."""
    return Run(name=name, params=params or {}, metrics=metrics or {}, message=message,
               date=f"2026-01-01T00:00:0{t}Z", time=f"2026-01-01T00:00:0{t}.000000Z", id=f"{t}" * 40).table_row()


RUNS = [
    run("a", 1, {"model": "mlp", "lr": 0.1}, {"acc": 0.8}),
    run("b", 2, {"model": "cnn", "lr": 0.01}, {"acc": 0.95, "loss": float("nan")}, message="deeper\nmore"),
    run("c", 3, {"model": "mlp", "lr": 0.01, "depth": 3}, {"acc": 0.9}),
]


def test_columns_are_the_union_in_order_of_first_appearance():
    table = build_table(RUNS)
    assert table.columns == ("name", "id", "date", "message", "params.model", "params.lr", "params.depth",
                             "metrics.acc", "metrics.loss")
    assert "params.depth" not in table.rows[0]


def test_csv_is_exact_with_empty_cells_for_missing_values_and_nan_as_such():
    assert render(build_table(RUNS), "csv") == (
        "name,id,date,message,params.model,params.lr,params.depth,metrics.acc,metrics.loss\n"
        f"a,{'1' * 10},2026-01-01T00:00:01Z,,mlp,0.1,,0.8,\n"
        f"b,{'2' * 10},2026-01-01T00:00:02Z,\"deeper\nmore\",cnn,0.01,,0.95,nan\n"
        f"c,{'3' * 10},2026-01-01T00:00:03Z,,mlp,0.01,3,0.9,\n")


def test_csv_writes_bools_and_lists_as_every_view_does_and_text_that_looks_like_them_as_it_is():
    rows = [{"name": "a", "id": "1" * 10, "date": "d", "message": "[WIP] True", "params.on": True,
             "params.sizes": [64, 32], "params.word": "True", "metrics.acc": 0.5},
            {"name": "b", "id": "2" * 10, "date": "d", "message": "False", "params.on": False,
             "params.sizes": ["x"], "params.word": "[x]", "metrics.acc": 1}]
    columns = ["name", "message", "params.on", "params.sizes", "params.word", "metrics.acc"]
    assert render(Table(tuple(columns), rows), "csv") == (
        "name,message,params.on,params.sizes,params.word,metrics.acc\n"
        'a,[WIP] True,true,"[64, 32]",True,0.5\nb,False,false,[x],[x],1\n')
    plain = [{**row, "params.on": 1, "params.sizes": 2} for row in rows]  # text alone that looks like them
    assert render(Table(tuple(columns), plain), "csv").splitlines()[1:] == ["a,[WIP] True,1,2,True,0.5",
                                                                             "b,False,1,2,[x],1"]


def test_where_sort_and_limit():
    table = build_table(RUNS, TableQuery(where='metrics.acc > 0.85 and params.model = "mlp"'))
    assert [r["name"] for r in table.rows] == ["c"]
    table = build_table(RUNS, TableQuery(where="lr <= 0.01", sort_by="acc", desc=True))
    assert [r["name"] for r in table.rows] == ["b", "c"]
    table = build_table(RUNS, TableQuery(sort_by="metrics.loss"))
    assert [r["name"] for r in table.rows] == ["a", "b", "c"]  # NaN and missing sort last, stably
    assert [r["name"] for r in build_table(RUNS, TableQuery(sort_by="acc", limit=2)).rows] == ["a", "c"]
    assert build_table(RUNS, TableQuery(where="params.depth != 3")).rows == []  # runs lacking a column never match
    assert [r["name"] for r in build_table(RUNS, TableQuery(where="model=cnn")).rows] == ["b"]


@pytest.mark.parametrize("expr, message", [
    ("acc >> 3", "cannot read the condition"),
    ("nothing > 3", "no column 'nothing'"),
    ("metrics.acc", "cannot read the condition"),
])
def test_bad_where_is_an_input_error(expr, message):
    with pytest.raises(InputError, match=message):
        build_table(RUNS, TableQuery(where=expr))


def test_ambiguous_short_column_names_are_refused():
    runs = [run("x", 1, {"acc": 1}, {"acc": 2})]
    with pytest.raises(InputError, match="ambiguous: say params.acc or metrics.acc"):
        build_table(runs, TableQuery(sort_by="acc"))


def test_only_changed_hides_constant_columns_and_columns_selects():
    table = build_table(RUNS, TableQuery(only_changed=True))
    assert "params.model" in table.columns and "date" in table.columns
    table = build_table(RUNS[:1] + RUNS[2:], TableQuery(only_changed=True))
    assert "params.model" not in table.columns and "name" in table.columns
    assert build_table(RUNS, TableQuery(columns=["name", "acc"])).columns == ("name", "metrics.acc")


def test_terminal_view_fits_80_columns_and_keeps_the_name_in_every_block():
    wide = [run(f"run{i}", i, {f"param_number_{k}": k * 1.5 for k in range(8)}, {"accuracy": 0.5}) for i in range(3)]
    text = render(build_table(wide), "table", width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    assert all(block.startswith("name") for block in blocks)


def test_long_cells_are_cut_in_the_terminal_view_only():
    long = [run("x", 1, {"note": "y" * 50})]
    assert "y" * 23 + "…" in render(build_table(long), "table")
    assert "y" * 50 in render(build_table(long), "csv")


def strict_json(text):
    """Parse as JSON proper: NaN, Infinity and -Infinity are Python extensions, refused here."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def terminal_width(text):
    """Columns a terminal gives `text`, by Unicode's tables: wide/fullwidth 2, combining and zero-width 0."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_terminal_view_aligns_cjk_emoji_and_combining_marks_by_display_width():
    rows = [run("実験-一", 1, {"model": "ロジスティック回帰"}, {"acc": 0.81}),
            run("rocket-🚀", 2, {"model": "mlp"}, {"acc": 0.9}),
            run("cafe\u0301", 3, {"model": "👩\u200d🔬-lab"}, {"acc": 0.875})]
    table = build_table(rows, TableQuery(columns=["name", "model", "acc"]))
    lines = render(table, "table").splitlines()
    cells = [("name", "model", "acc")] + [
        (r["name"], r["params.model"], format(r["metrics.acc"], ".6g")) for r in table.rows]
    starts = set()
    for line, (name, model, acc) in zip(lines, cells, strict=True):
        at = line.index(model, len(name))
        starts.add((line.index(name), terminal_width(line[:at])))
        assert line.endswith(acc)
    assert starts == {(0, terminal_width("rocket-🚀") + 2)}  # every model starts in one display column
    assert len({terminal_width(line) for line in lines}) == 1  # the right-aligned acc ends in one column too


def test_wide_cells_are_cut_by_display_width():
    text = render(build_table([run("x", 1, {"note": "実験" * 20})], TableQuery(columns=["note"])), "table")
    cell = text.splitlines()[1]
    assert cell.endswith("…") and terminal_width(cell) <= 24 and terminal_width(cell) >= 23
    assert cell.startswith("実験" * 5)


def test_json_and_markdown():
    records = strict_json(render(build_table(RUNS), "json"))
    assert records[0]["params.depth"] is None and records[2]["params.depth"] == 3
    markdown = render(build_table(RUNS, TableQuery(columns=["name", "acc"])), "markdown")
    assert markdown == "| name | metrics.acc |\n|---|---|\n| a | 0.8 |\n| b | 0.95 |\n| c | 0.9 |\n"


def test_dataframe_api_has_nan_for_missing_keys(repo):
    flexgit.record(name="a", params={"lr": 0.1}, metrics={"acc": 0.8}, repo=repo)
    flexgit.record(name="b", params={"lr": 0.2, "depth": 4}, metrics={"acc": 0.9, "loss": float("inf")}, repo=repo)
    frame = flexgit.table(repo=repo)
    assert list(frame.columns) == ["name", "id", "date", "message", "params.lr", "params.depth", "metrics.acc",
                                   "metrics.loss"]
    assert list(frame["name"]) == ["a", "b"]
    assert math.isnan(frame.loc[0, "params.depth"]) and frame.loc[1, "params.depth"] == 4
    assert frame.loc[1, "metrics.loss"] == float("inf")
    assert list(flexgit.table(repo=repo, sort_by="acc", desc=True, limit=1)["name"]) == ["b"]


def test_dataframe_api_date_is_a_utc_datetime_column(repo):
    import pandas as pd

    flexgit.record(name="a", metrics={"acc": 0.8}, repo=repo)
    (repo / "old.csv").write_text("name,date,acc\nold,2023-05-04,0.5\nolder,2023-05-03T10:00:00+02:00,0.4\n")
    flexgit.import_csv(repo / "old.csv", repo=repo)
    frame = flexgit.table(repo=repo, sort_by="name")
    assert isinstance(frame["date"].dtype, pd.DatetimeTZDtype) and str(frame["date"].dt.tz) == "UTC"
    recorded = flexgit.list_runs(repo=repo)[0].date
    assert list(frame["date"]) == [pd.Timestamp(recorded), pd.Timestamp("2023-05-04T00:00:00Z"),
                                   pd.Timestamp("2023-05-03T08:00:00Z")]


@pytest.mark.parametrize("odd", ["today", "2023-13-45"])  # import reads 05/04/2023 itself
def test_dataframe_api_keeps_dates_that_are_not_dates_as_text_and_warns(repo, odd):
    flexgit.record(name="a", metrics={"acc": 0.8}, repo=repo)
    (repo / "old.csv").write_text(f"name,date,acc\nold,{odd},0.5\n")
    flexgit.import_csv(repo / "old.csv", repo=repo)
    with pytest.warns(UserWarning, match=f"1 date\\(s\\) are not dates pandas can read \\(first: '{odd}'\\); "
                      "the date column is kept as text"):
        frame = flexgit.table(repo=repo, sort_by="name")
    assert list(frame["date"]) == [flexgit.list_runs(repo=repo)[0].date, odd]  # nothing turned into now or NaT


def test_cli_table_reads_without_writing(repo):
    flexgit.record(name="a", params={"lr": 0.1}, metrics={"acc": 0.8}, repo=repo)
    flexgit.record(name="b", params={"lr": 0.2}, metrics={"acc": 0.9}, repo=repo)
    before = repo_state(repo)
    result = cli(repo, "table", "--format", "csv", "--columns", "name,lr,acc", "--sort-by", "acc", "--desc")
    assert result.code == 0, result
    assert result.out == "name,params.lr,metrics.acc\nb,0.2,0.9\na,0.1,0.8\n"
    assert repo_state(repo) == before


def test_cli_table_terminal_view(repo):
    flexgit.record(name="a", params={"lr": 0.1}, metrics={"acc": 0.8}, repo=repo)
    result = cli(repo, "table", "--columns", "name,lr,acc")
    assert result.out == "name   lr  acc\na     0.1  0.8\n"  # short headers: the full names are in csv and json


def test_cli_table_on_no_runs(repo):
    result = cli(repo, "table")
    assert result.code == 0 and result.out == ""
    assert result.err == "no runs on branch 'experiments'; record one with 'flexgit record'\n"
    assert cli(repo, "table", "--format", "json").out == "[]\n"


def test_cli_table_on_no_runs_names_the_branch_it_read(repo):
    (repo / ".flexgit.toml").write_text('branch = "mine"\n')
    result = cli_in_process(repo, "table")
    assert result.code == 0 and result.out == ""
    assert result.err == "no runs on branch 'mine'; record one with 'flexgit record'\n"
    assert cli_in_process(repo, "table", "--branch", "other").err == (
        "no runs on branch 'other'; record one with 'flexgit record'\n")
    flexgit.record(name="a", metrics={"acc": 0.8}, repo=repo)
    assert flexgit.list_runs(repo=repo)[0].branch == "mine"
    result = cli_in_process(repo, "table", "--where", "acc > 0.9")
    assert result.code == 0 and result.out == ""
    assert result.err == "no runs on branch 'mine' match --where 'acc > 0.9'\n"


def test_table_works_in_a_bare_clone(repo, tmp_path):
    flexgit.record(name="a", metrics={"acc": 0.8}, repo=repo)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(bare, "fetch", "-q", str(repo), "refs/notes/flexgit:refs/notes/flexgit",
        "refs/heads/experiments:refs/heads/experiments", "refs/exp/*:refs/exp/*")
    result = cli(bare, "table", "--format", "csv", "--columns", "name,acc")
    assert result.out == "name,metrics.acc\na,0.8\n"
    assert cli(bare, "show", "a").code == 0


def test_default_columns_follow_the_rows_left_after_filtering():
    table = build_table(RUNS, TableQuery(where="params.model = cnn"))
    assert "params.depth" not in table.columns and "metrics.loss" in table.columns


def test_json_is_strict_json_with_null_for_nan_and_infinity(repo):
    flexgit.record(name="a", params={"grid": [1.0, float("nan")]}, metrics={"acc": 0.8, "loss": float("nan")},
                   repo=repo)
    flexgit.record(name="b", metrics={"acc": float("inf"), "loss": float("-inf")}, repo=repo)
    result = cli_in_process(repo, "table", "--format", "json", "--columns", "name,grid,acc,loss")
    assert result.code == 0, result
    assert strict_json(result.out) == [
        {"name": "a", "params.grid": [1.0, None], "metrics.acc": 0.8, "metrics.loss": None},
        {"name": "b", "params.grid": None, "metrics.acc": None, "metrics.loss": None},
    ]
