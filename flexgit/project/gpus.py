"""The GPUs of this machine, lent to the runs of a local sweep so that no two hold one at once.

Which GPUs there are: `FLEXGIT_GPUS` (a comma-separated list of ids: to lend a subset, or to
say what exists where nothing can be asked), else `CUDA_VISIBLE_DEVICES` when it is set (the
ones this process may use), else those `nvidia-smi` lists. Ids are passed on as they are, in
each run's `CUDA_VISIBLE_DEVICES`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

from ..errors import InputError

ENV = "FLEXGIT_GPUS"


def discover() -> list[str]:
    """The GPU ids a sweep may lend, in order."""
    for variable in (ENV, "CUDA_VISIBLE_DEVICES"):
        text = os.environ.get(variable)
        if text is not None and text.strip():
            return [part.strip() for part in text.split(",") if part.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else []


class GpuPool:
    """`per_run` GPUs for each run, taken from `devices`, given back when it ends."""

    def __init__(self, per_run: int, devices: list[str] | None = None):
        devices = discover() if devices is None else devices
        if not devices:
            raise InputError(f"--gpus-per-run {per_run}: no GPU found (nvidia-smi lists none); set {ENV}=0,1 to "
                             "name the GPUs to use")
        if per_run > len(devices):
            raise InputError(f"--gpus-per-run {per_run}: this machine has {len(devices)} GPU"
                             f"{'s' if len(devices) > 1 else ''} ({', '.join(devices)}); ask for at most that many")
        self.per_run = per_run
        self.free = list(devices)
        self.ready = threading.Condition()

    def take(self, stopping: threading.Event) -> list[str] | None:
        """Wait for `per_run` free GPUs and take them (lowest first); None if `stopping` is set meanwhile."""
        with self.ready:
            while len(self.free) < self.per_run:
                if stopping.is_set():
                    return None
                self.ready.wait(timeout=0.2)
            if stopping.is_set():
                return None
            taken, self.free = self.free[:self.per_run], self.free[self.per_run:]
            return taken

    def give(self, devices: list[str]) -> None:
        with self.ready:
            self.free = sorted(self.free + devices, key=_order)
            self.ready.notify_all()


def _order(device: str) -> tuple[int, str]:
    return (int(device), "") if device.isdigit() else (1 << 30, device)
