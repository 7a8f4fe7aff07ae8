"""What the report and the UI show of each run's stored files: its step history, the tail of its
output, the files it keeps, the files its snapshot changed from its source commit, and its code.

Code is gathered so that any two runs can be diffed in the page without storing a diff per
pair: each distinct snapshot is one `path -> blob` map (paths and blob ids numbered once), and
only the blobs at paths that differ between snapshots are included, as text, within a budget.
Everything here reads the object database and writes nothing.
"""

from __future__ import annotations

import json
import marshal
import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..project.files import read_sealed, write_sealed
from .gitrepo import TREE, GitRepo
from .refs import FLEXGIT_DIR, HISTORY_FILE, OUTPUT_LOG
from .run import Run

# Steps per run (a longer curve is thinned, its last step kept) and bytes of output per run: the
# most that fits the budget over all runs, in steps, so that one more run rarely changes them.
HISTORY_POINTS = (400, 200, 100, 50)
HISTORY_BUDGET = 1_000_000
LOG_TAIL_BYTES = (32 << 10, 8 << 10, 2 << 10, 512)
LOG_BUDGET = 4 << 20
LOG_TAIL_LINES = 200
CACHE = "report-v1.marshal"  # in .git/flexgit.d/: what was read of each run commit (never changes)
TEXT_LIMIT = 256 << 10  # one file's text in the page; larger files are named, not shown
TEXT_BUDGET = 16 << 20  # all the code text of one page
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class Snapshots:
    """Distinct code snapshots as numbered maps, and the text of the blobs where they differ."""

    paths: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    maps: list[list[int]] = field(default_factory=list)  # per snapshot: path index, blob index, ...
    texts: dict[int, str] = field(default_factory=dict)  # blob index -> text
    omitted: dict[int, str] = field(default_factory=dict)  # blob index -> why its text is not here


class RunFiles:
    """Reads runs' files, remembering trees already read (sweeps share most of them)."""

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self._items: dict[str, list[tuple[str, str, str]]] = {}
        self._flat: dict[str, dict[str, str]] = {}
        self._snapshot_of: dict[tuple, int] = {}
        self._snapshot_files: list[dict[str, str]] = []
        self._changes_of: dict[tuple[str | None, int], list[list[str]] | None] = {}

    def details(self, runs: Sequence[Run]) -> tuple[list[dict[str, Any]], Snapshots]:
        """Per run (in order): its history, output tail, kept files, changed files and snapshot number;
        and the snapshots those numbers name."""
        count = max(1, len(runs))
        points = next((n for n in HISTORY_POINTS if n * count <= HISTORY_BUDGET), HISTORY_POINTS[-1])
        tail = next((n for n in LOG_TAIL_BYTES if n * count <= LOG_BUDGET), LOG_TAIL_BYTES[-1])
        path = self.repo.flexgit_dir(create=False) / CACHE
        cached = _load_cache(path, (points, tail))
        read = {}
        found = []
        for run in runs:
            entry = cached.get(run.id)
            if entry is None:
                entry = read[run.id] = self._read(run.id, points, tail)
            found.append(self._details(run, entry))
        if read:
            _save_cache(path, (points, tail), {**cached, **read})
        return found, self._snapshots()

    def _read(self, commit: str, points: int, tail: int) -> tuple | None:
        """What a run commit holds, as the cache keeps it: (code key, kept files and sizes, curves, log tail)."""
        try:
            root = self.repo.commit(commit)[0]
        except KeyError:  # a row whose commit is not here (a pull under way)
            return None
        items = self._tree_items(root)
        own = next((oid for name, oid, kind in items if name == FLEXGIT_DIR and kind == TREE), None)
        kept = self.flat(own) if own else {}
        code_key = tuple(sorted(item for item in items if item[0] != FLEXGIT_DIR))
        history = kept.get(HISTORY_FILE)
        log = kept.get(OUTPUT_LOG)
        return (code_key, [[path, self.repo.blob_size(oid)] for path, oid in sorted(kept.items())],
                curves(self.repo.read_blob(history), points) if history else None,
                log_tail(self.repo.read_blob(log), tail) if log else None)

    def _details(self, run: Run, entry: tuple | None) -> dict[str, Any]:
        if entry is None:
            return {"changes": None, "snapshot": None, "outputs": [], "history": None, "log": None}
        code_key, outputs, history, log = entry
        snapshot = changes = None
        if not run.meta.get("imported"):
            snapshot = self._snapshot(code_key)
            changes = self._changes(run.source, snapshot)
        return {"changes": changes, "snapshot": snapshot, "outputs": outputs, "history": history, "log": log}

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

    def _snapshot(self, key: tuple) -> int:
        number = self._snapshot_of.get(key)
        if number is None:
            files: dict[str, str] = {}
            for name, oid, kind in key:
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
        found = Snapshots()
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
    return (type(entry) is tuple and len(entry) == 4 and type(entry[0]) is tuple and type(entry[1]) is list
            and (entry[2] is None or type(entry[2]) is dict) and (entry[3] is None or type(entry[3]) is str))


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


def curves(data: bytes, points: int = HISTORY_POINTS[0]) -> dict[str, Any] | None:
    """A step history as columns, each one text of comma-separated numbers (compact to carry, parsed
    only when a chart needs it): `step`, `t` (seconds since the first step), and per metric its values
    (empty where a step lacks it or the value is not a number; `nan`, `inf` as written), at most
    `points` steps (evenly thinned, the last kept)."""
    lines = [line for line in _json_lines(data) if type(line) is dict and type(line.get("metrics")) is dict]
    if not lines:
        return None
    if len(lines) > points:
        stride = len(lines) / points
        lines = [lines[int(i * stride)] for i in range(points - 1)] + [lines[-1]]
    keys = dict.fromkeys(chain.from_iterable(line["metrics"] for line in lines))
    return {"step": _numbers([line.get("step") for line in lines], _STEP),
            "t": _numbers(_seconds([line.get("t") for line in lines]), _TIME),
            "metrics": {str(key): _numbers([line["metrics"].get(key) for line in lines]) for key in keys}}


_VALUE = "{:.6g}".format  # six digits: more than a chart can show
_STEP = "{:.12g}".format
_TIME = "{:.6g}".format


def _numbers(values: list[Any], form: Callable[[Any], str] = _VALUE) -> str:
    try:
        return ",".join(map(form, values))  # the common case: numbers only, formatted in C
    except (TypeError, ValueError):
        return ",".join(form(value) if type(value) in (int, float) else "" for value in values)


def _seconds(stamps: list[Any]) -> list[float | None]:
    """ISO 8601 times as seconds since the first that can be read (None for those that cannot)."""
    import datetime as dt

    read: list[float | None] = []
    for stamp in stamps:
        try:
            read.append(dt.datetime.fromisoformat(stamp).timestamp())
        except (TypeError, ValueError):
            read.append(None)
    first = next((t for t in read if t is not None), 0.0)
    return [t - first if t is not None else None for t in read]


def _json_lines(data: bytes) -> list[Any]:
    lines = [raw for raw in data.splitlines() if raw.strip()]
    try:
        return json.loads(b"[" + b",".join(lines) + b"]")  # one parse for the whole history: the common case
    except (ValueError, RecursionError):
        pass
    parsed = []
    for raw in lines:  # a line cut by a crash: the others still count
        try:
            parsed.append(json.loads(raw))
        except (ValueError, RecursionError):
            continue
    return parsed


def log_tail(data: bytes, size: int = LOG_TAIL_BYTES[0]) -> str:
    """The last lines of a command's output as text: at most LOG_TAIL_LINES lines and `size` bytes,
    terminal colour codes removed."""
    tail = data[-size:]
    text = _ANSI.sub("", tail.decode("utf-8", "replace"))
    lines = text.splitlines()
    cut = len(data) > size or len(lines) > LOG_TAIL_LINES
    return ("…\n" if cut else "") + "\n".join(lines[-LOG_TAIL_LINES:])
