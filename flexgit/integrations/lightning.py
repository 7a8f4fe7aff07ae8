"""PyTorch Lightning: `FlexgitLogger`, a Lightning `Logger` that records the training as a run.

    from flexgit.integrations.lightning import FlexgitLogger
    trainer = lightning.Trainer(logger=FlexgitLogger(), ...)

`log_hyperparams` gives the run's params (the module's and data module's `save_hyperparameters`,
nested ones as dotted keys), `log_metrics(metrics, step)` its history (the last value of each
metric is in its row), and `finalize(status)` records it, once, with Lightning's status: `ok` for
`success`, `failed` (`interrupted` when it was Ctrl-C) for `failed`, `interrupted` for a cluster's
requeue signal. The best checkpoint of the first `ModelCheckpoint` (`best_model_path`, with its
score as the metric `best_model_score`) is kept with the run: as an output when it lies in the
working tree, else as the artifact `best.ckpt`. Metrics logged after the run was recorded
(`trainer.test` after `trainer.fit`) are added to it at the next `finalize` (`flexgit update`).
Checkpoints go, as Lightning lays them out, to `save_dir/flexgit/VERSION/checkpoints` (`save_dir`
defaults to the trainer's `default_root_dir`). Only the process of global rank 0 records.
The class is built on first use, so importing this module does not import Lightning.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import sys
from pathlib import Path
from typing import Any, Mapping

from .._context import open_store
from ..verbs.update import update
from ._runs import Training, built_on_use, metrics_of, never_stops_training, params_of, require, status_of

_made = itertools.count(1)  # loggers made by this process
STATUS = {"success": "ok", "finished": "interrupted"}  # Lightning's words; "failed" depends on the exception


@functools.cache
def _logger_class() -> type:
    Logger = require("lightning.pytorch.loggers", "lightning").Logger
    rank_zero_only = require("lightning.pytorch.utilities", "lightning").rank_zero_only

    class FlexgitLogger(Logger):
        """A Lightning logger whose experiment is a flexgit run."""

        def __init__(self, name: str | None = None, message: str | None = None, group: str | None = None,
                     save_dir: str | os.PathLike | None = None, repo: str | os.PathLike | None = None,
                     branch: str | None = None) -> None:
            super().__init__()
            self.training = Training(name=name, message=message, group=group, repo=repo, branch=branch,
                                     meta={"framework": _framework()})
            self._save_dir = None if save_dir is None else os.fspath(save_dir)
            # unique to this logger: two made in one second by one process must not share a checkpoint folder
            self._version = dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + f"{os.getpid()}-{next(_made)}"
            self._checkpoints: Any = None
            self._late: dict[str, Any] = {}  # metrics logged after the run was recorded

        @property
        def name(self) -> str:
            return "flexgit"

        @property
        def version(self) -> str:
            return self._version

        @property
        def save_dir(self) -> str | None:
            return self._save_dir

        @property
        def experiment(self) -> Training:
            return self.training

        @property
        def run(self):
            """The recorded run (None until `finalize`)."""
            return self.training.run

        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            with never_stops_training("keep the hyperparameters as params"):
                values = vars(params) if hasattr(params, "__dict__") and not isinstance(params, Mapping) else params
                self.training.params.update(params_of(dict(values or {})))
            self.training.begin()

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            if self.training.run is not None:
                self._late.update(metrics_of(metrics))
                return
            self.training.begin()
            self.training.log(metrics, step)

        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            if self._checkpoints is None:
                self._checkpoints = checkpoint_callback

        @rank_zero_only
        def finalize(self, status: str) -> None:
            if self.training.run is not None:
                if self._late:
                    with never_stops_training("add the metrics logged after the run was recorded"):
                        update(self.training.run.id, metrics=self._late, repo=self.training.repo)
                    self._late = {}
                return
            with never_stops_training("keep the best checkpoint"):
                self._keep_best()
            self.training.finish(STATUS.get(status) or status_of(sys.exc_info()[0] or Exception))

        def _keep_best(self) -> None:
            best = getattr(self._checkpoints, "best_model_path", "")
            if not best or not Path(best).is_file():
                return
            score = getattr(self._checkpoints, "best_model_score", None)
            if score is not None:
                self.training.metrics.update(metrics_of({"best_model_score": score}))
            workdir = open_store(self.training.repo).repo.workdir.resolve()
            if Path(best).resolve().is_relative_to(workdir):
                self.training.outputs.append(Path(best).resolve())
            else:
                self.training.artifacts["best.ckpt"] = Path(best)

    FlexgitLogger.__module__ = __name__
    return FlexgitLogger


@functools.cache
def _framework() -> str:
    import lightning

    return f"lightning {lightning.__version__}"


__getattr__ = built_on_use(__name__, FlexgitLogger=_logger_class)
