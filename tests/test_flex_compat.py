"""Code written against the FLEX library itself (ahmadelsallab/flex: flex/config, flex/runs, example/)
runs with `flexgit` in place of `flex`: a small project in FLEX's own forms, end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import flexgit
from flexgit.config import Configuration
from flexgit.errors import InputError
from flexgit.runs import Experiment
from conftest import git, make_repo

# FLEX's example/ layout: configs/ data/ models/ learners/ runs/, each written as FLEX's own code is.
PROJECT = {
    "configs/__init__.py": "",
    "configs/custom_config.py": """
import pandas as pd
from flexgit.config import Configuration

meta = {'name': 'exp1', 'objective': 'test'}
params = {'test_size': 0.25, 'seed': 1, 'model_file': 'models/line.json'}
results = {'acc': 0.0, 'comment': 'first try'}
config = pd.concat([pd.DataFrame([meta], index=[0]), pd.DataFrame([params], index=[0]),
                    pd.DataFrame([results], index=[0])], axis=1)

# Form configs
config = Configuration(config=config)
""",
    "data/__init__.py": "",
    "data/custom_loaders.py": """
from flexgit.data import BaseDataLoader, RawData


class LineLoader(BaseDataLoader):
    def __init__(self, config):
        super().__init__(config)

    def load_data(self, *args, **kwargs) -> RawData:
        xs = [i / 10 for i in range(40)]
        return RawData(xs, [3 * x + 1 for x in xs])
""",
    "data/custom_preprocessors.py": """
from flexgit.data import BaseDataPreprocessor, Data, RawData


class Double(BaseDataPreprocessor):
    def __init__(self, config):
        super().__init__(config)

    def preprocess_data(self, data: RawData, *args, **kwargs) -> Data:
        return Data([2 * x for x in data.x], data.y)
""",
    "models/__init__.py": "",
    "models/custom_models.py": """
import json

from flexgit.models import BaseModel


class LineModel(BaseModel):
    '''FLEX's models keep their own file: save() and load() take no path.'''

    def __init__(self, config):
        super().__init__(config=config)

    def build(self, *args, **kwargs):
        self.a, self.b = 0.0, 0.0

    def save(self):
        with open(self.config()['model_file'], 'w') as f:
            json.dump({'a': self.a, 'b': self.b}, f)

    def load(self):
        with open(self.config()['model_file']) as f:
            self.__dict__.update(json.load(f))

    def predict(self, data, *args, **kwargs):
        return [self.a * x + self.b for x in data.x]
""",
    "learners/__init__.py": "",
    "learners/custom_learners.py": """
from flexgit.learners import BaseLearner


class LeastSquares(BaseLearner):
    '''FLEX's learners take (model, data) and report by changing the configuration.'''

    def __init__(self, config):
        super().__init__(config=config)

    def train(self, model, train_data, *args, **kwargs):
        xs, ys = train_data.x, train_data.y
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        model.a = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        model.b = mean_y - model.a * mean_x

    def test(self, model, test_data, *args, **kwargs):
        error = max(abs(p - y) for p, y in zip(model.predict(test_data), test_data.y))
        self.config.add_config_attribs({'acc': 1.0 if error < 1e-9 else 0.0, 'max_error': round(error, 9)})
""",
    "runs/__init__.py": "",
    "runs/example_runner.py": """
from configs.custom_config import config
from data.custom_loaders import LineLoader
from data.custom_preprocessors import Double
from learners.custom_learners import LeastSquares
from models.custom_models import LineModel
from flexgit.runs import Experiment

experiment = Experiment(loader=LineLoader(config=config), preprocessor=Double(config=config),
                        model=LineModel(config=config), learner=LeastSquares(config=config), config=config)
experiment.run()
print('acc', config()['acc'], config().max_error, config.experiment_info['comment'])
run = experiment.save('configs/config.json', {'branch': 'experiments', 'tag': config()['name']})
print('recorded', run.name)
""",
    "runs/example_app.py": """
from data.custom_loaders import LineLoader
from data.custom_preprocessors import Double
from models.custom_models import LineModel
from flexgit.runs import Application, Experiment

experiment = Experiment().load(git_info={'branch': 'experiments', 'tag': 'exp1'})
config = experiment.config
app = Application(LineLoader(config), Double(config), LineModel(config), config)
print('predictions', [round(p, 9) for p in app.run()[:3]])
""",
    "runs/log_results.py": """
import pandas as pd
from flexgit.config import Configuration

experiment = Configuration(meta_data={'name': 'exp2', 'purpose': 'log only'}, params={'lr': 0.2},
                           performance={'acc': 0.7})
experiment.from_df(pd.DataFrame([{'name': 'old_1', 'lr': 0.1, 'acc': 0.5}]))
experiment.add_logs(csv_file='results_old.csv')
experiment.log({'name': 'exp3', 'purpose': 'logged'}, {'lr': 0.3}, {'acc': 0.8})
print(experiment.experiment_info['name'], experiment()['lr'], experiment.performance)
experiment.to_csv('runs/results.csv')
experiment.to_json('runs/results.json')
experiment.to_yaml('configs/exp3.yaml')

from_csv = Configuration()
from_csv.from_csv('runs/results.csv')
print(list(from_csv.logs['name']))
again = Configuration()
again.from_json('runs/results.json')
again.from_yaml('configs/exp3.yaml')
print(list(again.logs['name']), again.meta_data, again.params, again.performance)
""",
}


def run_module(project: Path, module: str) -> str:
    done = subprocess.run([sys.executable, "-m", module], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(flexgit.__file__).parent.parent)})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def project(tmp_path) -> Path:
    root = make_repo(tmp_path / "flexproject", commit=False)
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip())
    (root / "results_old.csv").write_text("name,lr,acc,dropout\nold_2,0.01,0.6,0.5\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "a FLEX project")
    return root


def test_a_flex_project_trains_records_and_serves(project):
    train = run_module(project, "runs.example_runner")
    assert train == "acc 1.0 0.0 first try\nrecorded exp1\n"
    run = flexgit.show("exp1", repo=project).run
    assert run.metrics == {"acc": 1.0, "max_error": 0.0}
    assert run.params == {"objective": "test", "test_size": 0.25, "seed": 1, "model_file": "models/line.json",
                          "comment": "first try"}
    # save(config_file, git_info): the config file is written first, so the run's code holds it.
    assert json.loads(git(project, "show", "exp/exp1:configs/config.json"))["results"]["acc"] == 1.0
    # The model saved itself to its own file; the run keeps that file as its model.
    model = json.loads(git(project, "show", "exp/exp1:.flexgit/artifacts/model"))
    assert model == json.loads((project / "models" / "line.json").read_text())
    assert model["a"] == pytest.approx(1.5)

    assert run_module(project, "runs.example_app") == "predictions [1.0, 1.3, 1.6]\n"


def test_flex_configuration_log_api(project):
    out = run_module(project, "runs.log_results")
    assert out.splitlines() == ["exp3 0.3 {'acc': 0.8}", "['old_1', 'old_2', 'exp2', 'exp3']",
                                "['old_1', 'old_2', 'exp2', 'exp3', 'exp3'] {'name': 'exp3', 'purpose': 'logged'} "
                                "{'lr': 0.3} {'acc': 0.8}"]
    logs = pd.read_csv(project / "runs" / "results.csv")
    assert list(logs["name"]) == ["old_1", "old_2", "exp2", "exp3"]
    assert math.isnan(logs.loc[0, "dropout"]) and logs.loc[3, "lr"] == 0.3


def test_configuration_forms_of_flex(tmp_path):
    frame = pd.concat([pd.DataFrame([{"name": "e", "date": "today"}]), pd.DataFrame([{"lr": 0.1, "epochs": 2}]),
                       pd.DataFrame([{"val_acc": 0.9, "F1": 0.8}])], axis=1)
    config = Configuration(config=frame)
    assert config.meta_data == {"name": "e", "date": "today"}
    assert config.params == {"lr": 0.1, "epochs": 2} and type(config.params["epochs"]) is int
    assert config.results == {"val_acc": 0.9, "F1": 0.8} and config.performance == config.results
    assert config() == config.config and config().lr == 0.1 and config()["F1"] == 0.8
    with pytest.raises(AttributeError, match="the record has no key 'nope'"):
        assert config().nope
    with pytest.raises(InputError, match="a config DataFrame holds one record"):
        Configuration(config=pd.concat([frame, frame]))
    with pytest.raises(InputError, match="give the record one way"):
        Configuration(config=frame, params={"lr": 1})
    keyword = Configuration(meta_data={"name": "k"}, params={"lr": 1}, performance={"acc": 1.0})
    assert (keyword.meta_data, keyword.params, keyword.results) == ({"name": "k"}, {"lr": 1}, {"acc": 1.0})
    keyword.log({"name": "k2"}, {"lr": 2}, {"acc": 0.5})
    assert list(keyword.logs["name"]) == ["k", "k2"] and keyword.experiment_info.name == "k2"


def test_files_flex_writes_load(tmp_path):
    """FLEX's own writers: to_csv with the index, to_json by index, to_pickle of its one-row DataFrame."""
    frame = pd.DataFrame([{"name": "e", "lr": 0.1, "acc": 0.9}])
    frame.to_csv(tmp_path / "config.csv")
    frame.to_json(tmp_path / "config.json", orient="index")
    frame.to_pickle(tmp_path / "config.pkl")
    for name in ("config.csv", "config.json", "config.pkl"):
        config = Configuration(config=str(tmp_path / name))
        assert (config.meta_data, config.params, config.results) == ({"name": "e"}, {"lr": 0.1}, {"acc": 0.9}), name
    logs = pd.DataFrame([{"name": "a", "acc": 0.5}, {"name": "b", "acc": 0.6}])
    logs.to_csv(tmp_path / "logs.csv")
    logs.to_json(tmp_path / "logs.json")  # pandas' default: {column: {row: value}}
    for name in ("logs.csv", "logs.json"):
        loaded = Configuration(logs=str(tmp_path / name)).logs
        assert list(loaded.columns) == ["name", "acc"] and list(loaded["name"]) == ["a", "b"], name


def flex_components() -> dict:
    """The project's loader, model and learner classes, from the same FLEX-style source."""
    namespace: dict = {}
    for name in ("data/custom_loaders.py", "models/custom_models.py", "learners/custom_learners.py"):
        exec(compile(PROJECT[name], name, "exec"), namespace)
    return namespace


def test_experiment_save_and_load_take_flex_arguments(project, monkeypatch):
    monkeypatch.chdir(project)
    parts = flex_components()
    config = Configuration(meta_data={"name": "kw"}, params={"model_file": "line.json", "test_size": 0.5},
                           performance={})
    experiment = Experiment(parts["LineLoader"](config), None, parts["LineModel"](config),
                            parts["LeastSquares"](config), config)
    experiment.run()
    run = experiment.save(config_file="kw.json", git_info={"branch": "experiments", "tag": "kw"})
    assert run.name == "kw" and (project / "kw.json").is_file()
    assert Experiment().load(git_info={"tag": "kw"}).config.results == {"acc": 1.0, "max_error": 0.0}
    from_file = Experiment().load("kw.json")
    assert from_file.config.params["model_file"] == "line.json" and from_file.recorded is None
    with pytest.raises(InputError, match="say where to record once"):
        experiment.save({"tag": "x"}, git_info={"tag": "y"})

    class StartingPoint(parts["LeastSquares"]):
        """Trains nothing: reports the model it was given."""

        def train(self, model, train_data, *args, **kwargs):
            self.seen = (model.a, model.b)

    # As FLEX: a config whose model_file exists trains on from that model instead of building anew.
    (project / "line.json").write_text('{"a": 7.0, "b": 7.0}')
    experiment.learner = StartingPoint(config)
    experiment.run()
    assert experiment.learner.seen == (7.0, 7.0)
