"""System metrics of a running command: CPU, resident memory and GPU use of its whole process tree.

`flexgit run` samples each command every few seconds into the run's history, as `sys.*` keys:

- `sys.cpu` — CPU time the tree used since the last sample, in percent of one core (250 = two and
  a half cores busy);
- `sys.rss` — resident memory of the tree's processes, summed, in MiB (2^20 bytes);
- `sys.gpu_util` — utilisation (%) of the GPUs the tree uses, their mean;
- `sys.gpu_mem` — GPU memory the tree's processes hold, in MiB.

The tree is the command's process and every process started under it (its session, and
descendants by parent). psutil is used when installed (the `flexgit[system]` extra), else
`/proc` on Linux; elsewhere CPU and memory are not sampled. GPU figures come from `nvidia-smi`
where it answers: the processes it lists for the tree, or, when it lists none of them (inside
a container it often cannot see them), the GPUs the command may use as a whole.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any

from .environment import run_nvidia_smi, select
from .history import SYSTEM_PREFIX as PREFIX

MIB = 2 ** 20

Process = tuple[tuple[int, Any], float, int]  # ((pid, start), CPU seconds so far, resident bytes)


def backend() -> str | None:
    """`psutil` when it can be imported, `proc` on Linux, else None (no CPU or memory samples)."""
    try:
        import psutil  # noqa: F401 - optional: the `system` extra
        return "psutil"
    except ImportError:
        return "proc" if sys.platform.startswith("linux") and os.path.isdir("/proc/self") else None


class ProcessTree:
    """The process tree of one command, sampled on demand (`sample`), from the moment it started."""

    def __init__(self, root: int, using: str | None = "auto", gpus: bool = True):
        self.root = root
        self.using = backend() if using == "auto" else using
        self.cpu_seen: dict[tuple[int, Any], float] = {}  # CPU seconds of each process at the last sample
        self.last = time.monotonic()  # the tree started about now: every CPU second counts from here
        program = shutil.which("nvidia-smi") if gpus else None
        self.gpu = GpuProbe(program) if program else None

    def sample(self) -> dict[str, float]:
        """`sys.*` values now: CPU since the last sample, memory and GPU now; {} when nothing could be read."""
        processes = self.processes()
        now = time.monotonic()
        values: dict[str, float] = {}
        if processes:
            used = sum(max(0.0, cpu - self.cpu_seen.get(key, 0.0)) for key, cpu, _ in processes)
            elapsed = max(now - self.last, 1e-6)
            values = {PREFIX + "cpu": round(used / elapsed * 100, 1),
                      PREFIX + "rss": round(sum(rss for _, _, rss in processes) / MIB, 1)}
            self.cpu_seen = {key: cpu for key, cpu, _ in processes}
        self.last = now
        if self.gpu is not None:
            values.update(self.gpu.sample({key[0] for key, _, _ in processes}))
        return values

    def processes(self) -> list[Process]:
        """The tree's live processes, by the chosen backend."""
        if self.using == "psutil":
            return _psutil_tree(self.root)
        if self.using == "proc":
            return _proc_tree(self.root)
        return []


def _psutil_tree(root: int) -> list[Process]:
    import psutil

    try:
        top = psutil.Process(root)
        members = [top, *top.children(recursive=True)]
    except psutil.Error:
        return []
    found = []
    for process in members:
        try:
            with process.oneshot():
                times = process.cpu_times()
                found.append(((process.pid, process.create_time()), times.user + times.system,
                              process.memory_info().rss))
        except psutil.Error:  # ended meanwhile
            continue
    return found


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_tree(root: int) -> list[Process]:
    """The tree from /proc/*/stat: the processes of the root's session, and its descendants by parent."""
    stats: dict[int, tuple[int, int, int, int, int]] = {}  # pid -> ppid, session, ticks, start, rss pages
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                raw = handle.read()
            # the command name is in parentheses and may hold anything, spaces and ')' included
            fields = raw[raw.rindex(b")") + 2:].split()
            stats[int(name)] = (int(fields[1]), int(fields[3]), int(fields[11]) + int(fields[12]), int(fields[19]),
                                int(fields[21]))
        except (OSError, ValueError, IndexError):  # ended meanwhile, or not a process
            continue
    if root not in stats:
        return []
    members = {pid for pid, stat in stats.items() if stat[1] == root} | {root}
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat[0], []).append(pid)
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in members:
                members.add(child)
                todo.append(child)
    return [((pid, stats[pid][3]), stats[pid][2] / _TICKS, stats[pid][4] * _PAGE) for pid in members]


class GpuProbe:
    """GPU utilisation and memory of a set of processes, from `nvidia-smi`; it stops asking after a failure."""

    def __init__(self, program: str):
        self.program: str | None = program

    def sample(self, pids: set[int]) -> dict[str, float]:
        if self.program is None:
            return {}
        apps = run_nvidia_smi(self.program, ["--query-compute-apps=pid,gpu_uuid,used_memory",
                                             "--format=csv,noheader,nounits"])
        devices = run_nvidia_smi(self.program, ["--query-gpu=index,uuid,utilization.gpu,memory.used",
                                                "--format=csv,noheader,nounits"])
        if apps is None or devices is None:
            self.program = None  # no driver, or a hung one: a sample every few seconds would only wait
            return {}
        return gpu_values(apps, devices, pids, os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_values(apps: str, devices: str, pids: set[int], selection: str | None) -> dict[str, float]:
    """`sys.gpu_util` and `sys.gpu_mem` from nvidia-smi's CSV answers (compute apps, GPUs)."""
    gpus = []
    for line in devices.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == 4 and cells[0].isdigit():
            gpus.append({"index": int(cells[0]), "uuid": cells[1], "util": _number(cells[2]),
                         "used": _number(cells[3])})
    mine: dict[str, float] = {}
    for line in apps.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == 3 and cells[0].isdigit() and int(cells[0]) in pids:
            mine[cells[1]] = mine.get(cells[1], 0.0) + (_number(cells[2]) or 0.0)
    if mine:
        used = [gpu for gpu in gpus if gpu["uuid"] in mine]
        memory = sum(mine.values())
    else:
        used = select(gpus, selection)
        memory = sum(gpu["used"] or 0.0 for gpu in used)
    utils = [gpu["util"] for gpu in used if gpu["util"] is not None]
    if not used:
        return {}
    values = {PREFIX + "gpu_mem": round(memory, 1)}
    if utils:
        values[PREFIX + "gpu_util"] = round(sum(utils) / len(utils), 1)
    return values


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None
