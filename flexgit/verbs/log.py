"""Step-wise metrics from training code: `flexgit.log(step=..., **metrics)` and `flexgit.finish()`.

Lines go to a pending file until the next record of the same repository takes them, each
tagged with the process that logged it: a run takes the lines of one process only (see
`project/history.py` for the format and the summary). Under `flexgit run` each run logs to a
file of its own (`FLEXGIT_HISTORY`), so parallel runs never mix.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._context import pending_path
from ..errors import InputError
from ..project.history import process_id
from ..project.values import check_value
from ..storage.run import utc_now


def log(step: int | None = None, repo: str | os.PathLike | None = None, **metrics: Any) -> None:
    """Append one step's metrics, e.g. `flexgit.log(step=3, loss=0.41, acc=0.8)`."""
    if not metrics:
        raise InputError("flexgit.log needs at least one metric, e.g. flexgit.log(step=1, loss=0.5)")
    line = {key: check_value(value, key, "flexgit.log") for key, value in metrics.items()}
    _append(pending_path(repo), {"step": step, "t": utc_now(), "metrics": line, "proc": process_id()})


def finish(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> None:
    """Close the history; ask for the minimum / maximum of some metrics in the run's summary."""
    _append(pending_path(repo), {"t": utc_now(), "finish": {"min": list(min), "max": list(max)}, "proc": process_id()})


@contextlib.contextmanager
def logging(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> Iterator[None]:
    """`with flexgit.logging(min=["loss"]): ...` calls `finish` at the end."""
    try:
        yield
    finally:
        finish(min=min, max=max, repo=repo)


def _append(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
