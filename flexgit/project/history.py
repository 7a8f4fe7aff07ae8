"""Step history: the lines `flexgit.log` writes, whose they are, and their summary in a run's row.

A history is JSON lines: `{"step", "t", "metrics", "proc"}` per logged step, `{"t", "finish":
{"min", "max"}, "proc"}` when training asks for extremes; `proc` names the process that logged
the line. A run keeps the lines of one process as `.flexgit/history.jsonl`; its row gets the
last value of each metric, and `KEY.min` / `KEY.max` for the keys asked about.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from .values import is_number

ENV = "FLEXGIT_HISTORY"
PENDING = "history.jsonl"
SET_ASIDE = "history-set-aside.jsonl"  # steps of processes that no run took: kept, never attached

_process: tuple[int, str] | None = None


def process_id() -> str:
    """This process's tag on the lines it logs: its pid and when it first logged (pids are reused)."""
    global _process
    if _process is None or _process[0] != os.getpid():  # a forked child is a process of its own
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        _process = (os.getpid(), f"{os.getpid()}@{started}")
    return _process[1]


@dataclass(frozen=True)
class Pending:
    """Pending history split by process: the lines a run takes, and those set aside."""

    taken: bytes = b""
    set_aside: bytes = b""
    set_aside_steps: int = 0


def split_pending(data: bytes, own: str | None = None) -> Pending:
    """The lines of one process, `own` if it logged any, else the process that logged last; the
    lines of every other process (and lines a crash cut) are set aside."""
    lines = [(raw, _parse(raw)) for raw in data.splitlines(keepends=True) if raw.strip()]
    procs = [line.get("proc") for _, line in lines if line is not None]
    if not procs:
        return Pending(set_aside=data)
    chosen = own if own is not None and own in procs else procs[-1]
    taken = [raw for raw, line in lines if line is not None and line.get("proc") == chosen]
    others = [(raw, line) for raw, line in lines if line is None or line.get("proc") != chosen]
    return Pending(taken=_joined(taken), set_aside=_joined([raw for raw, _ in others]),
                   set_aside_steps=sum(1 for _, line in others if line is not None and "metrics" in line))


def span(data: bytes) -> tuple[int, str | None]:
    """How many steps a history holds, and the time of the first."""
    steps = [line for line in map(_parse, data.splitlines()) if line is not None and "metrics" in line]
    return len(steps), (str(steps[0].get("t")) if steps and steps[0].get("t") else None)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        line = json.loads(raw)
    except ValueError:
        return None  # a line cut by a crash
    return line if isinstance(line, dict) else None


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(raw if raw.endswith(b"\n") else raw + b"\n" for raw in lines)


def summarize(data: bytes) -> dict[str, Any]:
    """The summary of a history: last value of each metric, and the min / max asked for."""
    last: dict[str, Any] = {}
    series: dict[str, list[float]] = {}
    wanted: dict[str, set[str]] = {"min": set(), "max": set()}
    for raw in data.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut by a crash: the rest still counts
        if not isinstance(line, dict):
            continue
        for key, value in (line.get("metrics") or {}).items():
            last[key] = value
            if is_number(value) and not (isinstance(value, float) and math.isnan(value)):
                series.setdefault(key, []).append(value)
        for kind in ("min", "max"):
            wanted[kind].update((line.get("finish") or {}).get(kind) or [])
    for kind, keys in wanted.items():
        for key in keys:
            if series.get(key):
                last[f"{key}.{kind}"] = (min if kind == "min" else max)(series[key])
    return last
