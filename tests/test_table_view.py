"""`table` for people: reading order, short headers, names by their end, the pager (issue 13 item 5)."""

from __future__ import annotations

import json
import os
import pty
import random
import subprocess
import sys

import pytest

import flexgit
from flexgit.errors import InputError
from flexgit.storage.run import Run
from flexgit.view.query import TableQuery, build_table
from flexgit.view.render import render
from conftest import flexgit as cli, flexgit_in_process as cli_in_process


def run(name, t, params=None, metrics=None):
    """A hand-built table row, as `Run.table_row` makes it."""
    return Run(name=name, params=params or {}, metrics=metrics or {}, message="",
               date=f"2026-01-01T00:00:{t:02d}Z", time=f"2026-01-01T00:00:{t:02d}.000000Z",
               id=f"{t:02d}" * 20).table_row()


def header(text, line=0):
    return text.splitlines()[line].split()


def sweep(count=12):
    """The issue's run set: a sweep of 12 runs, 9 params (4 vary), 4 metrics at full precision."""
    rng = random.Random(13)
    runs = []
    for i in range(count):
        params = {"model.n_estimators": [100, 200, 400][i % 3], "model.max_depth": [4, 8][i * 2 // count],
                  "lr": [0.1, 0.03][i % 2], "batch_size": 64, "seed": i % 4, "optimizer": "adam",
                  "dropout": 0.1, "weight_decay": 0.0001, "data.train_path": "data/train-2026-01.parquet"}
        metrics = {"acc": rng.random(), "f1": rng.random(), "loss": rng.random() * 2, "auc": rng.random()}
        name = f"rf-n{params['model.n_estimators']}-d{params['model.max_depth']}-s{params['seed']}"
        runs.append((name, params, metrics))
    return runs


def test_reading_order_is_name_metrics_params_that_vary_then_the_rest():
    rows = [run("a", 1, {"optimizer": "adam", "lr": 0.1, "model.depth": 3, "seed": 1, "model.width": 8},
                {"acc": 0.8, "loss": 0.3}),
            run("b", 2, {"optimizer": "adam", "lr": 0.01, "model.depth": 4, "seed": 2, "model.width": 16},
                {"acc": 0.9, "loss": 0.2})]
    text = render(build_table(rows), "table", width=200)
    assert header(text) == ["model."]  # the prefix line, over width: the varying model.* kept together
    assert header(text, 1) == ["name", "acc", "loss", "lr", "depth", "width", "seed", "id", "date", "message",
                               "optimizer"]
    csv_header = render(build_table(rows), "csv").splitlines()[0]  # csv keeps full names and the record order
    assert csv_header == ("name,id,date,message,params.optimizer,params.lr,params.model.depth,params.seed,"
                          "params.model.width,metrics.acc,metrics.loss")
    chosen = build_table(rows, TableQuery(columns="name,seed,acc"))
    assert header(render(chosen, "table")) == ["name", "seed", "acc"]  # --columns wins


def test_headers_keep_the_prefix_where_the_rest_would_be_ambiguous():
    rows = [run("a", 1, {"acc": 1, "name": "x", "lr": 0.1}, {"acc": 0.5})]
    text = render(build_table(rows, TableQuery(columns="name,params.acc,metrics.acc,params.name,lr")), "table")
    assert header(text) == ["name", "params.acc", "metrics.acc", "params.name", "lr"]
    assert json.loads(render(build_table(rows, TableQuery(columns="name,lr")), "json")) == [
        {"name": "a", "params.lr": 0.1}]


def test_a_common_prefix_of_adjacent_columns_is_shown_once_above_them():
    rows = [run("a", 1, {"model.enc.layers": 2, "model.enc.heads": 4, "model.lr": 0.1, "data.path": "x"}),
            run("b", 2, {"model.enc.layers": 6, "model.enc.heads": 8, "model.lr": 0.1, "data.path": "y"})]
    text = render(build_table(rows, TableQuery(columns="name,enc.layers,heads,data.path,model.lr")), "table")
    assert text == ("      model.enc.\n"
                    "name  layers  heads  data.path  model.lr\n"
                    "a          2      4  x               0.1\n"
                    "b          6      8  y               0.1\n")  # a column alone keeps its whole name
    text = render(build_table(rows, TableQuery(columns="name,model.enc.layers,model.enc.heads,model.lr")), "table")
    assert header(text) == ["model."] and header(text, 1) == ["name", "enc.layers", "enc.heads", "lr"]


def test_a_prefix_wider_than_its_columns_widens_them():
    rows = [run("a", 1, {"a_long_component.x": 1, "a_long_component.y": 2})]
    lines = render(build_table(rows, TableQuery(columns="name,x,y")), "table").splitlines()
    assert lines[0] == "      a_long_component."
    assert len(lines[1]) >= len(lines[0]) and lines[1].split() == ["name", "x", "y"]


def test_a_column_is_named_by_any_unambiguous_end_of_its_key_at_a_dot():
    rows = [run("a", 1, {"model.n_estimators": 100, "gbm.depth": 3, "tree.depth": 4}, {"acc": 0.9, "val_acc": 0.8}),
            run("b", 2, {"model.n_estimators": 200, "gbm.depth": 3, "tree.depth": 4}, {"acc": 0.7, "val_acc": 0.9})]
    table = build_table(rows, TableQuery(columns="name,n_estimators,acc", sort_by="n_estimators"))
    assert table.columns == ("name", "params.model.n_estimators", "metrics.acc")  # acc is not val_acc
    assert [r["name"] for r in build_table(rows, TableQuery(sort_by="acc", desc=True)).rows] == ["a", "b"]
    assert [r["name"] for r in build_table(rows, TableQuery(where="n_estimators > 150")).rows] == ["b"]
    assert build_table(rows, TableQuery(columns="gbm.depth")).columns == ("params.gbm.depth",)
    with pytest.raises(InputError, match="column 'depth' is ambiguous: say params.gbm.depth or params.tree.depth"):
        build_table(rows, TableQuery(columns="depth"))
    with pytest.raises(InputError, match="no column 'estimators'"):  # an end at a dot, not any end
        build_table(rows, TableQuery(columns="estimators"))


def test_no_such_column_names_the_closest_columns(repo):
    names = {f"param_{i:02d}": i for i in range(20)}
    flexgit.record(name="a", params={**names, "model.n_estimators": 100}, metrics={"accuracy": 0.9}, repo=repo)
    result = cli_in_process(repo, "table", "--columns", "n_estimator")
    assert result.code == 1
    assert result.err == "Error: no column 'n_estimator'; did you mean params.model.n_estimators?\n"
    result = cli_in_process(repo, "table", "--sort-by", "acuracy")
    assert result.err == "Error: no column 'acuracy'; did you mean metrics.accuracy?\n"
    result = cli_in_process(repo, "table", "--sort-by", "zzz")
    assert result.err == "Error: no column 'zzz'; list the columns with 'flexgit table --format csv | head -1'\n"


def test_the_issues_run_set_at_80_columns(repo):
    for name, params, metrics in sweep():
        flexgit.record(name=name, params=params, metrics=metrics, repo=repo)
    env = {"COLUMNS": "80"}
    full = cli_in_process(repo, "table", env=env)
    assert full.code == 0, full
    blocks = full.out.split("\n\n")
    assert header(blocks[0])[:5] == ["name", "acc", "auc", "f1", "loss"]  # every metric on the first screen
    assert max(map(len, full.out.splitlines())) <= 80
    assert len(blocks) <= 4  # was 6, the metrics in the last
    changed = cli_in_process(repo, "table", "--only-changed", env=env)
    assert len(changed.out.split("\n\n")) <= 2
    assert max(map(len, changed.out.splitlines())) <= 80
    csv = cli_in_process(repo, "table", "--format", "csv", "--only-changed", env=env).out
    fields = [f for f in csv.splitlines()[0].split(",") if f != "date"]  # date: when the seconds of record differ
    assert fields == ["name", "id", "params.lr", "params.model.max_depth", "params.model.n_estimators", "params.seed",
                      "metrics.acc", "metrics.auc", "metrics.f1", "metrics.loss"]  # full names, order of record


# -- the pager ---------------------------------------------------------------------------


def on_terminal(cwd, *args, env):
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; (exit code, what it showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "flexgit", *args], cwd=cwd, stdin=follower, stdout=follower,
                               stderr=follower, env={**os.environ, "LINES": "10", "COLUMNS": "80", **env})
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), shown.decode().replace("\r\n", "\n")


@pytest.fixture
def tall(repo, tmp_path):
    """A repository whose table is taller than a 10-line screen, and a pager that records its calls."""
    for i in range(12):
        flexgit.record(name=f"r{i:02d}", params={"lr": i / 10}, metrics={"acc": i / 20}, repo=repo)
    pager = tmp_path / "pager"
    pager.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> {tmp_path / "calls"}\n'
                     f'cat > {tmp_path / "paged"}\necho PAGED\n')
    pager.chmod(0o755)
    return repo, tmp_path


def calls(tmp_path):
    return (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []


def test_a_table_taller_than_the_terminal_goes_through_the_pager(tall):
    repo, tmp = tall
    expected = cli(repo, "table", "--no-pager", env={"COLUMNS": "80"}).out
    code, shown = on_terminal(repo, "table", env={"PAGER": f"{tmp / 'pager'} --opt"})
    assert code == 0 and shown == "PAGED\n"
    assert calls(tmp) == ["pager --opt"] and (tmp / "paged").read_text() == expected
    code, shown = on_terminal(repo, "table", env={"FLEXGIT_PAGER": str(tmp / "pager"), "PAGER": "false"})
    assert code == 0 and shown == "PAGED\n" and calls(tmp) == ["pager --opt", "pager "]  # FLEXGIT_PAGER first


def test_no_pager_when_asked_piped_short_or_missing(tall):
    repo, tmp = tall
    pager = {"PAGER": str(tmp / "pager")}
    expected = cli(repo, "table", env={"COLUMNS": "80", **pager})  # piped: never a pager, however tall
    assert expected.code == 0 and len(expected.out.splitlines()) > 10
    assert on_terminal(repo, "table", "--no-pager", env=pager) == (0, expected.out)
    assert on_terminal(repo, "table", "--limit", "3", env=pager) == (
        0, cli(repo, "table", "--limit", "3", env={"COLUMNS": "80"}).out)  # fits the screen
    assert on_terminal(repo, "table", env={"PAGER": ""}) == (0, expected.out)  # empty, as in git: no pager
    assert calls(tmp) == []
    missing = {"FLEXGIT_PAGER": str(tmp / "not-installed"), "PAGER": str(tmp / "pager")}
    assert on_terminal(repo, "table", env=missing) == (0, expected.out)  # printed directly
    assert calls(tmp) == []


@pytest.mark.parametrize("environ, argv", [
    ({}, ["less", "-FRX"]),
    ({"PAGER": "most -s"}, ["most", "-s"]),
    ({"FLEXGIT_PAGER": "'my pager' -x", "PAGER": "most"}, ["my pager", "-x"]),
    ({"FLEXGIT_PAGER": "", "PAGER": "most"}, None),  # set but empty: no pager, as GIT_PAGER="" in git
    ({"PAGER": "cat"}, None),
    ({"PAGER": "less 'unclosed"}, None),
])
def test_the_pager_is_chosen_as_git_chooses_it(environ, argv):
    from flexgit.cli.pager import pager_command

    assert pager_command(environ) == argv
