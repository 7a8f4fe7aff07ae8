"""FLEX's components, Experiment and Application, recording through the git store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import flexgit
from flexgit import Application, BaseDataLoader, BaseLearner, BaseModel, Configuration, Experiment
from flexgit.components import ArtifactError
from flexgit.errors import InputError, UnknownRunError
from flexgit.runs import split_data
from conftest import git, make_repo, repo_state

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "flex"


class Numbers(BaseDataLoader):
    def load_data(self):
        xs = list(range(40))
        return xs, [2 * x + 1 for x in xs]


class LineModel(BaseModel):
    """y = a x + b, fitted by least squares; its state is two floats."""

    def predict(self, data):
        return [self.a * x + self.b for x in data[0]]


class OtherModel(LineModel):
    pass


class LeastSquares(BaseLearner):
    def train(self, train_data, model):
        xs, ys = train_data
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
        model.a = covariance / sum((x - mean_x) ** 2 for x in xs)
        model.b = mean_y - model.a * mean_x

    def test(self, test_data, model):
        error = max(abs(p - y) for p, y in zip(model.predict(test_data), test_data[1], strict=True))
        return {"max_error": round(error, 9), "n_test": len(test_data[0])}


def experiment(config=None):
    config = config or Configuration([{"name": "line", "purpose": "fit a line"}, {"test_size": 0.25, "seed": 3}, {}])
    return Experiment(loader=Numbers(config=config), model=LineModel(config=config),
                      learner=LeastSquares(config=config), config=config)


def test_abstract_methods_must_be_implemented():
    with pytest.raises(TypeError):
        BaseDataLoader()
    with pytest.raises(TypeError):
        BaseModel()


def test_split_is_driven_by_the_config_and_keeps_pairs_together():
    (train_x, train_y), (test_x, test_y) = split_data((list(range(10)), list(range(10, 20))), test_size=0.3, seed=1)
    assert len(test_x) == 3 and len(train_x) == 7 and sorted(train_x + test_x) == list(range(10))
    assert [y - 10 for y in test_y] == test_x
    assert split_data(list(range(10)), test_size=0.3, seed=1)[1] == test_x
    assert split_data(list(range(10)), test_size=2, shuffle=False) == (list(range(2, 10)), [0, 1])
    with pytest.raises(InputError, match="leaves no train or no test data"):
        split_data([1, 2], test_size=0.1)


def test_run_trains_on_the_train_part_and_tests_on_the_rest():
    exp = experiment()
    metrics = exp.run()
    assert metrics == {"max_error": 0.0, "n_test": 10}
    assert exp.config.results == metrics


def test_a_metric_named_like_a_param_is_refused():
    class Clashing(LeastSquares):
        def test(self, test_data, model):
            return {"seed": 1}

    exp = experiment()
    exp.learner = Clashing()
    with pytest.raises(InputError, match="key 'seed' is in both params and results"):
        exp.run()


def test_save_records_the_run_with_its_model_and_load_serves_it(repo, monkeypatch):
    monkeypatch.chdir(repo)
    exp = experiment()
    exp.run()
    before_status = repo_state(repo)["status"]
    run = exp.save({"branch": "experiments", "tag": "line"})
    assert repo_state(repo)["status"] == before_status
    assert run.name == "line" and run.metrics["max_error"] == 0.0 and run.params["seed"] == 3
    assert git(repo, "ls-tree", "--name-only", "exp/line:.flexgit/artifacts") == "model\n"
    assert flexgit.show("line").run.message == "fit a line"

    loaded = Experiment().load({"branch": "experiments", "tag": "line"})
    config = loaded.config
    assert config.meta_data == {"name": "line", "purpose": "fit a line"}
    assert config.params == {"test_size": 0.25, "seed": 3} and config.results["max_error"] == 0.0
    assert config.run.commit == run.id and loaded.recorded.id == run.id
    fresh = LineModel(config=config)
    predictions = Application(loader=Numbers(config=config), model=fresh, config=config).run()
    assert predictions[:3] == [1.0, 3.0, 5.0] and fresh.a == pytest.approx(2.0)

    with pytest.raises(ArtifactError, match="the recorded model is a .*LineModel, not a .*OtherModel"):
        Application(loader=Numbers(config=config), model=OtherModel(config=config), config=config).run()


def test_load_of_an_unknown_tag_changes_nothing(repo, monkeypatch):
    monkeypatch.chdir(repo)
    before = repo_state(repo)
    with pytest.raises(UnknownRunError, match="no run named 'nope'"):
        Experiment().load({"branch": "experiments", "tag": "nope"})
    assert repo_state(repo) == before


def test_saving_under_a_taken_name_is_refused_or_numbered(repo, monkeypatch):
    monkeypatch.chdir(repo)
    exp = experiment()
    exp.run()
    exp.save({"tag": "once"})
    before = repo_state(repo)
    with pytest.raises(flexgit.FlexgitError) as refused:
        exp.save({"tag": "once"})
    assert str(refused.value) == ("a run named 'once' already exists; save under another tag, "
                                  "or pass if_exists='number' to record it as 'once-2'")
    assert repo_state(repo) == before
    second, third = exp.save({"tag": "once"}, if_exists="number"), exp.save({"tag": "once"}, if_exists="number")
    assert (second.name, third.name) == ("once-2", "once-3")
    assert flexgit.show("once-3").run.id == third.id == exp.recorded.id
    with pytest.raises(InputError, match="if_exists is 'error' or 'number'"):
        exp.save({"tag": "once"}, if_exists="overwrite")


def test_application_loads_a_model_from_model_path(tmp_path):
    model = LineModel()
    model.a, model.b = 3.0, 1.0
    model.save(tmp_path / "model.pkl")
    config = Configuration({"model_path": str(tmp_path / "model.pkl")})
    assert Application(loader=Numbers(), model=LineModel(), config=config).run()[:2] == [1.0, 4.0]
    with pytest.raises(InputError, match="names no recorded run and no model_path"):
        Application(loader=Numbers(), model=LineModel(), config=Configuration()).run()
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ArtifactError, match="is not a model saved by BaseModel.save"):
        LineModel().load(tmp_path / "junk.pkl")


def run_example(tmp_path, *modules):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLES, project)
    make_repo(project, commit=False)
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "example")
    outputs = []
    for module, *args in modules:
        done = subprocess.run([sys.executable, "-m", module, *args], cwd=project, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(flexgit.__file__).parent.parent)})
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    return project, outputs


def test_sklearn_example_trains_records_reloads_and_serves(tmp_path):
    pytest.importorskip("sklearn")
    project, (train, serve) = run_example(tmp_path, ("runs.train_sklearn",), ("runs.serve", "sklearn-logreg"))
    assert "recorded sklearn-logreg" in train
    assert serve.startswith("569 predictions; accuracy on the whole data set 0.9")
    run = flexgit.show("sklearn-logreg", repo=project).run
    assert run.metrics["accuracy"] > 0.9 and run.params["C"] == 1.0


def test_sklearn_example_runs_twice_and_records_a_second_run(tmp_path):
    pytest.importorskip("sklearn")
    project, (first, second) = run_example(tmp_path, ("runs.train_sklearn",), ("runs.train_sklearn",))
    ids = [flexgit.show(name, repo=project).run.short_id for name in ("sklearn-logreg", "sklearn-logreg-2")]
    assert first.endswith(f"recorded sklearn-logreg ({ids[0]})\n")
    assert second.endswith(f"recorded sklearn-logreg-2 ({ids[1]})\n")


def test_torch_example_uses_the_same_loader_and_preprocessor(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    project, (train, serve) = run_example(tmp_path, ("runs.train_torch",), ("runs.serve", "torch-mlp"))
    assert "recorded torch-mlp" in train
    assert serve.startswith("569 predictions; accuracy on the whole data set 0.9")
    assert flexgit.show("torch-mlp", repo=project).run.metrics["accuracy"] > 0.85
