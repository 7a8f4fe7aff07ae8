"""`import`: historical CSV results become runs without a code snapshot."""

from __future__ import annotations

import math

import flexgit
from flexgit.verbs.import_csv import is_metric_column
from conftest import flexgit as cli, git

SEED_CSV = """name,purpose,date,model_arch,learning_rate,epochs,optimizer,val_acc,F1,Comment
experiment_0,baseline,2024-01-01,100-100,0.001,2,Adam,0.91,0.9,first
experiment_1,test my awesome model,today,100-100-100,0.0001,2,Adam,0.95,0.92,Best model
,no name,,50,0.1,,SGD,nan,,
"""


def test_import_seed_results_with_default_metric_guess(repo):
    (repo / "results_old.csv").write_text(SEED_CSV)
    result = cli(repo, "import", "results_old.csv")
    assert (result.code, result.out) == (0, "imported 3 runs from results_old.csv\n"), result
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
    assert not any(map(is_metric_column, ["learning_rate", "epochs", "optimizer", "model_arch", "accent"]))
