"""Slurm through submitit: a sweep is one job array; its states are read from Slurm itself.

States: `sacct` where the cluster keeps accounting (slurmdbd, as clusters in service do: it knows a
job for as long as the database does; a job it has not heard of yet is asked of slurmctld), else
`scontrol show job`, which knows a job while slurmctld keeps it (`MinJobAge`, 300 s by default;
raise it on a cluster without accounting, or collect within that time). submitit's own job
watcher reads `sacct` alone, so flexgit does not use it: without accounting every state would
read UNKNOWN.

Signals: jobs start without `srun` (submitit's `use_srun=False`), so the `--signal=USR2@90` that
submitit always asks for reaches no process, and the job process ignores USR2 besides: submitit
would take any USR2 in a job shorter than 10 minutes for its time limit and end the job early,
as failed. Slurm's own limit decides: at `--time` the command gets SIGTERM (checkpoint there),
SIGKILL `KillWait` seconds later, and the run is recorded `timeout`. A requeued job (preemption,
`scontrol requeue`) starts the command again in the same checkout, where its own checkpoints are.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import InputError
from ..project.values import check_text, escape_control
from .base import ENDED, PENDING, RUNNING, UNKNOWN, Executor, Job, JobState

# Slurm's final job states -> the run's status. Any other state is not final.
STATUS_OF = {"COMPLETED": "ok", "FAILED": "failed", "TIMEOUT": "timeout", "DEADLINE": "timeout",
             "CANCELLED": "cancelled", "PREEMPTED": "cancelled", "REVOKED": "cancelled",
             "OUT_OF_MEMORY": "out_of_memory", "NODE_FAIL": "node_fail", "BOOT_FAIL": "node_fail",
             "SPECIAL_EXIT": "failed"}
RUNNING_STATES = {"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED",
                  "RESIZING"}
OPTIONS = ("partition", "time", "gpus", "cpus", "mem", "account")
# sbatch options flexgit sets itself: the array, where the logs go and how they are opened.
RESERVED = {"array", "output", "error", "open-mode", "wrap", "parsable", "export-file", "chdir"}
_TIME = re.compile(r"\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+|UNLIMITED|INFINITE", re.I)
_MEM = re.compile(r"\d+(?:\.\d+)?[KMGT]?B?", re.I)
_KEY = re.compile(r"[a-z][a-z0-9_-]*")
LOG_NAMES = {"stdout": "slurm-output.log", "stderr": "slurm-error.log"}


class SlurmExecutor(Executor):
    """A sweep as one Slurm job array, through submitit."""

    name = "slurm"
    title = "Slurm"

    def __init__(self, options: Mapping[str, Any]):
        self.parameters = parameters(options)
        poll = options.get("poll")
        if poll is not None:
            if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0.1 <= poll <= 3600:
                raise InputError(f"poll = {poll!r} in [slurm]: give the seconds between two looks at the jobs, "
                                 "0.1 to 3600")
            self.poll = float(poll)

    def submit(self, jobs: Sequence[Job], parallel: int, folder: Path, label: str) -> dict[str, Any]:
        try:
            import submitit
        except ImportError:
            raise InputError("--on slurm needs submitit: pip install 'flexgit[slurm]'") from None
        if shutil.which("sbatch") is None:
            raise InputError("--on slurm: there is no sbatch here; run flexgit on a machine of the cluster "
                             "(a login node)")
        from .job import run

        executor = submitit.SlurmExecutor(folder=folder, python=self.parameters.get("python"))
        settings = {key: value for key, value in self.parameters.items() if key != "python"}
        executor.update_parameters(use_srun=False, job_name=label, array_parallelism=max(1, parallel), **settings)
        with tempfile.TemporaryFile() as said:
            try:
                with _stderr_to(said):  # submitit lets sbatch print to our stderr: its error becomes ours
                    submitted = executor.map_array(run, list(jobs))
            except (subprocess.CalledProcessError, submitit.core.utils.FailedJobError,
                    submitit.core.utils.FailedSubmissionError) as exc:
                said.seek(0)
                raise InputError(f"sbatch refused the sweep: {_sbatch_error(said.read(), exc)}; check --partition, "
                                 "--time, --gpus, --cpus, --mem, --account and --slurm") from None
        return {"folder": str(folder), "jobs": [job.job_id for job in submitted]}

    def states(self, handle: Mapping[str, Any]) -> list[JobState]:
        ids = list(handle["jobs"])
        arrays = sorted({job_id.split("_")[0] for job_id in ids})
        found = _sacct(arrays)
        if found is None or any(job_id not in found for job_id in ids):
            # no accounting, or a job it has not heard of yet (slurmctld tells slurmdbd a moment later)
            found = {**_scontrol(arrays), **(found or {})}
        result = []
        for job_id in ids:
            if job_id not in found:
                result.append(JobState(UNKNOWN, job_id=job_id))
                continue
            state, node, elapsed = found[job_id]
            phase = ENDED if state in STATUS_OF else RUNNING if state in RUNNING_STATES else PENDING
            result.append(JobState(phase, STATUS_OF.get(state, ""), state, job_id, node, elapsed))
        return result

    def logs(self, handle: Mapping[str, Any], index: int) -> dict[str, Path]:
        from submitit.core.utils import JobPaths

        paths = JobPaths(handle["folder"], job_id=handle["jobs"][index], task_id=0)
        found = {LOG_NAMES["stdout"]: paths.stdout, LOG_NAMES["stderr"]: paths.stderr}
        return {name: path for name, path in found.items() if path.is_file()}

    def cancel(self, handle: Mapping[str, Any], indexes: Sequence[int] | None = None) -> None:
        ids = [handle["jobs"][i] for i in indexes] if indexes is not None else sorted(
            {job_id.split("_")[0] for job_id in handle["jobs"]})
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True)


def with_defaults(given: Mapping[str, Any], defaults: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """The options given on the command line over the `[slurm]` table of the settings (whose keys other than
    flexgit's own are sbatch options, as `--slurm` gives them)."""
    merged: dict[str, Any] = {"extra": {}}
    for key, value in defaults:
        if key in OPTIONS or key in ("python", "poll"):
            merged[key] = value
        else:
            merged["extra"][key] = value
    for key, value in given.items():
        if key == "extra":
            merged["extra"].update(value or {})
        elif value is not None:
            merged[key] = value
    return merged


def parameters(options: Mapping[str, Any]) -> dict[str, Any]:
    """submitit's parameters from flexgit's options (`--partition`, ..., `--slurm KEY=VALUE` as `extra`),
    checked, so that a typo is one clear error before anything is submitted."""
    result: dict[str, Any] = {"time": None}  # no limit of flexgit's own: the partition's default applies
    extra: dict[str, str | bool] = {}
    for key in ("partition", "account"):
        if options.get(key):
            result[key] = _text(options[key], f"--{key}")
    if options.get("time"):
        value = _text(options["time"], "--time")
        if not _TIME.fullmatch(value):
            raise InputError(f"--time {value!r} is not a Slurm time; write minutes (90), HH:MM:SS or D-HH:MM:SS")
        extra["time"] = value
    for key, name in (("gpus", "gpus_per_node"), ("cpus", "cpus_per_task")):
        if options.get(key) is not None:
            value = options[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"--{key} must be a whole number of at least 1, not {value!r}")
            result[name] = value
    if options.get("mem"):
        value = _text(options["mem"], "--mem")
        if not _MEM.fullmatch(value):
            raise InputError(f"--mem {value!r} is not a Slurm size; write 16G, 500M or 4096 (megabytes)")
        extra["mem"] = value
    if options.get("python"):
        result["python"] = _text(options["python"], "python")
    for key, value in dict(options.get("extra") or {}).items():
        flag = str(key).strip().lstrip("-")
        if not _KEY.fullmatch(flag):
            raise InputError(f"--slurm {key!r}: write an sbatch option without dashes, e.g. --slurm qos=high")
        if flag.replace("_", "-") in RESERVED:
            raise InputError(f"--slurm {flag}: flexgit sets this sbatch option itself")
        if isinstance(value, bool):  # an option without a value (`--slurm no-requeue`, `exclusive = true`)
            if value:
                extra[flag.replace("_", "-")] = True  # submitit writes `#SBATCH --no-requeue`
            continue
        extra[flag.replace("_", "-")] = _text(value, f"--slurm {flag}")
    if extra:
        result["additional_parameters"] = extra
    return result


def _text(value: Any, what: str) -> str:
    text = str(value).strip()
    check_text(text, what)
    if not text or "\n" in text or "\t" in text:  # one line of the sbatch script each
        raise InputError(f"{what} must be one line of text, not {value!r}")
    return text


@contextlib.contextmanager
def _stderr_to(file: Any) -> Iterator[None]:
    """The process's stderr (file descriptor 2, which child processes inherit) goes to `file` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _sbatch_error(said: bytes, exc: Exception) -> str:
    """sbatch's last error line (`sbatch: error: Batch job submission failed: Invalid partition ...`)."""
    lines = [line.strip() for line in said.decode(errors="replace").splitlines() if line.strip()]
    lines = lines or [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return escape_control((errors or lines or ["no message"])[-1].removeprefix("sbatch: error: ")[:300])


def _sacct(arrays: Sequence[str]) -> dict[str, tuple[str, str, float | None]] | None:
    """States from Slurm's accounting, or None where the cluster keeps none (or sacct is missing)."""
    if shutil.which("sacct") is None:
        return None
    done = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State,NodeList,ElapsedRaw",
                           "-j", ",".join(arrays)], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    found = {}
    for line in done.stdout.splitlines():
        fields = line.split("|")
        if len(fields) < 4:
            continue
        elapsed = float(fields[3]) if fields[3].isdigit() else None
        for job_id in _job_ids(fields[0]):
            found[job_id] = (fields[1].split()[0] if fields[1] else "", _node(fields[2]), elapsed)
    return found


def _scontrol(arrays: Sequence[str]) -> dict[str, tuple[str, str, float | None]]:
    """States from slurmctld's memory: jobs pending, running, or ended less than MinJobAge ago."""
    found = {}
    for array in arrays:
        done = subprocess.run(["scontrol", "show", "job", "-o", array], capture_output=True, text=True)
        if done.returncode != 0:
            continue  # "Invalid job id": no longer known
        for line in done.stdout.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobState" not in fields:
                continue
            if fields.get("ArrayJobId") and fields.get("ArrayTaskId"):
                ids = [f"{fields['ArrayJobId']}_{task}" for task in _task_ids(fields["ArrayTaskId"])]
            else:
                ids = [fields.get("JobId", "")]
            for job_id in ids:
                found[job_id] = (fields["JobState"], _node(fields.get("NodeList", "")),
                                 _seconds(fields.get("RunTime", "")))
    return found


def _job_ids(text: str) -> list[str]:
    """`12_3` -> [12_3]; `12_[4-6,9%2]` -> [12_4, 12_5, 12_6, 12_9]; `12` -> [12]."""
    array, sep, tasks = text.partition("_")
    if not sep:
        return [text]
    return [f"{array}_{task}" for task in _task_ids(tasks.strip("[]"))]


def _task_ids(text: str) -> list[str]:
    tasks = []
    for part in text.split("%")[0].strip("[]").split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            tasks += [str(n) for n in range(int(low), int(high or low) + 1)]
    return tasks


def _node(text: str) -> str:
    return "" if not text or text in ("(null)", "None assigned") or text.startswith("(") else text


def _seconds(text: str) -> float | None:
    """Slurm's `[D-]HH:MM:SS` as seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+):(\d+)", text)
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)

