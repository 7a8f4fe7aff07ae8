"""Keras 3: `FlexgitCallback`, a `keras.callbacks.Callback` that records `model.fit` as a run.

    from flexgit.integrations.keras import FlexgitCallback
    with FlexgitCallback() as callback:      # the `with` records a fit that raises as failed
        model.fit(x, y, epochs=10, callbacks=[callback])

At `on_train_begin` a summary of the model becomes the run's params: its class, name and number of
weights (`model.class`, `model.name`, `model.params`), each layer's class and plain settings
(`model.layers.0.class = Dense`, `model.layers.0.units = 16`), the optimizer's settings
(`optimizer.learning_rate`) and fit's own (`fit.epochs`, `fit.steps`); each epoch's logs are a
step of its history (`loss`, `val_loss`, ...; the last values are in its row); `on_train_end`
records it, status `ok`. Keras has no callback for an exception, so a fit that raises is recorded
`failed` (`interrupted` for Ctrl-C) when it leaves the callback's `with` block, or at the exit of
a process that dies of it. Any Keras 3 backend works. The class is built on first use, so
importing this module does not import Keras.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ._runs import RecordsTraining, Training, built_on_use, describe, never_stops_training, params_of, require, value_of

LEFT_OUT = ("name", "dtype", "trainable")  # a layer's settings that say nothing of the model


@functools.cache
def _callback_class() -> type:
    keras = require("keras", "keras")

    class FlexgitCallback(RecordsTraining, keras.callbacks.Callback):
        """Record a Keras fit as a run: a summary of the model as params, epoch logs as history, status."""

        def __init__(self, name: str | None = None, message: str | None = None, group: str | None = None,
                     repo: str | os.PathLike | None = None, branch: str | None = None) -> None:
            super().__init__()
            self.training = Training(name=name, message=message, group=group, repo=repo, branch=branch,
                                     meta={"framework": _framework()})

        def on_train_begin(self, logs=None):
            if self.training.run is None:
                with never_stops_training("keep a summary of the model as params"):
                    self.training.params.update(model_params(self.model))
                    self.training.params.update(params_of(dict(self.params or {}), "fit."))
                self.training.begin()

        def on_epoch_end(self, epoch, logs=None):
            if logs and self.training.run is None:
                self.training.log(logs, step=epoch)

        def on_train_end(self, logs=None):
            self.training.finish("ok")

    FlexgitCallback.__module__ = __name__
    return FlexgitCallback


def model_params(model: Any) -> dict[str, Any]:
    """A summary of a Keras model as flat params: the model, its layers' plain settings, its optimizer."""
    params: dict[str, Any] = {"model.class": type(model).__name__, "model.name": str(model.name)}
    try:
        params["model.params"] = int(model.count_params())
    except ValueError:  # a model not built yet
        pass
    for index, layer in enumerate(model.layers):
        params[f"model.layers.{index}.class"] = type(layer).__name__
        try:
            config = layer.get_config()
        except NotImplementedError:
            continue
        for key, value in config.items():
            stored = value_of(value) if key not in LEFT_OUT and not isinstance(value, dict) else None
            if stored is not None:
                params[f"model.layers.{index}.{key}"] = stored
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        params.update(params_of(optimizer.get_config(), "optimizer."))
    loss = getattr(model, "loss", None)
    if loss is not None:
        params["loss"] = loss if isinstance(loss, str) else describe(loss)
    return params


@functools.cache
def _framework() -> str:
    import keras

    return f"keras {keras.__version__} ({keras.backend.backend()})"


__getattr__ = built_on_use(__name__, FlexgitCallback=_callback_class)
