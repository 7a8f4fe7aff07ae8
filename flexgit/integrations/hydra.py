"""Hydra: `FlexgitCallback`, a Hydra callback that records each job as a run when it ends.

    # conf/config.yaml
    hydra:
      callbacks:
        flexgit:
          _target_: flexgit.integrations.hydra.FlexgitCallback
          results: [metrics.json]      # optional: files the job writes in its output directory

At `on_job_end` (in the job's own process, wherever Hydra's launcher ran it), the job becomes a
run of the repository Hydra was started in (`hydra.runtime.cwd`): its composed config as params
(resolved, dotted keys), its return value as metrics (a number as `value`, a mapping's numbers by
their keys), the `results` files it wrote as metrics too, `outputs` (files or globs in its output
directory) kept with the run, the steps it logged with `flexgit.log` as history, and its status:
`ok`, or `failed` with the error in the meta when the task raised. Every job of one multirun
(`-m`) is in one group, named after the sweep directory (`multirun/2026-06-01/12-00-00`), or
`group` when given; `flexgit table --group-by group` sums a sweep up. The class is built on first
use, so importing this module does not import Hydra.
"""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path
from typing import Any, Sequence

from ._runs import built_on_use, metrics_of, params_of, require
from .notebook import record


@functools.cache
def _callback_class() -> type:
    Callback = require("hydra.experimental.callback", "hydra").Callback

    class FlexgitCallback(Callback):
        """Record each Hydra job as a run at `on_job_end`; a multirun is a group."""

        def __init__(self, results: Sequence[str] = (), outputs: Sequence[str] = (), group: str | None = None,
                     branch: str | None = None) -> None:
            self.results, self.outputs = list(results or ()), list(outputs or ())
            self.group, self.branch = group, branch

        def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
            record_job(config, job_return, self.results, self.outputs, self.group, self.branch)

    FlexgitCallback.__module__ = __name__
    return FlexgitCallback


def record_job(config: Any, job_return: Any, results: Sequence[str], outputs: Sequence[str],
               group: str | None, branch: str | None) -> None:
    """Record one ended Hydra job (see the module's docstring)."""
    from hydra.core.utils import JobStatus
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    runtime = config.hydra.runtime
    repo = Path(runtime.cwd)
    out_dir = Path(runtime.output_dir)
    params = params_of(_container(OmegaConf, job_return.cfg))
    failed = job_return.status != JobStatus.COMPLETED
    returned = job_return._return_value  # the property raises the task's exception again, for a failed job
    meta: dict[str, Any] = {"framework": _framework(), "hydra_job": str(config.hydra.job.name),
                            "hydra_output_dir": _relative(out_dir, repo)}
    overrides = [str(item) for item in job_return.overrides or ()]
    if overrides:
        meta["hydra_overrides"] = overrides
    metrics: dict[str, Any] = {}
    if failed:
        meta["error"] = f"{type(returned).__name__}: {returned}"[:500]
    elif isinstance(returned, (int, float)) and not isinstance(returned, bool):
        metrics["value"] = returned
    elif isinstance(returned, dict) or OmegaConf.is_dict(returned):
        metrics.update(metrics_of(_container(OmegaConf, returned) if OmegaConf.is_dict(returned) else returned))
    results_files = [out_dir / name for name in results if (out_dir / name).is_file()]
    kept = sorted({path for pattern in outputs for path in glob.glob(str(out_dir / pattern), recursive=True)})
    multirun = config.hydra.mode == RunMode.MULTIRUN
    sweep = group or (_relative(Path(config.hydra.sweep.dir), repo) if multirun else None)
    message = f"hydra {config.hydra.job.name}" + (f": {' '.join(overrides)}" if overrides else "")
    if multirun:
        meta["hydra_job_num"] = int(config.hydra.job.num)
    record(message=message, params=params, metrics=metrics, results_files=results_files, outputs=kept or None,
           meta=meta, status="failed" if failed else "ok", group=sweep, repo=repo, branch=branch)


def _container(OmegaConf: Any, node: Any) -> dict:
    try:
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
    except Exception:  # noqa: BLE001 - an interpolation that cannot be resolved: keep the config as written
        return OmegaConf.to_container(node, resolve=False)


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base` when inside it (as Hydra's relative directories are), else as given."""
    full = path if path.is_absolute() else base / path
    try:
        return os.path.relpath(full.resolve(), base.resolve()) if full.resolve().is_relative_to(base.resolve()) \
            else str(path)
    except OSError:
        return str(path)


@functools.cache
def _framework() -> str:
    import hydra

    return f"hydra-core {hydra.__version__}"


__getattr__ = built_on_use(__name__, FlexgitCallback=_callback_class)
