"""What the report and the UI show of each run's stored files: its step history, the tail of its
output, the files it keeps, the files its snapshot changed from its source commit, and its code.

Code is gathered so that any two runs can be diffed in the page without storing a diff per
pair: each distinct snapshot is one `path -> blob` map (paths and blob ids numbered once), and
only the blobs at paths that differ between snapshots are included, as text, within a budget.
Everything here reads the object database and writes nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .gitrepo import TREE, GitRepo
from .refs import FLEXGIT_DIR, HISTORY_FILE, OUTPUT_LOG
from .run import Run

HISTORY_POINTS = 400  # per metric and run: a longer curve is thinned (the last step always kept)
LOG_TAIL_LINES = 200
LOG_TAIL_BYTES = 32 << 10
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

    def details(self, runs: Sequence[Run]) -> tuple[list[dict[str, Any]], Snapshots]:
        """Per run (in order): its history, output tail, kept files, changed files and snapshot number;
        and the snapshots those numbers name."""
        found = [self._details(run) for run in runs]
        return found, self._snapshots()

    def _details(self, run: Run) -> dict[str, Any]:
        try:
            root = self.repo.commit(run.id)[0]
        except KeyError:  # a row whose commit is not here (a pull under way)
            return {"changes": None, "snapshot": None, "outputs": [], "history": None, "log": None}
        items = self._tree_items(root)
        own = next((oid for name, oid, kind in items if name == FLEXGIT_DIR and kind == TREE), None)
        kept = self.flat(own) if own else {}
        code_key = tuple(sorted(item for item in items if item[0] != FLEXGIT_DIR))
        snapshot = None
        changes = None
        if not run.meta.get("imported"):
            snapshot = self._snapshot(code_key)
            changes = self._changes(run, self._snapshot_files[snapshot])
        history = kept.get(HISTORY_FILE)
        log = kept.get(OUTPUT_LOG)
        return {"changes": changes, "snapshot": snapshot,
                "outputs": [[path, self.repo.blob_size(oid)] for path, oid in sorted(kept.items())],
                "history": curves(self.repo.read_blob(history)) if history else None,
                "log": log_tail(self.repo.read_blob(log)) if log else None}

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

    def _changes(self, run: Run, files: dict[str, str]) -> list[list[str]] | None:
        """(A/M/D, path) of the files the snapshot changed from its source commit; None when that
        commit is not in this clone."""
        source = run.source
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


def curves(data: bytes) -> dict[str, Any] | None:
    """A step history as columns: `step`, `t` (seconds since the first step), and per metric its
    values (None where a step lacks it or the value is not a finite number), at most
    HISTORY_POINTS steps (evenly thinned, the last kept)."""
    lines = [line for line in _json_lines(data) if isinstance(line, dict) and isinstance(line.get("metrics"), dict)]
    if not lines:
        return None
    if len(lines) > HISTORY_POINTS:
        stride = len(lines) / HISTORY_POINTS
        lines = [lines[int(i * stride)] for i in range(HISTORY_POINTS - 1)] + [lines[-1]]
    keys: dict[str, None] = {}
    for line in lines:
        keys.update(dict.fromkeys(line["metrics"]))
    times = [_seconds(line.get("t")) for line in lines]
    first = next((t for t in times if t is not None), None)
    return {"step": [_finite(line.get("step"), i) for i, line in enumerate(lines)],
            "t": [round(t - first, 3) if t is not None and first is not None else None for t in times],
            "metrics": {str(key): [_finite(line["metrics"].get(key)) for line in lines] for key in keys}}


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


def _finite(value: Any, default: Any = None) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return value if math.isfinite(value) else default


def _seconds(stamp: Any) -> float | None:
    import datetime as dt

    if not isinstance(stamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def log_tail(data: bytes) -> str:
    """The last lines of a command's output as text: at most LOG_TAIL_LINES lines and LOG_TAIL_BYTES,
    terminal colour codes removed."""
    tail = data[-LOG_TAIL_BYTES:]
    text = _ANSI.sub("", tail.decode("utf-8", "replace"))
    lines = text.splitlines()
    cut = len(data) > LOG_TAIL_BYTES or len(lines) > LOG_TAIL_LINES
    return ("…\n" if cut else "") + "\n".join(lines[-LOG_TAIL_LINES:])
