"""scikit-learn autologging: every outermost fit a run at once, searches as a run and a group of candidates."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
from conftest import flexgit_in_process as cli, make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

import flexgit  # noqa: E402
from flexgit.integrations import sklearn as flexgit_sklearn  # noqa: E402


@pytest.fixture
def project(tmp_path):
    repo = make_repo(tmp_path / "project")
    flexgit_sklearn.autolog(repo=repo)
    yield repo
    flexgit_sklearn.autolog(disable=True)


def data():
    X, y = load_iris(return_X_y=True)
    return X[::3], y[::3]


def runs(repo):
    return {run.name: run for run in flexgit.list_runs(repo=repo)}


def test_a_fit_is_a_run_with_params_training_score_and_model(project):
    X, y = data()
    model = LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    run = flexgit_sklearn.last_run()
    assert run is not None and run.status == "ok"
    assert run.params["C"] == 0.5 and run.params["max_iter"] == 500 and run.params["penalty"] in ("deprecated", "l2")
    assert run.metrics["training_score"] == pytest.approx(model.score(X, y))
    assert run.meta["estimator"] == "LogisticRegression" and run.meta["framework"].startswith("scikit-learn ")
    kept = pickle.loads(flexgit.artifact(run.name, "model.pkl", repo=project))
    assert (kept.predict(X) == model.predict(X)).all()
    shape = assert_same_shape(project, run.name, history=False, files=True)
    assert shape["message"] == "fit LogisticRegression"


def test_a_pipeline_is_one_run_with_its_steps_params(project):
    X, y = data()
    Pipeline([("scale", StandardScaler()), ("svc", SVC(C=2.0))]).fit(X, y)
    (run,) = runs(project).values()  # the steps' fits are part of the pipeline's
    assert run.params["svc__C"] == 2.0 and run.params["scale"] == "StandardScaler"
    assert run.params["steps"] == ["scale=StandardScaler", "svc=SVC"]
    assert "training_score" in run.metrics


def test_a_grid_search_is_a_run_and_a_group_of_candidates(project):
    X, y = data()
    search = GridSearchCV(SVC(), {"C": [0.01, 1.0, 10.0], "kernel": ["linear"]}, cv=2).fit(X, y)
    found = runs(project)
    (parent,) = [run for run in found.values() if not run.group]
    candidates = sorted((run for run in found.values() if run.group), key=lambda run: run.name)
    assert len(found) == 4 and len(candidates) == 3  # refit and the candidates' fits made no runs of their own
    assert parent.params["best_params.C"] == search.best_params_["C"]
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.params["estimator"] == "SVC" and parent.params["param_grid.C"] == [0.01, 1.0, 10.0]
    for index, run in enumerate(candidates):
        assert run.group == parent.name and run.parent == parent.id and run.name == f"{parent.name}-{index + 1}"
        assert run.params["C"] == [0.01, 1.0, 10.0][index] and run.params["kernel"] == "linear"
        assert run.metrics["mean_test_score"] == pytest.approx(search.cv_results_["mean_test_score"][index])
        assert run.metrics["rank_test_score"] == search.cv_results_["rank_test_score"][index]
    table = cli(project, "table", "--group-by", "group", "--format", "csv",
                "--columns", "group,runs,mean_test_score.max")
    assert table.code == 0, table
    assert f"{parent.name},3,{search.best_score_}" in table.out.replace("\r", "")
    shown = cli(project, "show", candidates[0].name).out
    assert f"parent   {parent.name}" in shown and f"group    {parent.name}" in shown


def test_a_failing_fit_leaves_a_failed_run(project):
    X, y = data()
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError):
        LogisticRegression().fit(X, y)
    (run,) = runs(project).values()
    assert run.status == "failed" and run.params["C"] == 1.0 and run.metrics == {}
    assert_same_shape(project, run.name, status="failed", history=False)


def test_failed_candidates_are_failed_runs(project):
    X, y = data()
    with pytest.warns(Warning):
        GridSearchCV(LogisticRegression(max_iter=200), {"C": [1.0, -1.0]}, cv=2, error_score=np.nan).fit(X, y)
    statuses = {run.params["C"]: run.status for run in runs(project).values() if run.group}
    assert statuses == {1.0: "ok", -1.0: "failed"}


def test_an_estimator_defined_after_autolog_is_recorded(project):
    class Majority(ClassifierMixin, BaseEstimator):
        def __init__(self, smoothing=1):
            self.smoothing = smoothing

        def fit(self, X, y):
            self.label_ = np.bincount(y).argmax()
            return self

        def predict(self, X):
            return np.full(len(X), self.label_)

    X, y = data()
    with pytest.warns(RuntimeWarning, match="cannot be pickled"):  # a class inside a function
        Majority(smoothing=3).fit(X, y)
    (run,) = runs(project).values()
    assert run.params == {"smoothing": 3} and run.meta["estimator"].endswith("Majority")
    assert run.status == "ok" and "Can't pickle" in run.meta["model_left_out"]


def test_disable_restores_plain_fits(project):
    flexgit_sklearn.autolog(disable=True)
    X, y = data()
    LogisticRegression().fit(X, y)
    assert runs(project) == {}
    assert "flexgit" not in LogisticRegression.fit.__code__.co_filename


class SecretParams(ClassifierMixin, BaseEstimator):
    """An estimator whose get_params raises (a third-party one that breaks scikit-learn's convention)."""

    def get_params(self, deep=True):
        raise RuntimeError("params are computed lazily")

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_what_flexgit_cannot_do_inside_a_fit_is_a_warning_and_the_fit_goes_on(project):
    X, y = data()
    with pytest.warns(RuntimeWarning, match=r"could not read the params of SecretParams \(RuntimeError: params"):
        fitted = SecretParams().fit(X, y)
    assert list(fitted.classes_) == [0, 1, 2]
    (run,) = runs(project).values()
    assert run.status == "ok" and run.params == {} and "training_score" in run.metrics
    (project / ".flexgit.toml").write_text("outputs = [\n")  # no record can read the settings now
    with pytest.warns(RuntimeWarning, match=r"could not record this training \(InputError: settings file"):
        model = LogisticRegression(max_iter=500).fit(X, y)
    assert model.score(X, y) > 0.5


class Weighted(ClassifierMixin, BaseEstimator):
    def __init__(self, weights=None, table=None):
        self.weights, self.table = weights, table

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self


def test_data_given_as_a_param_is_described_not_kept_whole(project):
    X, y = data()
    Weighted(weights=list(range(100_000)), table=np.arange(1_000_000)).fit(X, y)
    Weighted(weights=[0.5, 0.25]).fit(X, y)
    large, small = sorted(runs(project).values(), key=lambda run: run.date + run.time)
    assert isinstance(large.params["weights"], str) and len(large.params["weights"]) <= 200
    assert isinstance(large.params["table"], str) and len(large.params["table"]) <= 200
    assert small.params["weights"] == [0.5, 0.25]


SCRIPT = """
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV
from flexgit.integrations import sklearn as flexgit_sklearn

flexgit_sklearn.autolog()


class Mine(ClassifierMixin, BaseEstimator):  # defined in __main__: joblib's workers get it pickled by value
    def __init__(self, c=1):
        self.c = c

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


if __name__ == "__main__":
    X = np.random.default_rng(0).random((40, 3))
    GridSearchCV(Mine(), {"c": [1, 2, 3]}, n_jobs=2, cv=2).fit(X, (X[:, 0] > 0.5).astype(int))
"""


def test_a_parallel_search_of_a_scripts_own_estimator_runs_and_its_workers_record_nothing(tmp_path):
    repo = make_repo(tmp_path / "script")
    (repo / "search.py").write_text(SCRIPT)
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "search.py"], cwd=repo, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-2000:]
    found = runs(repo)
    (search,) = [run for run in found.values() if not run.group]
    assert search.status == "ok" and sorted(found) == sorted([search.name] + [f"{search.name}-{i}" for i in (1, 2, 3)])
