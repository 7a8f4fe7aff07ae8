"""A sweep handed to a cluster, on the shared file system: its manifest, one checkout per job, the
engine's files, and what has been recorded.

    SHARED_DIR/GROUP/sweep.json      what `flexgit collect` needs to record the jobs (written once)
    SHARED_DIR/GROUP/job-3/          job 3's checkout, removed once its run is recorded
    SHARED_DIR/GROUP/job-3.recorded  the commit id of job 3's run: it is recorded, never again
    SHARED_DIR/GROUP/engine/         the engine's files (submitit's pickles, Slurm's logs)
    SHARED_DIR/GROUP/lock            held while recording: one recorder at a time, whatever the machine

The whole folder goes once every job is recorded. The default SHARED_DIR is in the repository's
flexgit directory (`.git/flexgit.d/sweeps`), which `git status` never shows and which is on the
shared file system wherever the repository is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from .files import write_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows, where clusters do not run Slurm
    fcntl = None

DEFAULT = "sweeps"  # under the repository's flexgit directory
MANIFEST = "sweep.json"
VERSION = 1
_GROUP = re.compile(r"[A-Za-z0-9_.+=%@-]+")


class SweepDir:
    """The folder of one sweep."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def create(cls, shared: Path, group: str, manifest: dict[str, Any]) -> "SweepDir":
        """A new sweep's folder, its manifest written; refused if the group has one already."""
        if not _GROUP.fullmatch(group) or group.startswith("."):
            raise InputError(f"{group!r} cannot name a sweep's folder; use letters, digits and . _ -")
        shared.mkdir(parents=True, exist_ok=True)
        path = shared / group
        try:
            path.mkdir()
        except FileExistsError:
            raise InputError(f"a sweep '{group}' is still waiting in {shared}; 'flexgit collect' records it, "
                             "or pick another --name") from None
        sweep = cls(path)
        sweep.write_manifest(manifest)
        return sweep

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.path / MANIFEST, json.dumps({"version": VERSION, **manifest}, indent=1).encode(),
                     durable=True)

    def manifest(self) -> dict[str, Any] | None:
        """The manifest, None when the sweep is gone (recorded meanwhile) or not one this flexgit reads."""
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == VERSION else None

    def job_dir(self, index: int) -> Path:
        return self.path / f"job-{index}"

    @property
    def engine_dir(self) -> Path:
        return self.path / "engine"

    def recorded(self, index: int) -> str | None:
        """The commit id of job `index`'s run, once recorded."""
        try:
            return (self.path / f"job-{index}.recorded").read_text().strip() or None
        except OSError:
            return None

    def mark_recorded(self, index: int, run_id: str) -> None:
        """Job `index` is recorded as `run_id`: its checkout goes."""
        write_atomic(self.path / f"job-{index}.recorded", run_id.encode(), durable=True)
        shutil.rmtree(self.job_dir(index), ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    @contextlib.contextmanager
    def claim(self) -> Iterator[bool]:
        """Hold the sweep's lock (waiting for another recorder); yields False when the sweep went meanwhile."""
        try:
            handle = open(self.path / "lock", "a+b")
        except FileNotFoundError:
            yield False
            return
        with handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield (self.path / MANIFEST).is_file()
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def shared_dir(setting: str | None, workdir: Path, flexgit_dir: Path) -> Path:
    """Where sweeps live: the `shared_dir` setting (relative to the working tree), else the default."""
    if not setting:
        return flexgit_dir / DEFAULT
    return (workdir / os.path.expanduser(setting)).resolve()


def sweeps_in(shared: Path, repository: str) -> list[SweepDir]:
    """The sweeps in `shared` that this repository launched, oldest first."""
    found = []
    for path in sorted(shared.glob(f"*/{MANIFEST}")) if shared.is_dir() else []:
        sweep = SweepDir(path.parent)
        manifest = sweep.manifest()
        if manifest and manifest.get("repository") == repository:
            found.append((str(manifest.get("created", "")), sweep))
    return [sweep for _, sweep in sorted(found, key=lambda pair: pair[0])]
