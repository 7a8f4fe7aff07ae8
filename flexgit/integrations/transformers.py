"""Hugging Face Transformers: `FlexgitCallback`, a `TrainerCallback` that records the training as a run.

    from flexgit.integrations.transformers import FlexgitCallback
    with FlexgitCallback() as callback:      # the `with` records a training that raises as failed
        Trainer(model=model, args=args, ..., callbacks=[callback]).train()

At `on_train_begin` the `TrainingArguments` become the run's params (`learning_rate`, ...) and
the model's config its params `model.*`; each `on_log` is a step of its history (at the trainer's
global step; the last value of each key is in the run's row); `on_evaluate` metrics are its
metrics; `on_train_end` records it, status `ok`. Transformers has no callback for an exception, so
a training that raises is recorded `failed` (`interrupted` for Ctrl-C) when it leaves the callback's
`with` block, or at the exit of a process that dies of it. An evaluation after training adds its
metrics to the run (`flexgit update`). Only the main process (`state.is_world_process_zero`)
records. The class is built on first use, so importing this module does not import Transformers.
"""

from __future__ import annotations

import functools
import os

from ..verbs.update import update
from ._runs import RecordsTraining, Training, built_on_use, metrics_of, never_stops_training, params_of, require


@functools.cache
def _callback_class() -> type:
    TrainerCallback = require("transformers", "transformers").TrainerCallback

    class FlexgitCallback(RecordsTraining, TrainerCallback):
        """Record a `Trainer`'s training as a run: params, logged history, evaluation metrics, status."""

        def __init__(self, name: str | None = None, message: str | None = None, group: str | None = None,
                     repo: str | os.PathLike | None = None, branch: str | None = None) -> None:
            self.training = Training(name=name, message=message, group=group, repo=repo, branch=branch,
                                     meta={"framework": _framework()})

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if not state.is_world_process_zero or self.training.run is not None:
                return
            with never_stops_training("keep the training arguments and the model's config as params"):
                self.training.params.update(params_of(args.to_dict()))
                config = getattr(model, "config", None)
                if config is not None and hasattr(config, "to_dict"):
                    self.training.params.update(params_of(config.to_dict(), "model."))
            self.training.begin()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs and self.training.run is None:
                self.training.log(logs, step=state.global_step)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if not state.is_world_process_zero or not metrics:
                return
            if self.training.run is None:
                self.training.metrics.update(metrics_of(metrics))
            else:
                with never_stops_training("add the evaluation's metrics to the run"):
                    update(self.training.run.id, metrics=metrics_of(metrics), repo=self.training.repo)

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.training.finish("ok")

    FlexgitCallback.__module__ = __name__
    return FlexgitCallback


@functools.cache
def _framework() -> str:
    import transformers

    return f"transformers {transformers.__version__}"


__getattr__ = built_on_use(__name__, FlexgitCallback=_callback_class)
