"""What the report and the UI show of each run's stored files: its step history, the tail of its
output, the files it keeps (outputs, artifacts, checkpoints; flexgit's own run files), its
environment file, the files its snapshot changed from its source commit, and its code.

Code is gathered so that any two runs can be diffed in the page without storing a diff per
pair: each distinct snapshot is one `path -> blob` map (paths and blob ids numbered once), and
only the blobs at paths that differ between snapshots are included, as text, within a budget.
Environment files are shared the same way: each distinct one once. Commits and trees are read
as stored bytes in bulk (10,000 runs in `make bench`), never as objects one at a time.
Everything here reads the object database and writes nothing but its own cache.
"""

from __future__ import annotations

import marshal
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from ..errors import FlexgitError
from ..project.curves import HISTORY_BUDGET, HISTORY_POINTS, LOG_BUDGET, LOG_TAIL_BYTES, curves, log_tail
from ..project.environment import ENVIRONMENT_FILE
from ..project.files import read_sealed, write_sealed
from .gitrepo import TREE, GitRepo, commit_tree, split_tree_entry, tree_entries
from .refs import FLEXGIT_DIR, HISTORY_FILE, OUTPUT_LOG
from .run import Run
from .runfiles import KINDS, run_files

CACHE = "report-v2.marshal"  # in .git/flexgit.d/: what was read of each run commit (never changes)
TEXT_LIMIT = 256 << 10  # one file's text in the page; larger files are named, not shown
TEXT_BUDGET = 16 << 20  # all the code text of one page
ENVIRONMENT_LIMIT = 1 << 20  # one environment file's text in the page
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
GIT_READ_FROM = 200  # runs read at once from which `git cat-file` reads them (its start-up: a few ms)


class Stored(NamedTuple):
    """What a run commit holds that the page shows: its root tree, the stored bytes of that tree's
    entries but `.flexgit/` (its code), the entries of `.flexgit/`, its history and output log."""

    root: str
    code: bytes
    own: list[tuple[str, str, str]]
    history: bytes | None
    log: bytes | None


@dataclass
class Snapshots:
    """Distinct code snapshots as numbered maps, the text of the blobs where they differ, and the
    distinct environment files."""

    paths: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    maps: list[list[int]] = field(default_factory=list)  # per snapshot: path index, blob index, ...
    texts: dict[int, str] = field(default_factory=dict)  # blob index -> text
    omitted: dict[int, str] = field(default_factory=dict)  # blob index -> why its text is not here
    environments: list[str] = field(default_factory=list)  # the text of each distinct environment file


class RunFiles:
    """Reads runs' files, remembering trees already read (sweeps share most of them)."""

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self._items: dict[str, list[tuple[str, str, str]]] = {}
        self._flat: dict[str, dict[str, str]] = {}
        self._snapshot_of: dict[bytes, int] = {}
        self._snapshot_files: list[dict[str, str]] = []
        self._changes_of: dict[tuple[str | None, int], list[list[str]] | None] = {}
        self._environment_of: dict[str, int] = {}
        self._environments: list[str] = []

    def details(self, runs: Sequence[Run]) -> tuple[list[dict[str, Any]], Snapshots]:
        """Per run (in order): its history, output tail, kept and run files, environment number,
        changed files and snapshot number; and the snapshots and environments those numbers name."""
        count = max(1, len(runs))
        points = next((n for n in HISTORY_POINTS if n * count <= HISTORY_BUDGET), HISTORY_POINTS[-1])
        tail = next((n for n in LOG_TAIL_BYTES if n * count <= LOG_BUDGET), LOG_TAIL_BYTES[-1])
        path = self.repo.flexgit_dir(create=False) / CACHE
        cached = _load_cache(path, (points, tail))
        missing = [run.id for run in runs if run.id not in cached]
        read = dict(zip(missing, self._read(missing, points, tail), strict=True)) if missing else {}
        found = [self._details(run, cached[run.id] if run.id in cached else read[run.id]) for run in runs]
        if read:
            _save_cache(path, (points, tail), {**cached, **{commit: entry for commit, entry in read.items() if entry}})
        return found, self._snapshots()

    def _read(self, commits: list[str], points: int, tail: int) -> list[tuple | None]:
        """What run commits hold, as the cache keeps it: (code key, run files, kept files, curves,
        log tail, environment blob); None for a commit that is not here (a pull under way)."""
        if len(commits) >= GIT_READ_FROM:
            try:  # git inflates packed trees and blobs faster, and runs ahead while histories are cut into rows
                return self._entries(self._stored(commits, self._by_git), points, tail)
            except (FileNotFoundError, FlexgitError):
                pass  # no git command, or one that refuses this repository: libgit2 reads them
        return self._entries(self._stored(commits, lambda oids: iter(self.repo.raw_objects(oids))), points, tail)

    def _by_git(self, oids: list[str]) -> Iterator[bytes | None]:
        """The stored bytes of objects, from `git cat-file`; None for a missing one or one that is no id
        (a line of a damaged commit must not become a request of its own)."""
        valid = [_OBJECT_ID.fullmatch(oid) is not None for oid in oids]
        found = self.repo.cat_objects([oid for oid, ok in zip(oids, valid, strict=True) if ok])
        for ok in valid:
            have = next(found) if ok else None
            yield have[1] if have else None

    def _stored(self, commits: list[str], read: Callable[[list[str]], Iterator[bytes | None]]
                ) -> Iterator[Stored | None]:
        """Each run commit's root tree (id and stored bytes), its `.flexgit/` tree's bytes and its
        history and output log, read by ids (`read`) a level at a time; the files as they come."""
        roots = [commit_tree(raw) if raw else None for raw in read(commits)]
        splits = [split_tree_entry(raw, FLEXGIT_DIR.encode()) if raw is not None else None
                  for raw in read([root or "" for root in roots])]
        owns = [tree_entries(raw) if raw else [] for raw in read([split[0] or "" if split else "" for split in splits])]
        wanted = [{name: oid for name, oid, kind in own if kind != TREE and name in (HISTORY_FILE, OUTPUT_LOG)}
                  for own in owns]
        blobs = read([oid for files in wanted for oid in files.values()])
        for root, split, own, files in zip(roots, splits, owns, wanted, strict=True):
            contents = {name: next(blobs) for name in files}
            yield (Stored(root, split[1], own, contents.get(HISTORY_FILE), contents.get(OUTPUT_LOG))
                   if root and split is not None else None)

    def _entries(self, stored: Iterable[Stored | None], points: int, tail: int) -> list[tuple | None]:
        entries: list[tuple | None] = []
        for one in stored:
            if one is None:
                entries.append(None)
                continue
            names = {name for name, _, kind in one.own if kind == TREE}
            kept = [[f.kind, f.path, f.size, f.lfs is not None]
                    for kind in KINDS if kind in names for f in run_files(self.repo, one.root, kind)]
            environment = next((oid for name, oid, kind in one.own if name == ENVIRONMENT_FILE and kind != TREE),
                               None)
            entries.append((one.code, sorted(name for name, _, kind in one.own if kind != TREE), kept,
                            curves(one.history, points) if one.history is not None else None,
                            log_tail(one.log, tail) if one.log is not None else None, environment))
        return entries

    def _details(self, run: Run, entry: tuple | None) -> dict[str, Any]:
        if entry is None:
            return {"changes": None, "snapshot": None, "files": [], "kept": [], "history": None, "log": None,
                    "environment": None}
        code_key, files, kept, history, log, environment = entry
        snapshot = changes = None
        if not run.meta.get("imported"):
            snapshot = self._snapshot(code_key)
            changes = self._changes(run.source, snapshot)
        return {"changes": changes, "snapshot": snapshot, "files": files, "kept": kept, "history": history,
                "log": log, "environment": self._environment(environment)}

    def _environment(self, blob: str | None) -> int | None:
        """The number of a distinct environment file (read once), None for a run without one."""
        if blob is None:
            return None
        number = self._environment_of.get(blob)
        if number is None:
            data = self.repo.raw_objects([blob])[0] or b""
            number = self._environment_of[blob] = len(self._environments)
            self._environments.append(data[:ENVIRONMENT_LIMIT].decode("utf-8", "replace"))
        return number

    def _tree_items(self, tree: str) -> list[tuple[str, str, str]]:
        if tree not in self._items:
            self._items[tree] = self.repo.tree_items(tree)
        return self._items[tree]

    def flat(self, tree: str) -> dict[str, str]:
        """path -> blob id of every file below `tree` (each subtree read once)."""
        found = self._flat.get(tree)
        if found is None:
            found = {}
            for name, oid, kind in self._tree_items(tree):
                if kind == TREE:
                    found.update({f"{name}/{path}": blob for path, blob in self.flat(oid).items()})
                else:
                    found[name] = oid
            self._flat[tree] = found
        return found

    def _snapshot(self, key: bytes) -> int:
        """The number of the snapshot whose root entries (but `.flexgit/`) are the stored bytes `key`."""
        number = self._snapshot_of.get(key)
        if number is None:
            files: dict[str, str] = {}
            for name, oid, kind in tree_entries(key):
                if kind == TREE:
                    files.update({f"{name}/{path}": blob for path, blob in self.flat(oid).items()})
                else:
                    files[name] = oid
            number = self._snapshot_of[key] = len(self._snapshot_files)
            self._snapshot_files.append(files)
        return number

    def _changes(self, source: str | None, snapshot: int) -> list[list[str]] | None:
        """(A/M/D, path) of the files a snapshot changed from its source commit; None when that
        commit is not in this clone."""
        key = (source, snapshot)
        if key not in self._changes_of:
            self._changes_of[key] = self._compare(source, self._snapshot_files[snapshot])
        return self._changes_of[key]

    def _compare(self, source: str | None, files: dict[str, str]) -> list[list[str]] | None:
        if source and not self.repo.is_commit(source):
            return None
        before = self.flat(self.repo.commit(source)[0]) if source else {}
        changed = [["M" if path in before else "A", path] for path, blob in files.items() if before.get(path) != blob]
        changed += [["D", path] for path in before if path not in files]
        return sorted(changed, key=lambda change: change[1])

    def _snapshots(self) -> Snapshots:
        found = Snapshots(environments=list(self._environments))
        path_number: dict[str, int] = {}
        blob_number: dict[str, int] = {}
        for files in self._snapshot_files:
            pairs: list[int] = []
            for path, blob in sorted(files.items()):
                pairs += [_number(path_number, found.paths, path), _number(blob_number, found.blobs, blob)]
            found.maps.append(pairs)
        budget = TEXT_BUDGET
        for blob in _differing_blobs(self._snapshot_files):
            number = blob_number[blob]
            size = self.repo.blob_size(blob)
            if size > TEXT_LIMIT or size > budget:
                found.omitted[number] = f"{size:,} bytes: too large for the page"
                continue
            data = self.repo.read_blob(blob)
            if b"\0" in data[:8000]:
                found.omitted[number] = "binary"
                continue
            found.texts[number] = data.decode("utf-8", "replace")
            budget -= size
        return found


def _load_cache(path: Path, levels: tuple[int, int]) -> dict[str, Any]:
    """commit -> what `_read` found, as last saved for the same levels (empty when missing or not sound)."""
    try:
        data = marshal.loads(read_sealed(path) or b"")
    except (ValueError, EOFError, TypeError):
        return {}
    if type(data) is not dict or data.get("levels") != levels or type(data.get("runs")) is not dict:
        return {}
    return {commit: entry for commit, entry in data["runs"].items() if _is_entry(entry)}


def _is_entry(entry: Any) -> bool:
    return (type(entry) is tuple and len(entry) == 6 and type(entry[0]) is bytes and type(entry[1]) is list
            and type(entry[2]) is list and (entry[3] is None or type(entry[3]) is list)
            and (entry[4] is None or type(entry[4]) is str) and (entry[5] is None or type(entry[5]) is str))


def _save_cache(path: Path, levels: tuple[int, int], runs: dict[str, Any]) -> None:
    try:
        write_sealed(path, marshal.dumps({"levels": levels, "runs": runs}))
    except OSError:
        pass  # a read-only repository still gets its report, without the cache


def _number(numbers: dict[str, int], values: list[str], value: str) -> int:
    found = numbers.get(value)
    if found is None:
        found = numbers[value] = len(values)
        values.append(value)
    return found


def _differing_blobs(snapshots: Iterable[dict[str, str]]) -> list[str]:
    """Blobs at a path whose content (or presence) is not the same in every snapshot, smallest
    paths first in the order met, each once."""
    snapshots = list(snapshots)
    at: dict[str, set[str | None]] = {}
    for files in snapshots:
        for path, blob in files.items():
            at.setdefault(path, set()).add(blob)
    wanted: dict[str, None] = {}
    for path, blobs in at.items():
        if len(blobs) > 1 or any(path not in files for files in snapshots):
            wanted.update(dict.fromkeys(sorted(b for b in blobs if b)))
    return list(wanted)
