"""`import`: historical CSV results become runs without a code snapshot."""

from __future__ import annotations

import datetime as dt
import math
import subprocess

import pandas as pd

import flexgit
from flexgit.verbs.import_csv import is_metric_column
from conftest import flexgit as cli, flexgit_in_process as cli_in_process, git, make_repo, repo_state

SEED_CSV = """name,purpose,date,model_arch,learning_rate,epochs,optimizer,val_acc,F1,Comment
experiment_0,baseline,2024-01-01,100-100,0.001,2,Adam,0.91,0.9,first
experiment_1,test my awesome model,today,100-100-100,0.0001,2,Adam,0.95,0.92,Best model
,no name,,50,0.1,,SGD,nan,,
"""


def test_import_seed_results_with_default_metric_guess(repo):
    (repo / "results_old.csv").write_text(SEED_CSV)
    result = cli(repo, "import", "results_old.csv")
    assert (result.code, result.out) == (0, "imported 3 runs from results_old.csv\n"
                                            "note: 1 date(s) kept as text, not a date flexgit reads: "
                                            "'today' (line 3)\n"), result
    runs = flexgit.list_runs(repo=repo)
    assert [r.name for r in runs[:2]] == ["experiment_0", "experiment_1"]
    assert runs[2].name.startswith("run-")
    first = runs[0]
    assert first.params == {"purpose": "baseline", "model_arch": "100-100", "learning_rate": 0.001, "epochs": 2,
                            "optimizer": "Adam", "Comment": "first"}
    assert first.metrics == {"val_acc": 0.91, "F1": 0.9}
    assert first.date == "2024-01-01" and runs[1].date == "today"
    assert math.isnan(runs[2].metrics["val_acc"]) and "epochs" not in runs[2].params
    # No code snapshot: the run's tree holds only .flexgit/.
    assert git(repo, "ls-tree", "--name-only", "exp/experiment_0") == ".flexgit\n"


def test_import_with_explicit_metrics_and_prefixed_columns(repo):
    (repo / "old.csv").write_text("name,lr,score_like,params.depth,metrics.top5\nx,0.1,3,4,0.99\n")
    run, = flexgit.import_csv(repo / "old.csv", metrics=["score_like"], repo=repo)
    assert run.params == {"lr": 0.1, "depth": 4}
    assert run.metrics == {"score_like": 3, "top5": 0.99}
    assert cli(repo, "import", "old.csv", "--metrics", "nothing").err == \
        "Error: --metrics names columns that 'old.csv' lacks: nothing\n"


def test_imported_runs_merge_into_the_table_with_recorded_ones(repo):
    (repo / "old.csv").write_text("name,lr,acc\nold,0.5,0.7\n")
    flexgit.import_csv(repo / "old.csv", repo=repo)
    flexgit.record(name="new", params={"lr": 0.1, "depth": 2}, metrics={"acc": 0.9}, repo=repo)
    result = cli(repo, "table", "--format", "csv", "--columns", "name,lr,depth,acc")
    assert result.out == "name,params.lr,params.depth,metrics.acc\nold,0.5,,0.7\nnew,0.1,2,0.9\n"
    assert "files changed" not in cli(repo, "show", "old").out


def test_import_works_in_a_bare_repository(tmp_path):
    bare = tmp_path / "b.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    (tmp_path / "old.csv").write_text("name,acc\nb1,0.5\n")
    assert cli(bare, "import", str(tmp_path / "old.csv")).code == 0
    assert cli(bare, "table", "--format", "csv", "--columns", "name,acc").out == "name,metrics.acc\nb1,0.5\n"


def test_metric_column_guess():
    assert all(map(is_metric_column, ["val_acc", "F1", "test-loss", "accuracy", "rmse", "train_x", "top1 acc"]))
    assert not any(map(is_metric_column, ["learning_rate", "epochs", "optimizer", "model_arch", "accent",
                                          "test_size", "val_split", "train_steps", "eval_every", "val_file"]))


def test_a_semicolon_or_tab_separated_file_is_read_by_its_delimiter(repo):
    (repo / "semi.csv").write_text('name;lr;val_acc;note\nsemi-a;0.1;0.9;"x; y"\nsemi-b;0.01;0.8;z\n')
    (repo / "tabs.csv").write_text("name\tlr\tval_acc\ntab-a\t0.5\t0.7\n")
    result = cli_in_process(repo, "import", "semi.csv")
    assert result.out == "imported 2 runs from semi.csv\nnote: read as a semicolon-separated file\n", result
    assert cli_in_process(repo, "import", "tabs.csv").out == \
        "imported 1 runs from tabs.csv\nnote: read as a tab-separated file\n"
    runs = {run.name: run for run in flexgit.list_runs(repo=repo)}
    assert runs["semi-a"].params == {"lr": 0.1, "note": "x; y"} and runs["semi-a"].metrics == {"val_acc": 0.9}
    assert runs["tab-a"].params == {"lr": 0.5} and runs["tab-a"].metrics == {"val_acc": 0.7}
    (repo / "one.csv").write_text("acc\n0.5\n0.6\n")  # one column: nothing to sniff, a comma file
    assert cli_in_process(repo, "import", "one.csv").out == "imported 2 runs from one.csv\n"


def test_importing_the_same_rows_twice_is_refused_unless_again(repo):
    (repo / "old.csv").write_text("lr,acc\n0.1,0.9\n0.2,0.8\n")
    assert cli_in_process(repo, "import", "old.csv").code == 0
    first = [run.name for run in flexgit.list_runs(repo=repo)]
    before = repo_state(repo)
    result = cli_in_process(repo, "import", "old.csv")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"Error: 2 of the 2 rows of 'old.csv' were imported before (as {first[0]}, {first[1]}); "
                          "nothing imported. To import them once more, add --again\n")
    assert repo_state(repo) == before
    (repo / "old.csv").write_text("acc,lr\n0.9,0.1\n0.8,0.2\n0.7,0.3\n")  # columns moved, a row added
    result = cli_in_process(repo, "import", "old.csv")
    assert result.err.startswith("Error: 2 of the 3 rows of 'old.csv' were imported before"), result
    assert repo_state(repo) == before
    assert cli_in_process(repo, "import", "old.csv", "--again").out == "imported 3 runs from old.csv\n"
    assert len(flexgit.list_runs(repo=repo)) == 5


def test_again_numbers_names_already_taken(repo):
    (repo / "old.csv").write_text("name,acc\nbase,0.9\n")
    flexgit.import_csv(repo / "old.csv", repo=repo)
    imported = flexgit.import_csv(repo / "old.csv", repo=repo, again=True)
    assert [run.name for run in imported] == ["base-2"]
    assert imported.notes == ["1 row(s) named 'base' recorded as base-2"]


DATES_CSV = """name,date,acc
iso,2023-05-04,1
slashes,2023/05/06,1
dots,04.05.2023,1
dayfirst,13/04/2023,1
either,05/04/2023,1
stamp,2019-07-07 14:30:41.150365,1
zoned,2023-05-04T10:00:00Z,1
word,today,1
impossible,2023-02-30,1
"""


def test_dates_in_common_forms_become_iso_and_the_rest_stays_text(repo):
    (repo / "dates.csv").write_text(DATES_CSV)
    result = cli_in_process(repo, "import", "dates.csv")
    assert result.out == ("imported 9 runs from dates.csv\n"
                          "note: dates like 05/04/2023 read day-first, as 13/04/2023 shows\n"
                          "note: 2 date(s) kept as text, not a date flexgit reads: 'today' (line 9), "
                          "'2023-02-30' (line 10)\n"), result
    dates = {run.name: run.date for run in flexgit.list_runs(repo=repo)}
    assert dates == {"iso": "2023-05-04", "slashes": "2023-05-06", "dots": "2023-05-04", "dayfirst": "2023-04-13",
                     "either": "2023-04-05", "stamp": "2019-07-07T14:30:41.150365", "zoned": "2023-05-04T10:00:00Z",
                     "word": "today", "impossible": "2023-02-30"}


def test_dates_that_read_either_way_need_the_order(repo):
    (repo / "us.csv").write_text("name,date\nus-1,05/04/2023\nus-2,06/07/2023\n")
    before = repo_state(repo)
    refused = cli_in_process(repo, "import", "us.csv")
    assert refused.err == ("Error: 'us.csv': a date like 05/04/2023 reads day-first or month-first; say which with "
                           "--date-order dmy (day first) or --date-order mdy (month first)\n")
    assert repo_state(repo) == before
    result = cli_in_process(repo, "import", "us.csv", "--date-order", "mdy")
    assert result.out == ("imported 2 runs from us.csv\n"
                          "note: dates like 05/04/2023 read month-first, as --date-order mdy says\n")
    assert [run.date for run in flexgit.list_runs(repo=repo)] == ["2023-05-04", "2023-06-07"]


def flex_log() -> pd.DataFrame:
    """A results log as FLEX keeps it: records appended one by one, a name logged again, dates as typed."""
    rows = [("experiment_1", "test my awesome model", "today", "100-100-100", 0.95, "Best model")]
    rows += [("experiment_19", "test another awesome model", "today", "200-200-200", 0.85, "2nd Best model")] * 3
    rows += [("experiment_2", "test another awesome model", "today", "200-200-200", 0.85, "2nd Best model"),
             ("experiment_2", "test another awesome model", str(dt.datetime(2019, 7, 7, 14, 30, 41, 150365)),
              "200-200-200", 0.85, "2nd Best model")]
    frames = [pd.DataFrame([{"name": name, "purpose": purpose, "date": date}]).join(
              pd.DataFrame([{"model_arch": arch, "learning_rate": 0.0001, "epochs": 2, "optimizer": "Adam"}])).join(
              pd.DataFrame([{"val_acc": acc, "F1": 0.92, "Comment": comment}]))
              for name, purpose, date, arch, acc, comment in rows]
    return pd.concat(frames, ignore_index=True)


def test_import_a_log_written_by_flex_with_pandas_to_csv(repo):
    flex_log().to_csv(repo / "results.csv")  # what FLEX's save_logs does: the index is the first column
    assert (repo / "results.csv").read_text().startswith(",name,purpose,date,")
    result = cli_in_process(repo, "import", "results.csv")
    assert result.out == (
        "imported 6 runs from results.csv\n"
        "note: left out the first column: no name, row numbers (the index pandas writes)\n"
        "note: 3 row(s) named 'experiment_19' recorded as experiment_19, experiment_19-2, experiment_19-3\n"
        "note: 2 row(s) named 'experiment_2' recorded as experiment_2, experiment_2-2\n"
        "note: 5 date(s) kept as text, not a date flexgit reads: 'today' (line 2 and 4 more)\n"), result
    runs = flexgit.list_runs(repo=repo)
    assert [run.name for run in runs] == ["experiment_1", "experiment_19", "experiment_19-2", "experiment_19-3",
                                          "experiment_2", "experiment_2-2"]
    assert [run.date for run in runs] == ["today"] * 5 + ["2019-07-07T14:30:41.150365"]
    assert runs[1].params == {"purpose": "test another awesome model", "model_arch": "200-200-200",
                              "learning_rate": 0.0001, "epochs": 2, "optimizer": "Adam", "Comment": "2nd Best model"}
    assert runs[1].metrics == {"val_acc": 0.85, "F1": 0.92}
    assert cli_in_process(repo, "import", "results.csv").err.startswith(
        "Error: 6 of the 6 rows of 'results.csv' were imported before (as experiment_1, experiment_19, experiment_2, "
        "...); nothing imported. To import them once more, add --again")


def test_a_log_read_back_and_written_again_by_pandas_loses_both_index_columns(repo):
    flex_log().to_csv(repo / "results.csv")
    pd.read_csv(repo / "results.csv").to_csv(repo / "again.csv")  # header: ,Unnamed: 0,name,...
    imported = flexgit.import_csv(repo / "again.csv", repo=repo)
    assert imported.notes[0] == "left out the first 2 columns: no name, row numbers (the index pandas writes)"
    assert len(imported) == 6 and all("Unnamed: 0" not in run.params for run in imported)


def test_an_unnamed_first_column_that_is_not_row_numbers_is_refused(repo):
    (repo / "odd.csv").write_text(",acc\nx,1\n")
    assert cli_in_process(repo, "import", "odd.csv").err.startswith("Error: bad key '' in the header of 'odd.csv'")


def _count_objects(repo):
    return dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())


def test_a_large_import_is_written_as_one_pack_with_the_same_table_as_loose_objects(tmp_path, monkeypatch):
    import csv
    import io

    from flexgit.storage import gitrepo
    from flexgit.storage import store as store_module

    rows = 2000
    lines = ["name,date,lr,optimizer,acc"] + [f"r{i},2024-01-{1 + i % 28:02d},{i / 7:.6f},{'ab'[i % 2]},{i % 97}"
                                               for i in range(rows)]
    tables = {}
    for kind in ("packed", "batches", "loose"):
        repo = make_repo(tmp_path / kind)
        (repo / "old.csv").write_text("\n".join(lines) + "\n")
        if kind == "batches":  # a pack each time this much is held, as 16 MB are in an import of 100,000 rows
            monkeypatch.setattr(gitrepo, "PACK_BYTES", 64 * 1024)
        if kind == "loose":
            monkeypatch.setattr(store_module, "PACK_FROM", 10 ** 9)  # the write path every record takes
        assert cli_in_process(repo, "import", "old.csv").code == 0
        table = cli_in_process(repo, "table", "--format", "csv").out
        tables[kind] = [{k: v for k, v in row.items() if k != "id"} for row in csv.DictReader(io.StringIO(table))]
        fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=repo, capture_output=True, text=True)
        assert fsck.returncode == 0 and fsck.stdout + fsck.stderr == "", fsck
    assert tables["packed"] == tables["loose"] == tables["batches"] and len(tables["packed"]) == rows
    assert tables["packed"][5] == {"name": "r5", "date": "2024-01-06", "message": "", "params.lr": "0.714286",
                                   "params.optimizer": "b", "metrics.acc": "5"}
    packed, loose = _count_objects(tmp_path / "packed"), _count_objects(tmp_path / "loose")
    assert int(packed["count"]) < 20 and int(packed["packs"]) == 1 and int(packed["in-pack"]) >= 5 * rows
    assert int(loose["count"]) >= 5 * rows and int(loose["in-pack"]) == 0
    batches = _count_objects(tmp_path / "batches")
    assert int(batches["count"]) < 20 and int(batches["packs"]) > 3
    # every object stored once, in one pack or loose (two imports' objects differ by their times, so
    # their counts are not compared with each other)
    distinct = len(set(git(tmp_path / "batches", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
                       .split()))
    assert int(batches["in-pack"]) + int(batches["count"]) == distinct
    show = cli_in_process(tmp_path / "packed", "show", "r1999")
    assert show.code == 0 and "285.571429" in show.out
