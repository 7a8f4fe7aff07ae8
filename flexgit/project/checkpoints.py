"""Checkpoints: the pending lines `flexgit.checkpoint` writes, a run's list of them, and which one is "best".

A checkpoint travels like a logged step: a line in the pending history, tagged with its process,
`{"step": 3, "t": ..., "proc": ..., "checkpoint": {"path": "ckpt.pt", "blob": <blob id>, "size":
N, "metrics": {...}}}` (the file itself is already stored: a blob, or a git-lfs pointer blob).
A record takes them out of the history into the run's `.flexgit/checkpoints.jsonl`, one line per
checkpoint, `{"step", "t", "path", "file", "size", "metrics"}`, `file` being where the checkpoint
is in the run's `.flexgit/checkpoints/` (`<step>/<path>`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import InputError
from .values import is_number

REPO_ENV = "FLEXGIT_REPO"  # set by `flexgit run`: the repository its checkout came from
ROOT_ENV = "FLEXGIT_ROOT"  # ... and the top of the checkout, which checkpoint paths are relative to
_OID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run."""

    step: int
    path: str  # where the training code wrote it, from the top of the working tree
    file: str  # where the run keeps it, inside .flexgit/checkpoints/
    size: int
    metrics: dict[str, Any]
    t: str = ""

    def to_line(self) -> bytes:
        return (json.dumps({"step": self.step, "t": self.t, "path": self.path, "file": self.file, "size": self.size,
                            "metrics": self.metrics}, sort_keys=True, allow_nan=True) + "\n").encode()


def is_clean_path(path: Any) -> bool:
    """True for a relative path without `.`, `..`, `.git` or empty parts: one that, written into a working
    tree, stays inside it and out of git's own folder (a pulled run's tree is input)."""
    return (isinstance(path, str) and bool(path) and not path.startswith("/") and "\\" not in path
            and all(part not in ("", ".", "..") and part.casefold() != ".git" for part in path.split("/"))
            and not any(ord(c) < 32 for c in path))


def split_pending(history: bytes) -> tuple[bytes, list[tuple[Checkpoint, str]]]:
    """The step lines of `history`, and its checkpoints with their blob ids (a later checkpoint of the
    same step and path replaces an earlier one). Lines of another shape are left in the history."""
    rest, found = [], {}
    for raw in history.splitlines(keepends=True):
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            rest.append(raw)
            continue
        entry = line.get("checkpoint") if isinstance(line, dict) else None
        if not isinstance(entry, dict):
            rest.append(raw)
            continue
        step, path, blob = line.get("step"), entry.get("path"), entry.get("blob")
        if not (isinstance(step, int) and not isinstance(step, bool) and step >= 0 and is_clean_path(path)
                and isinstance(blob, str) and _OID.match(blob)):
            continue  # a line flexgit did not write: dropped, never turned into a tree path
        metrics = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else {}
        size = entry.get("size") if isinstance(entry.get("size"), int) else 0
        found[(step, path)] = (Checkpoint(step, path, f"{step}/{path}", size, metrics, str(line.get("t") or "")),
                               blob)
    return b"".join(rest), sorted(found.values(), key=lambda item: (item[0].step, item[0].path))


def parse_list(data: bytes) -> list[Checkpoint]:
    """A run's `checkpoints.jsonl`; lines of another shape are skipped."""
    found = []
    for raw in data.splitlines():
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):  # a pulled run's list is input
            continue
        if not isinstance(line, dict):
            continue
        step, path, file = line.get("step"), line.get("path"), line.get("file")
        if isinstance(step, int) and not isinstance(step, bool) and is_clean_path(path) and is_clean_path(file):
            metrics = line.get("metrics") if isinstance(line.get("metrics"), dict) else {}
            size = line.get("size") if isinstance(line.get("size"), int) else 0
            found.append(Checkpoint(step, path, file, size, metrics, str(line.get("t") or "")))
    return sorted(found, key=lambda c: (c.step, c.path))


def directions(history: bytes) -> dict[str, str]:
    """metric -> "min" or "max", as the run's `flexgit.finish(min=..., max=...)` asked."""
    found: dict[str, str] = {}
    for raw in history.splitlines():
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):  # a pulled run's list is input
            continue
        finish = line.get("finish") if isinstance(line, dict) else None
        if isinstance(finish, dict):
            for kind in ("min", "max"):
                keys = finish.get(kind)
                for key in keys if isinstance(keys, list) else []:
                    if isinstance(key, str):
                        found[key] = kind
    return found


def choose(checkpoints: Iterable[Checkpoint], which: str | int, by: str | None = None, mode: str | None = None,
           declared: dict[str, str] | None = None, run: str = "the run") -> Checkpoint:
    """The checkpoint `which` names: a step number, `last` (the highest step) or `best` (by metric `by`:
    the lowest value, or the highest with `mode="max"`; without `mode`, as the run's `finish` declared
    the metric, else the lowest). Without `by`, `best` uses the one metric the checkpoints have."""
    items = list(checkpoints)
    if not items:
        raise InputError(f"{run} has no checkpoints; 'flexgit show' lists what it keeps")
    if which == "last":
        return max(items, key=lambda c: c.step)
    if which != "best":
        step = _step(which)
        matching = [c for c in items if c.step == step]
        if not matching:
            steps = ", ".join(str(c.step) for c in items[:10])
            raise InputError(f"{run} has no checkpoint at step {step}; its steps are {steps}")
        return matching[-1]
    keys = sorted({key for c in items for key, value in c.metrics.items() if is_number(value)})
    if by is None:
        if len(keys) != 1:
            raise InputError(f"--checkpoint best needs --by METRIC: the checkpoints of {run} have "
                             + (f"the metrics {', '.join(keys)}" if keys else "no metrics"))
        by = keys[0]
    if by not in keys:
        raise InputError(f"no checkpoint of {run} has a number for '{by}'; "
                         + (f"they have {', '.join(keys)}" if keys else "they have no metrics"))
    if mode not in (None, "min", "max"):
        raise InputError(f"best by {mode!r}: use min or max")
    mode = mode or (declared or {}).get(by, "min")
    valued = [c for c in items if _comparable(c.metrics.get(by))]
    if mode == "min":  # on a tie, the earlier step
        return min(valued, key=lambda c: (c.metrics[by], c.step))
    return max(valued, key=lambda c: (c.metrics[by], -c.step))


def _comparable(value: Any) -> bool:
    """A number a best checkpoint is chosen by: not NaN (an integer past a float's range is compared as it is)."""
    return is_number(value) and not (isinstance(value, float) and math.isnan(value))


def _step(which: str | int) -> int:
    if isinstance(which, int) and not isinstance(which, bool):
        return which
    text = str(which).strip()
    if not text.isdigit():
        raise InputError(f"--checkpoint {which!r}: give a step number, 'last' or 'best'")
    return int(text)
