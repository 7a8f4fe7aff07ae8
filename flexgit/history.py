"""Step-wise metrics from training code: `flexgit.log(step=..., **metrics)` and `flexgit.finish()`.

Lines go to a pending file until the next record of the same repository takes them: the
run keeps them as `.flexgit/history.jsonl`, and its note row gets their summary — the last
value of each metric, and `KEY.min` / `KEY.max` for the keys `finish` was asked about.
Explicit metrics (results files, -m) win over the summary. Under `flexgit run` each run
logs to a file of its own (`FLEXGIT_HISTORY`), so parallel runs never mix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from .errors import InputError
from .gitrepo import GitRepo
from .record import utc_now
from .values import check_value, is_number

ENV = "FLEXGIT_HISTORY"
PENDING = "history.jsonl"


def pending_path(repo: str | os.PathLike | GitRepo | None = None) -> Path:
    """Where `log` writes: $FLEXGIT_HISTORY, else a file in the repository's flexgit directory."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    git = repo if isinstance(repo, GitRepo) else GitRepo.open(repo)
    return git.flexgit_dir() / PENDING


def log(step: int | None = None, repo: str | os.PathLike | None = None, **metrics: Any) -> None:
    """Append one step's metrics, e.g. `flexgit.log(step=3, loss=0.41, acc=0.8)`."""
    if not metrics:
        raise InputError("flexgit.log needs at least one metric, e.g. flexgit.log(step=1, loss=0.5)")
    line = {key: check_value(value, key, "flexgit.log") for key, value in metrics.items()}
    _append(pending_path(repo), {"step": step, "t": utc_now(), "metrics": line})


def finish(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> None:
    """Close the history; ask for the minimum / maximum of some metrics in the run's summary."""
    _append(pending_path(repo), {"t": utc_now(), "finish": {"min": list(min), "max": list(max)}})


@contextlib.contextmanager
def logging(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> Iterator[None]:
    """`with flexgit.logging(min=["loss"]): ...` calls `finish` at the end."""
    try:
        yield
    finally:
        finish(min=min, max=max, repo=repo)


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


def _append(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
