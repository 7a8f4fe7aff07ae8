"""Keras 3 (torch backend): FlexgitCallback records a fit as a run; a fit that raises is a failed run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import numpy as np  # noqa: E402
from conftest import make_repo  # noqa: E402
from integration_shape import assert_same_shape  # noqa: E402

import flexgit  # noqa: E402
from flexgit.integrations.keras import FlexgitCallback  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def tiny():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)],
                             name="tiny")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


def data():
    x = np.random.default_rng(0).normal(size=(24, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_a_fit_is_a_run_with_a_model_summary_and_epoch_history(tmp_path):
    repo = make_repo(tmp_path / "project")
    x, y = data()
    with FlexgitCallback(repo=repo, name="keras-fit") as callback:
        tiny().fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, callbacks=[callback])
    run = callback.run
    assert run.name == "keras-fit" and run.status == "ok"
    assert run.params["model.class"] == "Sequential" and run.params["model.name"] == "tiny"
    assert run.params["model.params"] == 3 * 4 + 4 + 4 + 1
    assert run.params["model.layers.0.class"] == "Dense" and run.params["model.layers.0.units"] == 4
    assert run.params["model.layers.0.activation"] == "relu"
    assert run.params["optimizer.learning_rate"] == pytest.approx(0.05) and run.params["fit.epochs"] == 3
    assert run.params["loss"] == "mse"
    assert run.meta["history_steps"] == 3 and {"loss", "val_loss"} <= set(run.metrics)
    assert run.meta["framework"].startswith(f"keras {keras.__version__}")
    assert_same_shape(repo, run.name)


def test_a_failing_training_step_leaves_a_failed_run(tmp_path):
    repo = make_repo(tmp_path / "project")
    calls = []

    def exploding(y_true, y_pred):
        calls.append(1)
        if len(calls) > 4:  # the second epoch
            raise FloatingPointError("loss exploded")
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    model = tiny()
    model.compile(optimizer="sgd", loss=exploding)
    x, y = data()
    with pytest.raises(FloatingPointError), FlexgitCallback(repo=repo) as callback:
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    (run,) = flexgit.list_runs(repo=repo)
    assert run.status == "failed" and run.meta["history_steps"] == 1  # the epoch before the failure
    assert "exploding" in run.params["loss"]
    assert_same_shape(repo, run.name, status="failed")


SCRIPT = '''
import numpy as np, keras
from flexgit.integrations.keras import FlexgitCallback

class Stop(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise {error}

model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
x = np.ones((4, 2), "float32")
model.fit(x, x[:, :1], epochs=4, verbose=0, callbacks=[FlexgitCallback(), Stop()])
'''


@pytest.mark.parametrize("error, status", [("RuntimeError('boom')", "failed"), ("KeyboardInterrupt", "interrupted")])
def test_a_script_that_dies_in_fit_leaves_a_run(tmp_path, error, status):
    """No `with`: the process's exit records the training that began and never ended."""
    repo = make_repo(tmp_path / "project")
    (repo / "train.py").write_text(SCRIPT.format(error=error))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, "train.py"], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode != 0
    (run,) = flexgit.list_runs(repo=repo)
    assert run.status == status and run.meta["history_steps"] == 2, done.stderr


class Opaque(keras.layers.Layer):
    """A custom layer whose get_config fails, as Keras's does for a layer with arguments it cannot name."""

    def call(self, inputs):
        return inputs

    def get_config(self):
        raise TypeError("Opaque.__init__() has arguments get_config cannot serialise")


def test_a_model_flexgit_cannot_summarise_still_trains_and_is_recorded_with_a_warning(tmp_path):
    repo = make_repo(tmp_path / "project")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), Opaque(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    with pytest.warns(RuntimeWarning, match=r"could not keep a summary of the model as params \(TypeError"):
        history = model.fit(x, y, epochs=2, verbose=0, callbacks=[FlexgitCallback(repo=repo)])
    assert len(history.history["loss"]) == 2
    (run,) = flexgit.list_runs(repo=repo)
    assert run.status == "ok" and run.meta["history_steps"] == 2
