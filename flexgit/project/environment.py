"""The environment a run is recorded in: installed distributions, Python, platform, CPU, memory, GPUs.

Every run keeps the distributions of the recording interpreter as `.flexgit/environment.txt`
(`name==version` lines, sorted, as `pip install -r` reads them) and a summary in its meta under
`env.*` keys. Capturing it must not slow a record down: distributions are read from the names
of the `*.dist-info` / `*.egg-info` folders of `sys.path` (importlib.metadata opens every
METADATA file, about 40 ms for 100 distributions), and the GPUs come from `nvidia-smi` at most
once per boot of the machine, bounded by a timeout and cached under `.git/flexgit.d/`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

from .files import read_sealed, write_sealed
from .values import one_line

ENVIRONMENT_FILE = "environment.txt"  # under .flexgit/ in a run's tree
GPU_CACHE = "gpus.json"  # under .git/flexgit.d/
NVIDIA_SMI_TIMEOUT_S = 5.0  # a hung driver must not hang a record; the answer (or its absence) is cached
PREFIX = "env."

# PEP 440's version grammar (packaging's VERSION_PATTERN): other versions are written `===`, which pip
# compares as plain text, so that every line stays one that `pip install -r` reads.
_PEP440 = re.compile(r"""
    v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?
    (?:[-_.]?dev[-_.]?[0-9]*)?)
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?""", re.VERBOSE | re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_ARBITRARY = re.compile(r"[^\s;,#\\\"'<>=!~()\[\]]+")  # what `===` may compare: no separators, no markers

_memo: dict[str, Any] = {}  # per process: the last scan and its key, the machine facts


def distributions(paths: Iterable[str] | None = None) -> dict[str, str]:
    """Normalised name -> version of every distribution installed on `paths` (default `sys.path`);
    the first of a name on the path wins, as for `import`.

    The scan is remembered, keyed by the folders' modification times (an install or uninstall
    changes them), so the next record in the same process costs a few `stat` calls.
    """
    folders = [p for p in dict.fromkeys(sys.path if paths is None else paths) if p]
    key = []
    for folder in folders:
        try:
            key.append((folder, os.stat(folder).st_mtime_ns))
        except OSError:
            continue
    if _memo.get("key") == key:
        return _memo["found"]
    found: dict[str, str] = {}
    for folder, _ in key:
        try:
            entries = list(os.scandir(folder))
        except OSError:  # a file (a zip on sys.path), or gone since
            continue
        for entry in entries:
            name_version = _from_entry(entry)
            if name_version is not None:
                found.setdefault(*name_version)
    _memo.update(key=key, found=found)
    return found


def _from_entry(entry: os.DirEntry) -> tuple[str, str] | None:
    """(normalised name, version) of a `NAME-VERSION.dist-info` / `.egg-info` entry, else None."""
    name = entry.name
    if name.endswith(".dist-info"):
        stem, metadata = name[:-10], "METADATA"
    elif name.endswith(".egg-info"):
        stem, metadata = name[:-9], "PKG-INFO"
    else:
        return None
    project, _, rest = stem.partition("-")
    # an egg's folder may add the Python version and platform (`-py3.11-linux`); a version never holds '-'
    version = rest.split("-")[0] if rest else _metadata_version(entry, metadata)
    if not version or not _NAME.fullmatch(project) or requirement(project, version) is None:
        return None
    return normalise(project), version


def _metadata_version(entry: os.DirEntry, metadata: str) -> str | None:
    """The `Version:` header of a distribution whose folder name does not say it (an egg-info of `develop`)."""
    path = Path(entry.path) / metadata if entry.is_dir() else Path(entry.path)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break  # the headers end at the first empty line
                if line.lower().startswith("version:"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        return None
    return None


def normalise(name: str) -> str:
    """A project name as PEP 503 compares it: `Scikit_Learn` -> `scikit-learn`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(name: str, version: str) -> str | None:
    """One line of environment.txt: `name==version`, `name===version` for a version PEP 440 does not
    read; None for what no requirements file could hold."""
    if _PEP440.fullmatch(version):
        return f"{name}=={version}"
    if _ARBITRARY.fullmatch(version):
        return f"{name}==={version}"
    return None


def requirements_text(found: dict[str, str]) -> str:
    """environment.txt: one requirement per line, sorted by name."""
    lines = (requirement(name, version) for name, version in sorted(found.items()))
    return "".join(line + "\n" for line in lines if line)


def capture(cache_dir: Path | None) -> tuple[str, dict[str, Any]]:
    """(environment.txt, the `env.*` meta) of this interpreter on this machine; `cache_dir` keeps what
    `nvidia-smi` said (None: ask it every time)."""
    found = distributions()
    meta = {**machine(), "packages": len(found), **gpus(cache_dir)}
    return requirements_text(found), {PREFIX + key: value for key, value in meta.items() if value not in (None, [])}


def machine() -> dict[str, Any]:
    """Python, platform, CPU model, cores and memory: read once per process."""
    if "machine" not in _memo:
        cpus = os.cpu_count()
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
        _memo["machine"] = {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(), "cpu": cpu_model(), "cpus": cpus,
            "cpus_usable": usable if usable != cpus else None, "memory_gb": memory_gb()}
    return dict(_memo["machine"])


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo's first `model name`), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            head = handle.read(8192)  # the first processor's block: the file is long on many-core machines
        for line in head.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gb() -> float | None:
    """Physical memory in GiB, one decimal; None where the system does not say."""
    try:
        return round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2 ** 30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def gpus(cache_dir: Path | None) -> dict[str, Any]:
    """`gpus` (model of each visible GPU), `gpu_memory` (GiB each), `driver`, `cuda` (the CUDA version the
    driver supports), from `nvidia-smi`; empty without it. Asked once per boot (cached in `cache_dir`)."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return {}
    key = _gpu_key(program)
    known = _memo.get("gpus")
    if known is None or known[0] != key:
        known = (key, _cached_gpus(cache_dir, key, program))
        _memo["gpus"] = known
    return visible(known[1], os.environ.get("CUDA_VISIBLE_DEVICES"))


def _gpu_key(program: str) -> list[Any]:
    """What the cached answer depends on: the host, this boot (a new driver needs one) and the program."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    try:
        stamp = os.stat(program).st_mtime_ns
    except OSError:
        stamp = 0
    return [socket.gethostname(), boot, program, stamp]


def _cached_gpus(cache_dir: Path | None, key: list[Any], program: str) -> dict[str, Any]:
    path = cache_dir / GPU_CACHE if cache_dir is not None else None
    data = read_sealed(path) if path is not None else None
    try:
        cached = json.loads(data) if data else None
    except ValueError:
        cached = None
    if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("found"), dict):
        return cached["found"]
    found = ask_nvidia_smi(program)
    if path is not None:
        try:
            write_sealed(path, json.dumps({"key": key, "found": found}).encode())
        except OSError:
            pass  # a cache: the next record asks again
    return found


def ask_nvidia_smi(program: str = "nvidia-smi", timeout: float = NVIDIA_SMI_TIMEOUT_S) -> dict[str, Any]:
    """What `nvidia-smi` says of the GPUs: `{"devices": [{index, uuid, name, memory_mib}], "driver",
    "cuda"}`; `{}` when it fails, hangs past `timeout` or says something else."""
    table = run_nvidia_smi(program, ["--query-gpu=index,uuid,name,memory.total,driver_version",
                           "--format=csv,noheader,nounits"], timeout)
    if table is None:
        return {}
    devices, driver = [], None
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        try:
            memory = int(float(cells[3]))
        except ValueError:
            memory = None
        devices.append({"index": int(cells[0]), "uuid": cells[1], "name": cells[2], "memory_mib": memory})
        driver = cells[4] or driver
    header = run_nvidia_smi(program, [], timeout) or ""
    cuda = re.search(r"CUDA Version:\s*([0-9][0-9.]*)", header)
    return {"devices": devices, "driver": driver, "cuda": cuda.group(1) if cuda else None}


def run_nvidia_smi(program: str, args: list[str], timeout: float = NVIDIA_SMI_TIMEOUT_S) -> str | None:
    """What `nvidia-smi ARGS` printed, or None when it failed or ran past `timeout` (then it is killed)."""
    try:
        done = subprocess.run([program, *args], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def select(devices: list[dict[str, Any]], selection: str | None) -> list[dict[str, Any]]:
    """The devices `CUDA_VISIBLE_DEVICES` (`selection`: indices or UUID prefixes) lets a process use, as CUDA
    reads it: up to the first entry it cannot find. All of them when it is not set."""
    if selection is None:
        return devices
    chosen = []
    for wanted in (part.strip() for part in selection.split(",")):
        match = next((d for d in devices if wanted and (str(d.get("index")) == wanted
                                                        or str(d.get("uuid", "")).startswith(wanted))), None)
        if match is None:
            break
        chosen.append(match)
    return chosen


def visible(found: dict[str, Any], selection: str | None) -> dict[str, Any]:
    """The `env.*` GPU keys (without the prefix) for the GPUs `selection` (`CUDA_VISIBLE_DEVICES`) allows."""
    devices = select([d for d in found.get("devices") or () if isinstance(d, dict)], selection)
    if not devices:
        return {}
    return {"gpus": [str(d.get("name")) for d in devices],
            "gpu_memory": [round(d["memory_mib"] / 1024, 1) if isinstance(d.get("memory_mib"), int) else None
                           for d in devices],
            "driver": found.get("driver"), "cuda": found.get("cuda")}


def private(meta: dict[str, Any]) -> dict[str, Any]:
    """The `env.*` keys of a run that may be shared (`private_meta`): the platform's name only, as for
    the `platform` key; the rest describes hardware and software, what reproducing a run needs."""
    if isinstance(meta.get(PREFIX + "platform"), str):
        meta = {**meta, PREFIX + "platform": platform.system()}
    return meta


def describe(meta: dict[str, Any]) -> list[str]:
    """`flexgit show`'s summary of a run's `env.*` meta, a line each for software, CPU and GPUs (whatever
    their types: the meta may come from a remote)."""
    env = {key[len(PREFIX):]: value for key, value in meta.items() if key.startswith(PREFIX)}
    if not env:
        return []
    lines = []
    software = ", ".join(str(env[key]) for key in ("python", "platform") if env.get(key))
    if "packages" in env:
        software += f"; {env['packages']} packages (.flexgit/{ENVIRONMENT_FILE})"
    if software:
        lines.append(software.lstrip("; "))
    cpu = [str(env["cpu"])] if env.get("cpu") else []
    if env.get("cpus"):
        usable = f" ({env['cpus_usable']} usable)" if env.get("cpus_usable") else ""
        cpu.append(f"{env['cpus']} cores{usable}")
    if env.get("memory_gb") is not None:
        cpu.append(f"{env['memory_gb']} GiB")
    if cpu:
        lines.append(", ".join(cpu))
    names = env.get("gpus") if isinstance(env.get("gpus"), list) else []
    if names:
        memory = env.get("gpu_memory") if isinstance(env.get("gpu_memory"), list) else []
        counted: dict[str, int] = {}
        for i, name in enumerate(names):
            size = memory[i] if i < len(memory) else None
            label = f"{name} ({size} GiB)" if size is not None else str(name)
            counted[label] = counted.get(label, 0) + 1
        gpu = ", ".join(f"{n} x {label}" for label, n in counted.items())
        extra = [f"driver {env['driver']}"] if env.get("driver") else []
        extra += [f"CUDA {env['cuda']}"] if env.get("cuda") else []
        lines.append(gpu + (f"; {', '.join(extra)}" if extra else ""))
    return [one_line(line) for line in lines]  # a pulled run's meta is input: no terminal escapes
