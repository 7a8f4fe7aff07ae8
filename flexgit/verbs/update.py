"""`flexgit update`: values added to a recorded run after the fact."""

from __future__ import annotations

from typing import Any, Mapping

from .._context import PathLike, open_store
from ..errors import InputError
from ..project.values import flatten
from ..storage.run import Run, update_line


def update(name: str, metrics: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
           repo: PathLike | None = None) -> Run:
    """Add or change values of a recorded run after the fact (a test score computed later).

    The run's note gets a line with the new values and the time; reading takes, for each
    key, the newest value. Nothing already recorded is rewritten.
    """
    metrics = flatten(metrics or {}, "the metrics given")
    params = flatten(params or {}, "the params given")
    if not metrics and not params:
        raise InputError("give the values to add, e.g. flexgit update NAME -m test_acc=0.91")
    store = open_store(repo)
    run = store.find(name)
    store.append(run, update_line(metrics=metrics, params=params))
    return store.find(run.id)
