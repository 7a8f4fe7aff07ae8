"""`flexgit get`: one file a run keeps (an output, an artifact, a checkpoint), written back without a checkout."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .._context import PathLike, open_store
from ..errors import InputError
from ..project.checkpoints import choose, directions
from ..storage.refs import ARTIFACTS_DIR, CHECKPOINTS_DIR, OUTPUTS_DIR
from ..storage.runfiles import KeptFile, checkpoints, ensure_content, find_file, history, run_files, same_content
from ..storage.runfiles import write_file


def get(run: str, path: str | None = None, dest: PathLike | None = None, checkpoint: int | str | None = None,
        by: str | None = None, mode: str | None = None, repo: PathLike | None = None) -> Path:
    """Write a file that run `run` keeps to `dest`; returns where it went.

    `path` names an output by its path from the top of the working tree (`model.pkl`,
    `plots/loss.png`), else an artifact by its name (`model`). Or `checkpoint`: a step, `"last"`
    or `"best"` (by metric `by`, lowest first unless `mode="max"`, or as the run's
    `flexgit.finish(max=[...])` declared it). `dest` defaults to the file's name in the current
    directory; an existing folder gets the file inside it. An existing file is never replaced
    (unless it already holds the same content). git-lfs content this clone lacks is fetched from
    the remote that has the run.
    """
    if (path is None) == (checkpoint is None):
        raise InputError("name one file: a PATH the run keeps, or --checkpoint STEP|last|best")
    store = open_store(repo)
    found_run = store.find(run)
    git = store.repo
    tree = git.commit(found_run.id)[0]
    if checkpoint is not None:
        chosen = choose(checkpoints(git, tree), checkpoint, by=by, mode=mode, declared=directions(history(git, tree)),
                        run=f"run '{found_run.name}'")
        kept = find_file(git, tree, CHECKPOINTS_DIR, chosen.file)
        if kept is None:
            raise InputError(f"the checkpoint of step {chosen.step} is listed but not kept by run '{found_run.name}'; "
                             "'flexgit fsck' checks the runs")
        name = PurePosixPath(chosen.path).name
    else:
        kept = _named(git, tree, found_run.name, path)
        name = PurePosixPath(kept.path).name
    target = Path(dest) if dest is not None else Path(name)
    if target.is_dir() and not target.is_symlink():
        target = target / name
    if os.path.lexists(target):
        if same_content(git, kept, target):
            return target
        raise InputError(f"'{target}' exists; remove it or give another destination with -o DEST")
    ensure_content(git, found_run, [kept])
    write_file(git, kept, target)
    return target


def _named(git, tree: str, run: str, path: str) -> KeptFile:
    clean = path.strip().strip("/")
    if clean.startswith("./"):
        clean = clean[2:]
    for kind in (OUTPUTS_DIR, ARTIFACTS_DIR):
        kept = find_file(git, tree, kind, clean)
        if kept is not None:
            return kept
    listed = [f.path for kind in (OUTPUTS_DIR, ARTIFACTS_DIR) for f in run_files(git, tree, kind)]
    keeps = "it keeps no files" if not listed else \
        f"it keeps {', '.join(listed[:8])}" + (", ..." if len(listed) > 8 else "")
    raise InputError(f"run '{run}' keeps no output or artifact '{path}'; {keeps} ('flexgit show {run}' lists them)")
