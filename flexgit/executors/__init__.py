"""Where a sweep's commands run when they outlive the `flexgit run` that started them: an engine
(Slurm through submitit) is handed checkouts that flexgit prepared, and says how each job ended;
flexgit records the runs itself, once each (see `flexgit.verbs.launch`).

The local engine, threads and processes on this machine, is `Sweep.run` itself. Another engine
(Ray, Kubernetes) is one subclass of `Executor`: submit, read states, give the logs, cancel.
Nothing here imports an engine's library until a sweep uses it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..errors import InputError
from .base import ENDED, ENGINES, PENDING, RUNNING, STATUSES, UNKNOWN, Executor, Job, JobState

__all__ = ["ENDED", "ENGINES", "PENDING", "RUNNING", "STATUSES", "UNKNOWN", "Executor", "Job", "JobState",
           "executor_for"]


def executor_for(name: str, options: Mapping[str, Any] | None = None,
                 defaults: Sequence[tuple[str, Any]] = ()) -> Executor:
    """The engine called `name` (not `local`: that one is `Sweep.run`), with its options; `defaults` are
    the project's (the `[slurm]` table of its settings), which the options given win over."""
    if name == "slurm":
        from .slurm import SlurmExecutor, with_defaults

        return SlurmExecutor(with_defaults(options or {}, defaults))
    raise InputError(f"--on {name!r}: flexgit runs on {', '.join(ENGINES)}")
