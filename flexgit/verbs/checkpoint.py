"""`flexgit.checkpoint(path, step=..., **metrics)`: a checkpoint file kept, with its step and metrics, for the next run.

The file is stored at once (its content may change at the next step): a blob, or through git-lfs
from the settings' `lfs_threshold` on. A line naming it joins the pending history that
`flexgit.log` writes, tagged with this process, so the run that takes this process's steps takes
its checkpoints too (`.flexgit/checkpoints/<step>/<path>` and `.flexgit/checkpoints.jsonl`); a
checkpoint no run took is set aside with its steps, never attached to a later run. Under
`flexgit run`, paths are relative to the top of the run's checkout and the files go to the
repository it came from (FLEXGIT_ROOT, FLEXGIT_REPO).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .._context import open_store, pending_path
from ..errors import InputError
from ..project import history
from ..project.checkpoints import REPO_ENV, ROOT_ENV
from ..project.history import ENV as HISTORY_ENV
from ..project.history import process_id
from ..project.outputs import find_outputs, literal
from ..project.settings import load_settings
from ..project.values import check_values
from ..storage.lfs import INSTALL_HINT
from ..storage.runfiles import Keeper

_places: dict[tuple, tuple[Keeper, Path, Path]] = {}  # where a process keeps its checkpoints, per repo and cwd


def checkpoint(path: str | os.PathLike, step: int, repo: str | os.PathLike | None = None, **metrics: Any) -> None:
    """Keep the file at `path` as the checkpoint of `step`, with `metrics` (numbers to choose the best by),
    e.g. `flexgit.checkpoint("ckpt.pt", step=1000, val_loss=0.31)`."""
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise InputError("flexgit.checkpoint needs step=N, a whole number from 0, e.g. "
                         "flexgit.checkpoint('ckpt.pt', step=1000, val_loss=0.31)")
    values = check_values(metrics, "flexgit.checkpoint") if metrics else {}
    keeper, root, pending = _place(repo)
    found = find_outputs(root, [literal(os.fspath(path))], base=Path.cwd())
    if found.refused:
        raise InputError(f"checkpoint {found.refused[0]}: keep checkpoints inside the working tree")
    if len(found.files) != 1 or not (root / next(iter(found.files))).samefile(Path(path).absolute()):
        raise InputError(f"checkpoint '{path}' is not a file; save the checkpoint first, then call flexgit.checkpoint "
                         "(a folder: one call per file)")
    (relative, file), = found.files.items()
    size = file.stat().st_size
    plain = len(keeper.not_in_lfs)
    blob = keeper.keep(file, relative)
    if len(keeper.not_in_lfs) > plain and plain == 0:
        warnings.warn(f"git-lfs is not installed, so large checkpoints are kept as plain git blobs; {INSTALL_HINT}",
                      RuntimeWarning, stacklevel=2)
    line = {"step": step, "t": None, "proc": process_id(),
            "checkpoint": {"path": relative, "blob": blob, "size": size, "metrics": values}}
    history.append(pending, line)
    history.flush()  # a checkpoint is rare and worth keeping: written now, not within the second


def _place(repo: str | os.PathLike | None) -> tuple[Keeper, Path, Path]:
    """(the keeper of the repository, the top that paths are relative to, the pending history file)."""
    repo = repo if repo is not None else os.environ.get(REPO_ENV) or None
    key = (None if repo is None else os.fspath(repo), os.getcwd(), os.environ.get(HISTORY_ENV),
           os.environ.get(ROOT_ENV))
    if key not in _places:
        git = open_store(repo).repo
        git.require_worktree()
        root = Path(os.environ.get(ROOT_ENV) or git.workdir)
        _places[key] = (Keeper(git, load_settings(git.workdir).lfs_threshold), root, pending_path(git))
    return _places[key]
