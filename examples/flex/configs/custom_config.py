"""The example's configurations: the same data settings, one model section per framework."""

from flexgit import Configuration

DATA = {"test_size": 0.25, "seed": 0}


def sklearn_config() -> Configuration:
    meta_data = {"name": "sklearn-logreg", "purpose": "logistic regression baseline", "framework": "sklearn"}
    return Configuration([meta_data, {**DATA, "C": 1.0, "max_iter": 2000}, {}])


def torch_config() -> Configuration:
    meta_data = {"name": "torch-mlp", "purpose": "the same task with a small MLP", "framework": "torch"}
    return Configuration([meta_data, {**DATA, "hidden": 16, "epochs": 200, "lr": 0.01}, {}])
