"""Optuna: `FlexgitCallback`, a callback for `study.optimize`, records each finished trial as a run.

    from flexgit.integrations.optuna import FlexgitCallback
    study.optimize(objective, n_trials=20, callbacks=[FlexgitCallback()])

Each trial is a run named `STUDY-NUMBER` in a group named after the study (`flexgit table
--group-by group` sums the study up): the trial's params as params, its value as the metric
`value` (or `metric_names`, one per objective; a pruned trial's is its last reported value, as
Optuna has it), its intermediate values (`trial.report`) as the run's history (`intermediate_value`),
its user attributes as params `user_attrs.*`, its status `ok`, `pruned` or `failed`.
Optuna calls callbacks for every trial that ends, except one whose exception `study.optimize`
raises again (one not in `catch`): `record_trials(study)`, in a `finally`, records those, and any
other finished trial of the study not recorded yet (a study resumed from storage). With
`n_jobs > 1`, steps the objective logs itself with `flexgit.log` are not told apart by trial.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from typing import Any, Sequence

from ..storage.run import Run
from ..verbs.log import log
from ..verbs.table import list_runs
from ._runs import metrics_of, name_taken, never_stops_training, params_of, require
from .notebook import record

STATUS = {"COMPLETE": "ok", "PRUNED": "pruned", "FAIL": "failed"}  # the states a trial ends in
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.+=%@-]+")


class FlexgitCallback:
    """Record each finished trial of a study as a run in the study's group."""

    def __init__(self, metric_names: str | Sequence[str] | None = None, group: str | None = None,
                 repo: str | os.PathLike | None = None, branch: str | None = None):
        self.metric_names = [metric_names] if isinstance(metric_names, str) else list(metric_names or [])
        self.group, self.repo, self.branch = group, repo, branch
        # (group, trial number, its start) -> its run: two studies of one name number their trials alike
        self.runs: dict[tuple[str, int, Any], Run] = {}
        self._lock = threading.Lock()  # trials of `n_jobs > 1` end in several threads

    def __call__(self, study: Any, trial: Any) -> None:
        with never_stops_training(f"record trial {trial.number}"):  # the study goes on
            self._record(study, trial)

    def record_trials(self, study: Any) -> list[Run]:
        """Record the study's finished trials that have no run yet (of this callback or in the repository)."""
        group = self._group(study)
        done = {(group, run.meta.get("trial")) for run in list_runs(repo=self.repo, branch=self.branch)
                if run.group == group}
        recorded = []
        for trial in study.get_trials(deepcopy=False):
            if trial.state.name in STATUS and (group, trial.number) not in done:
                run = self._record(study, trial)
                if run is not None:
                    recorded.append(run)
        return recorded

    def _group(self, study: Any) -> str:
        return self.group or study.study_name

    def _record(self, study: Any, trial: Any) -> Run | None:
        status = STATUS.get(trial.state.name)
        group = self._group(study)
        key = (group, trial.number, trial.datetime_start)
        if status is None or key in self.runs:
            return None
        metrics = {}
        values = trial.values or []
        names = self.metric_names or ["value" if len(values) <= 1 else "value_0"]
        names = names + [f"value_{i}" for i in range(len(names), len(values))]
        metrics.update(metrics_of(dict(zip(names, values, strict=False))))
        meta = {"framework": _framework(), "trial": trial.number, "study": study.study_name}
        if trial.datetime_start and trial.datetime_complete:
            meta["duration_s"] = (trial.datetime_complete - trial.datetime_start).total_seconds()
        params = {**params_of(trial.params), **params_of(trial.user_attrs, "user_attrs.")}
        with self._lock:
            for step, value in sorted(trial.intermediate_values.items()):
                log(step=step, repo=self.repo, intermediate_value=value)
            run = record(name=self._name(group, trial.number), message=f"trial {trial.number} of {group}",
                         params=params, metrics=metrics, meta=meta, status=status, group=group,
                         repo=self.repo, branch=self.branch)
            self.runs[key] = run
        return run

    def _name(self, group: str, number: int) -> str | None:
        """`STUDY-NUMBER`, or a generated name when that one is taken (a study name used twice)."""
        name = f"{_NOT_IN_NAME.sub('_', group)[:80]}-{number}".lstrip("+.")
        return None if name_taken(name, self.repo) else name


@functools.cache
def _framework() -> str:
    optuna = require("optuna", "optuna")
    return f"optuna {optuna.__version__}"
