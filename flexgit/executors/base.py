"""What an engine is to flexgit: jobs it is handed, the states it reports, the interface it implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

ENGINES = ("local", "slurm")
# How a job can end, as a run's status (`flexgit run` locally adds `interrupted`).
STATUSES = ("ok", "failed", "timeout", "cancelled", "out_of_memory", "node_fail")
PENDING, RUNNING, ENDED, UNKNOWN = "pending", "running", "ended", "unknown"


@dataclass(frozen=True)
class Job:
    """One run of a sweep, ready to start: its checkout, where the command starts, what it is."""

    index: int
    name: str
    checkout: Path
    cwd: Path
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the environment the job starts with


@dataclass(frozen=True)
class JobState:
    """What an engine says of one job: its phase, and once it ended, the run's status."""

    phase: str  # pending, running, ended, unknown (the engine no longer knows it)
    status: str = ""  # once ended: one of STATUSES
    engine_state: str = ""  # the engine's own word (Slurm's COMPLETED, TIMEOUT, REQUEUED, ...)
    job_id: str = ""
    node: str = ""
    elapsed_s: float | None = None


class Executor(ABC):
    """An engine that runs prepared jobs. `handle` is what `submit` returned (plain JSON), kept with the
    sweep so that another process (`flexgit collect`) finds the jobs again."""

    name: ClassVar[str]
    title: ClassVar[str]  # as `flexgit show` names it: "Slurm job 42 on node1"
    poll: float = 5.0  # seconds between two looks at the states, while attached

    @abstractmethod
    def submit(self, jobs: Sequence[Job], parallel: int, folder: Path, label: str) -> dict[str, Any]:
        """Start `jobs`, at most `parallel` at once; the engine may keep its files in `folder`."""

    @abstractmethod
    def states(self, handle: Mapping[str, Any]) -> list[JobState]:
        """The state of each job, in submission order."""

    @abstractmethod
    def logs(self, handle: Mapping[str, Any], index: int) -> dict[str, Path]:
        """The engine's own logs of job `index` that exist, by the name the run keeps each under."""

    @abstractmethod
    def cancel(self, handle: Mapping[str, Any], indexes: Sequence[int] | None = None) -> None:
        """Cancel the jobs (all of them when `indexes` is None)."""
