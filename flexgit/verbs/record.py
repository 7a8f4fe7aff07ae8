"""`flexgit record`: a run of the working tree as it is now."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .._context import PathLike, open_store, record_working_tree
from ..storage.run import Run


def record(name: str | None = None, message: str | None = None, params: Mapping[str, Any] | None = None,
           metrics: Mapping[str, Any] | None = None, config_files: Iterable[PathLike] | None = None,
           results_files: Iterable[PathLike] | None = None, branch: str | None = None,
           repo: PathLike | None = None, artifacts: Mapping[str, PathLike] | None = None,
           meta: Mapping[str, Any] | None = None, outputs: Iterable[PathLike] | None = None,
           status: str | None = None, group: str | None = None, parent: str | None = None) -> Run:
    """Record a run: a snapshot of the working tree, its params and its metrics.

    Files are read first and explicit `params` / `metrics` override their keys; with no
    files given, the project's settings name them (those that exist are read). `outputs` (files,
    folders or globs, relative to the current directory; default: the settings' `outputs`) are kept
    with the run under `.flexgit/outputs/`, at their path from the top of the working tree, and
    left out of the code snapshot; a pattern that matches nothing is listed in
    `meta["outputs_missing"]`, a path outside the working tree refused. `artifacts` (name -> file,
    as FLEX's `Experiment.save` keeps its model) are kept under `.flexgit/artifacts/NAME`. Both go
    through git-lfs from the settings' `lfs_threshold` (1 MB) on. `meta` adds
    descriptive keys (flexgit's own meta keys are refused). Data files the params name (keys ending
    in `_path`, or in a `[data]` table) are fingerprinted. Steps logged with `flexgit.log` by
    one process (this one if it logged, else the last that did) go with the run; the run's
    meta says how many (`history_steps`), since when (`history_since`) and how many steps of
    older processes were set aside (`history_set_aside`). Files left out of the snapshot for
    their size are listed in `meta["left_out"]`. Nothing in the working tree, the index, HEAD
    or the user's branches changes. `status` (`ok`, `failed`, `interrupted`, `pruned`), `group` and
    `parent` (a run's name or id) are kept as those of `flexgit run` are: the framework
    integrations record a failed training, a sweep or a search's candidates with them.
    """
    return record_working_tree(open_store(repo), name=name, message=message, params=params, metrics=metrics,
                               config_files=config_files, results_files=results_files, branch=branch,
                               artifacts=artifacts, meta=meta, outputs=outputs, status=status, group=group,
                               parent=parent)
