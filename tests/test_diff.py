"""`diff` and `compare`: runs side by side, only what differs, and the code change between two runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import flexgit
from flexgit._context import branch_ref, open_store
from flexgit.storage.run import Run
from conftest import flexgit_in_process as run_cli, git, on_a_terminal, repo_state

ANSI = "\x1b["


@pytest.fixture
def runs(repo: Path) -> Path:
    """Three runs: `base`; `wider` with another lr, a better acc and changed code; `deep` changes depth."""
    (repo / "old.py").write_text("gone = True\n")
    git(repo, "add", "old.py")
    git(repo, "commit", "-q", "-m", "old module")
    flexgit.record(name="base", params={"lr": 0.1, "depth": 3, "model": "mlp"},
                   metrics={"acc": 0.9, "loss": 0.5, "epochs": 10}, repo=repo)
    (repo / "train.py").write_text("print('training')\nprint('wider')\n")
    (repo / "model.py").write_text("layers = 4\n")
    (repo / "old.py").unlink()
    flexgit.record(name="wider", params={"lr": 0.3, "depth": 3, "model": "mlp"},
                   metrics={"acc": 0.93, "loss": 0.5, "epochs": 12}, repo=repo)
    flexgit.record(name="deep", params={"lr": 0.3, "depth": 8, "model": "mlp"},
                   metrics={"acc": 0.95, "loss": 0.4, "epochs": 12}, repo=repo)
    return repo


def cells(text: str) -> dict[str, list[str]]:
    """Each key line of a comparison (indented under its section) as key -> the cells after it."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("  ")
            and "|" not in line}


def test_diff_shows_only_the_keys_that_differ_with_deltas(runs):
    result = run_cli(runs, "diff", "base", "wider")
    assert result.code == 0, result
    found = cells(result.out)
    assert found["lr"] == ["0.1", "0.3", "+0.2", "(+200.0%)"]
    assert found["acc"] == ["0.9", "0.93", "+0.03", "(+3.3%)"]
    assert found["epochs"] == ["10", "12", "+2", "(+20.0%)"]  # ints stay ints
    assert "depth" not in found and "loss" not in found and "model" not in found
    lines = result.out.splitlines()
    assert lines[0].split() == ["base", "wider", "change"]
    assert lines.index("params") < lines.index("metrics")
    assert "keys with the same value in every run not shown; --all shows them" in result.out
    assert "code: 3 files differ (+2 -1); --stat lists them, --code shows the change" in result.out


def test_diff_all_shows_the_keys_that_are_the_same_too(runs):
    found = cells(run_cli(runs, "diff", "base", "wider", "--all").out)
    assert found["depth"] == ["3", "3"] and found["loss"] == ["0.5", "0.5"] and found["model"] == ["mlp", "mlp"]
    assert found["acc"][:3] == ["0.9", "0.93", "+0.03"]


def test_diff_stat_lists_the_files_whose_code_differs(runs):
    result = run_cli(runs, "diff", "base", "wider", "--stat")
    assert result.code == 0, result
    stat = result.out[result.out.index("code: "):].splitlines()
    assert stat == ["code: 3 files changed, 2 insertions(+), 1 deletion(-)",
                    "  A model.py | 1 +", "  D old.py   | 1 -", "  M train.py | 1 +"]
    assert ".flexgit" not in result.out
    # two runs of the same code: their .flexgit/ differs (other params), the code does not
    same = run_cli(runs, "diff", "wider", "deep", "--stat")
    assert same.out.endswith("code: no files differ\n"), same


def test_diff_code_is_the_unified_diff_git_gives_without_flexgit_files(runs):
    result = run_cli(runs, "diff", "base", "wider", "--code")
    assert result.code == 0, result
    patch = result.out[result.out.index("diff --git"):]
    expected = git(runs, "diff", "--no-color", "exp/base", "exp/wider", "--", ".", ":(exclude).flexgit")
    assert patch == expected and "+print('wider')" in patch and "deleted file mode" in patch
    assert ".flexgit/" not in patch
    assert ANSI not in result.out  # not a terminal


def test_diff_code_is_coloured_as_asked(runs):
    coloured = run_cli(runs, "--color=always", "diff", "base", "wider", "--code").out
    assert f"{ANSI}32m+print('wider')" in coloured and f"{ANSI}31m-gone = True" in coloured
    assert f"{ANSI}1mdiff --git a/model.py b/model.py" in coloured
    assert ANSI not in run_cli(runs, "--color=never", "diff", "base", "wider", "--code").out


def test_on_a_terminal_the_code_is_coloured_and_a_files_escapes_are_inert(runs):
    (runs / "train.py").write_text("print('x')\n\x1b]0;owned\x07\x1b[2J\n")
    flexgit.record(name="hostile", repo=runs)
    out = on_a_terminal(runs, "diff", "wider", "hostile", "--code")
    assert f"{ANSI}32m+print('x')" in out
    assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\\x1b]0;owned\\x07\\x1b[2J" in out
    plain = on_a_terminal(runs, "diff", "wider", "hostile", "--code", env={"NO_COLOR": "1"})
    assert ANSI not in plain


def test_compare_puts_three_runs_in_columns_and_the_differing_keys_in_rows(runs):
    result = run_cli(runs, "compare", "base", "wider", "deep")
    assert result.code == 0, result
    assert result.out.splitlines()[0].split() == ["base", "wider", "deep"]
    found = cells(result.out)
    assert found["lr"] == ["0.1", "0.3", "0.3"] and found["depth"] == ["3", "3", "8"]
    assert found["acc"] == ["0.9", "0.93", "0.95"] and found["loss"] == ["0.5", "0.5", "0.4"]
    assert "model" not in found and "change" not in result.out


def test_compare_where_and_formats(runs):
    result = run_cli(runs, "compare", "--where", "lr >= 0.3", "--format", "csv")
    assert result.code == 0, result
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert list(rows[0]) == ["section", "key", "wider", "deep", "delta"]  # two runs: the change too
    by_key = {(row["section"], row["key"]): row for row in rows}
    assert by_key[("params", "depth")]["deep"] == "8" and ("params", "lr") not in by_key
    everything = run_cli(runs, "compare", "--where", "lr >= 0.3", "--all", "--format", "json")
    assert '"key": "lr"' in everything.out


def test_environment_is_compared_when_runs_have_one(runs):
    """Packages (the environment file's `name==version` lines) and env.* meta, beside a run without them."""
    store = open_store(runs)
    git_repo = store.repo
    tree = git_repo.commit(store.find("base").id)[0]
    for name, text, python in (("env-a", "numpy==1.26.4\ntorch==2.2.0\nPyYAML==6.0\n", "3.11"),
                               ("env-b", "numpy==2.0.0\npyyaml==6.0\nscipy==1.13.0\n", "3.12")):
        # As a run recorded on another machine arrives: its own environment, written below write_run
        # (which would capture this interpreter's).
        files = {"environment.txt": git_repo.write_blob(text.encode())}
        run = Run(name=name, params={"lr": 0.1}, meta={"env.python": python, "env.cuda": "12.1"},
                  date="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00.000000Z")
        store.write([run], [tree], branch_ref(None), [files])
    found = cells(run_cli(runs, "diff", "env-a", "env-b").out)
    assert found["numpy"] == ["1.26.4", "2.0.0", "changed"]
    assert found["torch"] == ["2.2.0", "removed"] and found["scipy"] == ["1.13.0", "added"]
    assert "pyyaml" not in found and "cuda" not in found  # the same version, spelt two ways; the same value
    assert found["python"] == ["3.11", "3.12"]
    text = run_cli(runs, "diff", "env-a", "env-b").out.splitlines()
    assert text.index("run") < text.index("env") < text.index("packages")
    before = Run(name="no-env", params={"lr": 0.1}, date="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00.000000Z")
    store.write([before], [tree], branch_ref(None), [{}])
    without = run_cli(runs, "diff", "no-env", "env-b")  # a run recorded before environments were: no error
    assert without.code == 0 and cells(without.out)["numpy"] == ["2.0.0", "added"], without


def test_api_diff_is_a_value_a_notebook_shows(runs):
    flexgit.update("wider", params={"note": "<img src=x onerror=alert(1)>"}, repo=runs)
    result = flexgit.diff("base", "wider", repo=runs)
    assert (result.a.name, result.b.name) == ("base", "wider")
    lr = next(key for key in result.keys if key.key == "lr")
    assert lr.values == (0.1, 0.3) and lr.delta == pytest.approx(0.2) and lr.section == "params"
    assert [f.path for f in result.files] == ["model.py", "old.py", "train.py"] and result.patch is None
    html = result._repr_html_()
    assert "<table>" in html and "<th>change</th>" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert repr(result).splitlines()[0].split() == ["base", "wider", "change"]
    frame = result.to_dataframe()
    assert frame.loc[("metrics", "acc"), "wider"] == 0.93 and frame.loc[("params", "lr"), "delta"] == pytest.approx(0.2)
    coded = flexgit.diff("base", "wider", code=True, repo=runs)
    assert "+print('wider')" in coded.patch and "+print(&#x27;wider&#x27;)" in coded._repr_html_()


def test_api_compare(runs):
    result = flexgit.compare(["base", "wider", "deep"], repo=runs)
    assert [run.name for run in result.runs] == ["base", "wider", "deep"]
    assert {key.key for key in result.keys} >= {"lr", "depth", "acc", "loss", "epochs"}
    assert flexgit.compare(where="depth = 8", repo=runs).to_dataframe().columns.tolist() == ["deep"]
    assert "<table>" in result._repr_html_()


@pytest.mark.parametrize("args, message", [
    (("diff", "base", "nope"), "Error: no run named 'nope'; list the recorded runs with 'flexgit table'"),
    (("compare", "base", "--where", "lr > 0"), "Error: give run names or --where, not both"),
    (("compare", "--where", "lr > 5"), "Error: no runs match --where 'lr > 5'"),
    (("compare",), "Error: name the runs, e.g. flexgit compare lr-0.1 lr-0.3 lr-1"),
    (("compare", "--where", "nope > 1"), "Error: no column 'nope'"),
])
def test_errors_are_one_line_and_write_nothing(runs, args, message):
    before = repo_state(runs)
    result = run_cli(runs, *args)
    assert result.code == 1 and result.err.startswith(message) and result.err.count("\n") == 1, result
    assert repo_state(runs) == before


def test_a_notebook_saved_again_with_other_outputs_has_not_changed_as_code(repo):
    """Cell outputs and execution counts are not code: only a change of a cell's source is listed."""
    def notebook(source: str, output: str) -> str:
        import json
        cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": [source],
                "outputs": [{"output_type": "stream", "name": "stdout", "text": [output]}]}
        return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})

    (repo / "explore.ipynb").write_text(notebook("print(1)", "1\n"))
    flexgit.record(name="first", metrics={"acc": 0.5}, repo=repo)
    (repo / "explore.ipynb").write_text(notebook("print(1)", "1\nrun again at 12:00\n"))
    flexgit.record(name="rerun", metrics={"acc": 0.5}, repo=repo)
    (repo / "explore.ipynb").write_text(notebook("print(2)", "2\n"))
    flexgit.record(name="edited", metrics={"acc": 0.5}, repo=repo)
    assert [f.path for f in flexgit.diff("first", "rerun", repo=repo).files] == []
    assert "code: no files differ" in run_cli(repo, "diff", "first", "rerun").out
    assert [f.path for f in flexgit.diff("rerun", "edited", repo=repo).files] == ["explore.ipynb"]


def test_a_run_imported_from_a_table_is_compared_by_its_values_not_its_code(runs):
    (runs / "runs.csv").write_text("name,lr,acc\nold-paper,0.1,0.7\n")
    assert run_cli(runs, "import", "runs.csv", "--metrics", "acc").code == 0
    result = run_cli(runs, "diff", "base", "old-paper", "--stat")
    assert result.code == 0, result
    assert cells(result.out)["acc"][:2] == ["0.9", "0.7"]
    assert "code: not compared: run 'old-paper' was imported from a table and has no snapshot of code" in result.out
    assert "changed" not in result.out.split("code:")[1]  # no file listed as changed
    assert flexgit.diff("old-paper", "base", repo=runs).files == ()
