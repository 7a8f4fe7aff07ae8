"""Step history: the lines `flexgit.log` writes, and their summary in a run's row.

A history is JSON lines: `{"step", "t", "metrics"}` per logged step, `{"t", "finish": {"min",
"max"}}` when training asks for extremes. A run keeps it as `.flexgit/history.jsonl`; its row
gets the last value of each metric, and `KEY.min` / `KEY.max` for the keys asked about.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .values import is_number

ENV = "FLEXGIT_HISTORY"
PENDING = "history.jsonl"


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
