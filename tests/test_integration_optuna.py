"""Optuna: each trial a run in the study's group, pruned and failed trials with their status."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from conftest import flexgit_in_process as cli, make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402

import flexgit  # noqa: E402
from flexgit.integrations.optuna import FlexgitCallback  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)


def objective(trial):
    x = trial.suggest_float("x", -4.0, 4.0)
    depth = trial.suggest_int("depth", 1, 3)
    trial.set_user_attr("note", "grid")
    for step in range(3):
        trial.report((x - 1) ** 2 + step, step)
    if trial.number == 1:
        raise optuna.TrialPruned()
    if trial.number == 2:
        raise ValueError("diverged")
    return (x - 1) ** 2 + depth


def test_each_trial_is_a_run_in_the_study_group(tmp_path):
    repo = make_repo(tmp_path / "project")
    study = optuna.create_study(study_name="tune-x", sampler=optuna.samplers.RandomSampler(seed=0))
    callback = FlexgitCallback(repo=repo)
    study.optimize(objective, n_trials=4, callbacks=[callback], catch=(ValueError,))
    runs = {run.name: run for run in flexgit.list_runs(repo=repo)}
    assert sorted(runs) == ["tune-x-0", "tune-x-1", "tune-x-2", "tune-x-3"]
    assert [runs[f"tune-x-{i}"].status for i in range(4)] == ["ok", "pruned", "failed", "ok"]
    for trial in study.trials:
        run = runs[f"tune-x-{trial.number}"]
        assert run.group == "tune-x" and run.meta["trial"] == trial.number
        assert run.params["x"] == trial.params["x"] and run.params["depth"] == trial.params["depth"]
        assert run.params["user_attrs.note"] == "grid"
        assert run.meta["history_steps"] == 3  # the reported intermediate values
    assert runs["tune-x-0"].metrics["value"] == pytest.approx(study.trials[0].value)
    assert runs["tune-x-1"].metrics["value"] == pytest.approx(study.trials[1].value)  # optuna's: the last reported
    assert "value" not in runs["tune-x-2"].metrics and runs["tune-x-2"].metrics["intermediate_value"] == pytest.approx(
        study.trials[2].intermediate_values[2])
    assert_same_shape(repo, "tune-x-0")
    assert_same_shape(repo, "tune-x-1", status="pruned")
    table = cli(repo, "table", "--group-by", "group", "--format", "csv", "--columns", "group,runs,value.count")
    assert table.code == 0, table
    assert table.out.splitlines()[1:] == ["tune-x,4,3"]  # a failed trial has no value


def test_a_trial_whose_error_optuna_raises_is_recorded_by_record_trials(tmp_path):
    repo = make_repo(tmp_path / "project")
    study = optuna.create_study(study_name="crash")
    callback = FlexgitCallback(repo=repo, metric_names="loss")

    def crashing(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise RuntimeError("out of memory")
        return x

    with pytest.raises(RuntimeError):
        try:
            study.optimize(crashing, n_trials=3, callbacks=[callback])
        finally:
            recorded = callback.record_trials(study)
    assert [run.name for run in recorded] == ["crash-1"]  # trial 0 was recorded by the callback
    runs = {run.name: run for run in flexgit.list_runs(repo=repo)}
    assert runs["crash-0"].status == "ok" and "loss" in runs["crash-0"].metrics
    assert runs["crash-1"].status == "failed" and runs["crash-1"].params["x"] == study.trials[1].params["x"]
    assert callback.record_trials(study) == []  # nothing twice
    assert FlexgitCallback(repo=repo, metric_names="loss").record_trials(study) == []  # nor from a new callback


def test_two_studies_of_one_name_through_one_callback_each_keep_every_trial(tmp_path):
    """Their trials are numbered alike: the second study's used to be taken for the first's, and dropped."""
    repo = make_repo(tmp_path / "project")
    callback = FlexgitCallback(repo=repo)
    for jobs in (2, 1):  # trials of the first study end in two threads
        study = optuna.create_study(study_name="again", sampler=optuna.samplers.RandomSampler(seed=jobs))
        study.optimize(lambda trial: trial.suggest_categorical("choice", [None, 1, "a", 2.5]) and 1.0,
                       n_trials=4, n_jobs=jobs, callbacks=[callback])
    runs = [run for run in flexgit.list_runs(repo=repo) if run.group == "again"]
    assert len(runs) == 8 and len(callback.runs) == 8
    assert sorted(run.meta["trial"] for run in runs) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert {run.params["choice"] for run in runs} <= {"None", 1, "a", 2.5}


def test_a_trial_flexgit_cannot_record_is_a_warning_and_the_study_goes_on(tmp_path):
    repo = make_repo(tmp_path / "project")
    (repo / ".flexgit.toml").write_text("outputs = [\n")
    study = optuna.create_study(study_name="broken")
    with pytest.warns(RuntimeWarning, match=r"flexgit could not record trial 0 \(InputError: settings file"):
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3, callbacks=[FlexgitCallback(repo=repo)])
    assert len(study.trials) == 3 and all(t.state.name == "COMPLETE" for t in study.trials)
