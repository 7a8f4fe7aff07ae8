"""Step-wise metrics from training code: `flexgit.log(step=..., **metrics)` and `flexgit.finish()`.

Lines go to a pending file until the next record of the same repository takes them, each
tagged with the process that logged it: a run takes the lines of one process only (see
`project/history.py` for the format and the summary). Under `flexgit run` each run logs to a
file of its own (`FLEXGIT_HISTORY`), so parallel runs never mix. Lines are buffered and written
in batches (`project/history.py`): at most about the last second is lost if the process is killed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._context import pending_path
from ..errors import InputError
from ..project import history, live
from ..project.history import ENV, process_id
from ..project.values import check_values

_paths: dict[tuple[str | None, str, str | None], Path] = {}  # (repo, cwd, $FLEXGIT_HISTORY) -> pending file


def log(step: int | None = None, repo: str | os.PathLike | None = None, **metrics: Any) -> None:
    """Append one step's metrics, e.g. `flexgit.log(step=3, loss=0.41, acc=0.8)`."""
    if not metrics:
        raise InputError("flexgit.log needs at least one metric, e.g. flexgit.log(step=1, loss=0.5)")
    line = check_values(metrics, "flexgit.log")
    history.append(_pending(repo), {"step": step, "t": None, "metrics": line, "proc": process_id()})


def finish(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> None:
    """Close the history; ask for the minimum / maximum of some metrics in the run's summary."""
    history.append(_pending(repo), {"t": None, "finish": {"min": list(min), "max": list(max)}, "proc": process_id()})
    history.flush()


@contextlib.contextmanager
def logging(min: Sequence[str] = (), max: Sequence[str] = (), repo: str | os.PathLike | None = None) -> Iterator[None]:
    """`with flexgit.logging(min=["loss"]): ...` calls `finish` at the end."""
    try:
        yield
    finally:
        finish(min=min, max=max, repo=repo)


def _pending(repo: str | os.PathLike | None) -> Path:
    """`pending_path(repo)`, opened once per repository, directory and $FLEXGIT_HISTORY."""
    key = (None if repo is None else os.fspath(repo), os.getcwd(), os.environ.get(ENV))
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = pending_path(repo)
        if key[2] is None:  # the repository's own pending file: this script is a live run until recorded
            live.track(path, path.parent / live.RUNNING_DIR)
    return path
