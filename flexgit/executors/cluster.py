"""A sweep on a cluster's engine: its checkouts prepared in the shared folder, handed to the engine,
watched, and each job recorded exactly once, by whichever flexgit process sees it end first.

Exactly once: a job is recorded under the sweep's lock (`SweepDir.claim`), and only when no
`job-N.recorded` marker says it was; the marker is written once the run has landed. A recorder
killed between the two leaves a run the next one recognises (its name, group and job id) and
marks, never records again. So `flexgit run` attached, a `flexgit collect` from cron and one at
the end of the array may all run at once.

`sweep` below is a `flexgit.verbs.launch.Sweep`: this module prepares and records through it, so
that runs on a cluster are prepared and recorded by the very code local runs are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from .._context import open_store
from ..project.checkpoints import REPO_ENV, ROOT_ENV
from ..project.history import ENV as HISTORY_ENV
from ..project.sweepdir import SweepDir, shared_dir, sweeps_in
from ..storage.run import utc_now
from . import ENDED, Executor, Job, JobState, executor_for
from .job import OUTPUT_FILE, job_info


@dataclass(frozen=True)
class JobStatus:
    """One job of a waiting sweep, for `flexgit status`."""

    name: str
    job_id: str
    state: str  # the engine's word (PENDING, RUNNING, COMPLETED, ...), or unknown
    node: str
    run_id: str | None  # once recorded


@dataclass(frozen=True)
class SweepStatus:
    """A sweep that was handed to an engine and is not yet all recorded."""

    group: str
    engine: str
    created: str
    path: Path
    jobs: list[JobStatus]


def where(sweep_or_store: Any) -> Path:
    """The shared folder of the repository's sweeps."""
    git = sweep_or_store.store.repo if hasattr(sweep_or_store, "store") else sweep_or_store.repo
    from ..project.settings import load_settings

    return shared_dir(load_settings(git.workdir).shared_dir, git.workdir, git.flexgit_dir())


def launch(sweep: Any, executor: Executor, parallel: int) -> SweepDir:
    """Prepare every job's checkout in the shared folder, write the manifest, submit. Nothing stays behind
    if the engine refuses."""
    git = sweep.store.repo
    manifest: dict[str, Any] = {
        "repository": str(git.common_dir.resolve()), "group": sweep.group, "engine": executor.name,
        "branch": sweep.target.name, "command": list(sweep.command), "subdir": sweep.subdir.as_posix(),
        "names": list(sweep.names), "grid": [dict(point) for point in sweep.grid], "parent": sweep.parent,
        "left_meta": dict(sweep.left_meta), "resumed": sweep.resumed.id if sweep.resumed else None,
        "created": utc_now(), "parallel": parallel, "handle": None}
    sweepdir = SweepDir.create(where(sweep), sweep.group, manifest)
    try:
        trees, jobs = [], []
        for index, point in enumerate(sweep.grid):
            checkout = sweepdir.job_dir(index)
            checkout.mkdir()
            with sweep.git_lock:
                trees.append(sweep._prepare(checkout, point))
            name = sweep.names[index]
            # as a local run's command has it: flexgit.log and flexgit.checkpoint find their run from it
            jobs.append(Job(index, name, checkout, checkout / sweep.subdir, tuple(sweep.command),
                            {"FLEXGIT_RUN": name, HISTORY_ENV: str(checkout / ".flexgit-history.jsonl"),
                             REPO_ENV: str(git.workdir), ROOT_ENV: str(checkout)}))
        manifest["trees"] = trees
        sweepdir.write_manifest(manifest)
        manifest["handle"] = executor.submit(jobs, parallel, sweepdir.engine_dir, f"flexgit-{sweep.group}")
    except BaseException:
        sweepdir.remove()
        raise
    sweepdir.write_manifest(manifest)
    return sweepdir


def collect_once(sweep: Any, sweepdir: SweepDir, executor: Executor, handle: dict[str, Any],
                 on_record: Callable[[Any], None] = lambda outcome: None) -> list[JobState]:
    """Record every job of the sweep that has ended and is not recorded yet; the states read."""
    states = executor.states(handle)
    ended = [i for i, state in enumerate(states) if state.phase == ENDED and not sweepdir.recorded(i)]
    if ended:
        with sweepdir.claim() as present:
            for index in ended if present else ():
                if sweepdir.recorded(index):
                    continue  # another recorder had it while we waited for the lock
                outcome = sweep._record_job(index, states[index], executor, handle)
                if outcome.run is not None:
                    sweepdir.mark_recorded(index, outcome.run.id)
                on_record(outcome)
    if all(sweepdir.recorded(i) for i in range(len(states))):
        with sweepdir.claim() as present:
            if present:
                sweepdir.remove()
    return states


def watch(sweep: Any, sweepdir: SweepDir, executor: Executor, handle: dict[str, Any],
          on_state: Callable[[dict[str, int]], None], on_record: Callable[[Any], None], poll: float) -> None:
    """Record the jobs as they end, until all are recorded; `on_state` hears the counts when they change."""
    last = None
    while True:
        states = collect_once(sweep, sweepdir, executor, handle, on_record)
        counts = tally(states, [sweepdir.recorded(i) for i in range(len(states))], sweep.outcomes)
        if counts != last:
            on_state(counts)
            last = counts
        if counts["recorded"] + counts["not recorded"] == len(states) or sweepdir.manifest() is None:
            return
        time.sleep(poll)


def tally(states: Sequence[JobState], recorded: Sequence[str | None], outcomes: Sequence[Any]) -> dict[str, int]:
    """pending / running / done / failed (ended not ok) / recorded / not recorded (an error) counts."""
    counts = {"pending": 0, "running": 0, "done": 0, "failed": 0, "recorded": 0, "not recorded": 0}
    for state, done, outcome in zip(states, recorded, outcomes, strict=True):
        if state.phase == ENDED or done:
            counts["done"] += 1
            counts["failed"] += int(bool(state.status) and state.status != "ok")
            counts["recorded"] += int(bool(done))
            counts["not recorded"] += int(not done and outcome.error is not None)
        elif state.phase in ("pending", "running"):
            counts[state.phase] += 1
    return counts


def waiting(repo: Any) -> list[tuple[SweepDir, dict[str, Any]]]:
    """The repository's sweeps handed to an engine and not all recorded, with their manifests."""
    store = repo if hasattr(repo, "repo") else open_store(repo)
    found = []
    for sweepdir in sweeps_in(where(store), str(store.repo.common_dir.resolve())):
        manifest = sweepdir.manifest()
        if manifest and manifest.get("handle") and _well_formed(manifest):
            found.append((sweepdir, manifest))
    return found


def status(repo: Any, group: str | None = None) -> list[SweepStatus]:
    """What each waiting sweep's jobs are doing (or those of `group` alone)."""
    result = []
    for sweepdir, manifest in waiting(repo):
        if group is not None and manifest["group"] != group:
            continue
        executor = executor_for(manifest["engine"])
        states = executor.states(manifest["handle"])
        jobs = [JobStatus(name, state.job_id, state.engine_state or state.phase, state.node, sweepdir.recorded(i))
                for i, (name, state) in enumerate(zip(manifest["names"], states, strict=True))]
        result.append(SweepStatus(manifest["group"], manifest["engine"], manifest["created"], sweepdir.path, jobs))
    return result


def _well_formed(manifest: dict[str, Any]) -> bool:
    """A manifest flexgit can record from (the shared folder is a file system others may write)."""
    names, grid, trees = manifest.get("names"), manifest.get("grid"), manifest.get("trees")
    subdir = PurePosixPath(str(manifest.get("subdir", "")))
    return (isinstance(names, list) and isinstance(grid, list) and isinstance(trees, list)
            and len(names) == len(grid) == len(trees) and all(isinstance(n, str) for n in names)
            and all(isinstance(p, dict) for p in grid) and isinstance(manifest.get("command"), list)
            and isinstance(manifest.get("group"), str) and isinstance(manifest.get("left_meta"), dict)
            and not subdir.is_absolute() and ".." not in subdir.parts)


def output_file(checkout: Path) -> Path:
    """The command's output in a job's checkout (created empty for a job that never started)."""
    path = checkout / OUTPUT_FILE
    if checkout.is_dir() and not path.exists():
        path.touch()
    return path


def ended_info(checkout: Path, state: JobState) -> dict[str, Any]:
    """What the run's meta says of a job that ended: exit code and duration where known, the engine's job."""
    info = job_info(checkout)
    duration = info.get("duration_s", state.elapsed_s)
    return {"exit_code": info.get("exit_code"), "duration_s": duration,
            "node": state.node or info.get("node", ""), "attempts": info.get("attempts", 0)}
