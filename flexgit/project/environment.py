"""The environment a run is recorded in: installed distributions, Python, platform, CPU, memory, GPUs.

Every run keeps the distributions of the recording interpreter as `.flexgit/environment.txt`
(`name==version` lines, sorted, as `pip install -r` reads them) and a summary in its meta under
`env.*` keys. Capturing it must not slow a record down: distributions are read from the names
of the `*.dist-info` / `*.egg-info` folders of `sys.path` (importlib.metadata opens every
METADATA file, about 40 ms for 100 distributions), and the GPUs come from `nvidia-smi` at most
once per boot of the machine, bounded by a timeout and cached under `.git/flexgit.d/`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import sys
import time
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
_PEP440 = r"""
    v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?
    (?:[-_.]?dev[-_.]?[0-9]*)?)
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?"""
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_ARBITRARY = r"[^\s;,#\\\"'<>=!~()\[\]]+"  # what `===` may compare: no separators, no markers


@functools.cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """PEP 440 versions, names and `===` versions, compiled on first use: a record whose scan is cached
    reads none."""
    return re.compile(_PEP440, re.VERBOSE | re.IGNORECASE), re.compile(_NAME), re.compile(_ARBITRARY)

SCAN_CACHE = "distributions.json"  # under .git/flexgit.d/: the last scan of each folder, for the next process
SCAN_VERSION = 2  # of what a scan finds: a change to the reading of folder names makes older scans misses
RACY_NS = 2 * 10 ** 9  # a folder scanned this soon after it changed is not kept (see `_keep_scans`)

_memo: dict[str, Any] = {}  # per process: the last scan and its key, the machine facts


def distributions(paths: Iterable[str] | None = None, cache_dir: Path | None = None) -> dict[str, str]:
    """Normalised name -> version of every distribution installed on `paths` (default `sys.path`);
    the first of a name on the path wins, as for `import`.

    Each folder's scan is remembered, keyed by its modification time (an install or uninstall changes
    it) and those of the metadata files read for a version a folder name does not say: in the process,
    and in `cache_dir` for the next process (a record started by the post-commit hook). Only the
    folders that changed are read again (a project folder where files come and go, not site-packages).
    """
    folders = [p for p in dict.fromkeys(sys.path if paths is None else paths) if p]
    key = []
    for folder in folders:
        try:
            key.append([folder, os.stat(folder).st_mtime_ns])
        except OSError:
            continue
    if _memo.get("key") == key and all(_still(scan["read"]) for scan in _memo["scans"].values()):
        return _memo["found"]
    kept = _memo.get("scans") or (_cached_scans(cache_dir) if cache_dir is not None else {})
    scans, found, lines = {}, {}, {}
    for folder, stamp in key:
        scan = kept.get(folder)
        if scan is None or scan["mtime"] != stamp or not _still(scan["read"]):
            scan = _scan(folder, stamp)
        scans[folder] = scan
        for name, version, line in scan["found"]:
            if name not in found:
                found[name], lines[name] = version, line
    if cache_dir is not None and scans != kept:
        _keep_scans(cache_dir, scans)
    _memo.update(key=key, found=found, scans=scans, lines=(found, lines))
    return found


def _scan(folder: str, stamp: int) -> dict[str, Any]:
    """The distributions in `folder` (modified at `stamp`): {"mtime", "found": [[name, version, line of
    environment.txt], ...], "read": [[path, modification time] of each metadata file read]}."""
    found: list[list[str]] = []
    read: list[list[Any]] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # a file (a zip on sys.path), or gone since
        entries = []
    for entry in entries:
        name_version = _from_entry(entry, read)
        if name_version is not None:
            found.append([*name_version, requirement(*name_version)])
    return {"mtime": stamp, "found": found, "read": read}


def _still(read: list[list[Any]]) -> bool:
    """True when every metadata file read has the modification time it had."""
    for path, stamp in read:
        try:
            if os.stat(path).st_mtime_ns != stamp:
                return False
        except OSError:
            if stamp is not None:
                return False
    return True


def _cached_scans(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """The folder scans kept in `cache_dir` (none when there are none, or they are torn or foreign)."""
    try:
        cached = json.loads(read_sealed(cache_dir / SCAN_CACHE) or b"null")
    except ValueError:
        return {}
    if not isinstance(cached, dict) or cached.get("v") != SCAN_VERSION or not isinstance(cached.get("scans"), dict):
        return {}
    return {folder: scan for folder, scan in cached["scans"].items() if _well_formed(scan)}


def _well_formed(scan: Any) -> bool:
    return (isinstance(scan, dict) and type(scan.get("mtime")) is int
            and isinstance(scan.get("found"), list) and isinstance(scan.get("read"), list)
            and all(isinstance(f, list) and len(f) == 3 and all(isinstance(x, str) for x in f) for f in scan["found"])
            and all(isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) for r in scan["read"]))


def _keep_scans(cache_dir: Path, scans: dict[str, dict[str, Any]]) -> None:
    """Write the scans for the next process, except those keyed by a time too recent to tell a change made
    in the same tick of the file system's clock from none (as git's index does with racy entries)."""
    recent = time.time_ns() - RACY_NS
    settled = {folder: scan for folder, scan in scans.items()
               if max([scan["mtime"], *(stamp for _, stamp in scan["read"] if stamp is not None)]) < recent}
    try:
        write_sealed(cache_dir / SCAN_CACHE, json.dumps({"v": SCAN_VERSION, "scans": settled}).encode())
    except OSError:
        pass  # a cache: the next record scans again


def _from_entry(entry: os.DirEntry, read: list[list[Any]]) -> tuple[str, str] | None:
    """(normalised name, version) of a `NAME-VERSION.dist-info` / `.egg-info` entry, else None; a
    metadata file read for the version is added to `read` with its modification time."""
    name = entry.name
    if name.endswith(".dist-info"):
        stem, metadata = name[:-10], "METADATA"
    elif name.endswith(".egg-info"):
        stem, metadata = name[:-9], "PKG-INFO"
    else:
        return None
    project, _, rest = stem.partition("-")
    # an egg's folder may add the Python version and platform (`-py3.11-linux`); a version never holds '-'
    version = rest.split("-")[0] if rest else _metadata_version(entry, metadata, read)
    if not version or not _patterns()[1].fullmatch(project) or requirement(project, version) is None:
        return None
    return normalise(project), version


def _metadata_version(entry: os.DirEntry, metadata: str, read: list[list[Any]]) -> str | None:
    """The `Version:` header of a distribution whose folder name does not say it (an egg-info of `develop`)."""
    path = Path(entry.path) / metadata if entry.is_dir() else Path(entry.path)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    read.append([str(path), stamp])
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
    pep440, _, arbitrary = _patterns()
    if pep440.fullmatch(version):
        return f"{name}=={version}"
    if arbitrary.fullmatch(version):
        return f"{name}==={version}"
    return None


def requirements_text(found: dict[str, str]) -> str:
    """environment.txt: one requirement per line, sorted by name."""
    lines = (requirement(name, version) for name, version in sorted(found.items()))
    return "".join(line + "\n" for line in lines if line)


def capture(cache_dir: Path | None) -> tuple[str, dict[str, Any]]:
    """(environment.txt, the `env.*` meta) of this interpreter on this machine; `cache_dir` keeps what
    `nvidia-smi` said (None: ask it every time)."""
    found = distributions(cache_dir=cache_dir)
    meta = {**machine(), "packages": len(found), **gpus(cache_dir)}
    scanned, lines = _memo.get("lines", (None, {}))
    text = "".join(lines[name] + "\n" for name in sorted(found)) if scanned is found else requirements_text(found)
    return text, {PREFIX + key: value for key, value in meta.items() if value not in (None, [])}


def machine() -> dict[str, Any]:
    """Python, platform, CPU model, cores and memory: read once per process."""
    if "machine" not in _memo:
        cpus = os.cpu_count()
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
        _memo["machine"] = {
            "python": f"{python_implementation()} {python_version()}",
            "platform": platform_name(), "cpu": cpu_model(), "cpus": cpus,
            "cpus_usable": usable if usable != cpus else None, "memory_gb": memory_gb()}
    return dict(_memo["machine"])


# `platform` answers the next three questions, but importing it and the `uname -p` process its
# platform() starts on Linux cost milliseconds of every record (most of all the hook's).
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "ironpython": "IronPython", "jython": "Jython"}


def python_implementation() -> str:
    """`platform.python_implementation()`."""
    known = _IMPLEMENTATIONS.get(sys.implementation.name)
    if known is None:
        import platform

        known = platform.python_implementation()
    return known


def python_version() -> str:
    """`platform.python_version()`: the version sys.version starts with, with a patch level."""
    found = re.match(r"[\w.+]+", sys.version)
    if found is None:
        import platform

        return platform.python_version()
    return found.group() + (".0" if found.group().count(".") == 1 else "")


def platform_name() -> str:
    """`platform.platform()`; on Linux without its `uname -p`, whose answer it drops there (`unknown`,
    or the machine it already names)."""
    if not sys.platform.startswith("linux"):
        import platform

        return platform.platform()
    system, _, release, _, machine = os.uname()
    try:
        libc, version = os.confstr("CS_GNU_LIBC_VERSION").split(maxsplit=1)  # what libc_ver() reads first
    except (AttributeError, ValueError, OSError):
        import platform

        libc, version = platform.libc_ver()
    text = "-".join(part.strip() for part in (system, release, machine, "with", libc + version) if part)
    for char in "/\\:;\"()":  # as platform.platform() makes it a file name
        text = text.replace(char, "-")
    text = text.replace(" ", "_").replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


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
    import platform

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
    import subprocess  # here: only a machine with nvidia-smi, once per boot, runs it

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
        import platform

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
