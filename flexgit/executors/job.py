"""What runs on a cluster's node for one job: the command, in the job's checkout, its output kept there.

Imported by the job's own Python process (submitit unpickles `run` by reference), so it imports
little. The command's output (stdout and stderr, as `flexgit run` keeps it locally) goes to
`.flexgit-output.log` in the checkout, appended to when a requeued job starts again; the engine's
own logs hold only its messages. `.flexgit-job.json` says where and when the job ran and how
the command exited, for the run's meta.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUTPUT_FILE = ".flexgit-output.log"
JOB_FILE = ".flexgit-job.json"


def run(job: Any) -> int:
    """Run `job` (an `executors.Job`) and return 0, or exit with the command's non-zero code (128 + N for
    signal N) so that the engine shows the job failed, with the command's code.

    A job that Slurm stops (time limit, scancel, requeue) gets SIGTERM with its command: the command
    decides what to do with it, and this process waits for it to end.
    """
    if hasattr(signal, "SIGUSR2"):  # submitit reads USR2 as "time out now": only Slurm's limit decides
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    checkout = Path(job.checkout)
    info = _read(checkout / JOB_FILE)
    info.update({"node": socket.gethostname(), "started": time.time(), "attempts": info.get("attempts", 0) + 1})
    info.pop("exit_code", None)
    _write(checkout / JOB_FILE, info)
    started = time.monotonic()
    with open(checkout / OUTPUT_FILE, "ab") as log:
        code = subprocess.call(list(job.command), cwd=job.cwd, env={**os.environ, **job.env}, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    info.update({"exit_code": code, "duration_s": round(time.monotonic() - started, 3)})
    _write(checkout / JOB_FILE, info)
    if code != 0:  # SystemExit, not an error: submitit would log a traceback of its own for nothing
        sys.exit(128 - code if code < 0 else min(code, 255))
    return code


def job_info(checkout: Path) -> dict[str, Any]:
    """What the job wrote of itself (node, attempts, exit_code, duration_s); empty if it never started."""
    return _read(Path(checkout) / JOB_FILE)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)
