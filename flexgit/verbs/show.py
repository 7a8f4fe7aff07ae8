"""`flexgit show`: everything about one run, and the files it keeps."""

from __future__ import annotations

from dataclasses import dataclass

from .._context import PathLike, open_store
from ..errors import InputError, UnknownRunError
from ..project.checkpoints import Checkpoint
from ..storage.snapshots import same_notebook
from ..storage.refs import ARTIFACTS_DIR
from ..storage.run import Run
from ..storage.runfiles import KINDS, KeptFile, checkpoints, find_file, read_bytes, run_files


@dataclass(frozen=True)
class RunDetails:
    """A run with what its snapshot changed relative to its source commit.

    `changes` is None when the source commit is not in this clone (recorded on a commit
    that was never fetched here): what the run changed cannot be known until it is.
    """

    run: Run
    changes: list[tuple[str, str]] | None
    source_known: bool
    parent_name: str | None = None  # of the run's parent (`flexgit run --parent`), None if not in this clone
    files: tuple[KeptFile, ...] = ()  # its outputs and artifacts (checkpoint files are in `checkpoints`)
    checkpoints: tuple[Checkpoint, ...] = ()


def show(name: str, repo: PathLike | None = None) -> RunDetails:
    """Everything about one run: its row, and the files that differ from its source commit."""
    store = open_store(repo)
    run = store.find(name)
    source = run.source
    source_known = bool(source) and store.repo.has_object(source)
    if run.meta.get("imported"):
        changes = []
    elif source and not source_known:
        changes = None
    else:
        source_tree = store.repo.commit(source)[0] if source_known else None
        changes = _code_changes(store, source_tree, store.code_tree(run))
    tree = store.repo.commit(run.id)[0]
    files = tuple(f for kind in KINDS[:2] for f in run_files(store.repo, tree, kind))
    return RunDetails(run=run, changes=changes, source_known=source_known, parent_name=_parent_name(store, run),
                      files=files, checkpoints=tuple(checkpoints(store.repo, tree)))


def _code_changes(store, old: str | None, new: str) -> list[tuple[str, str]]:
    """The files that differ between two trees, less the notebooks whose cells hold the same code
    (a notebook saved again with other outputs has not changed as code)."""
    return [(status, path) for status, path in store.repo.diff_trees(old, new)
            if not same_notebook(store.repo, old, new, status, path)]


def _parent_name(store, run: Run) -> str | None:
    if not run.parent:
        return None
    try:
        return store.find(run.parent).name
    except UnknownRunError:  # removed for good (`gc`), or recorded on a clone not pulled here
        return None


def artifact(name: str, artifact_name: str, repo: PathLike | None = None) -> bytes:
    """The bytes of a file kept with run `name` (see `record(artifacts=...)`)."""
    store = open_store(repo)
    run = store.find(name)
    kept = find_file(store.repo, store.repo.commit(run.id)[0], ARTIFACTS_DIR, artifact_name)
    if kept is None:
        raise InputError(f"run '{run.name}' keeps no artifact '{artifact_name}'; "
                         f"'git ls-tree exp/{run.name} .flexgit/artifacts/' lists what it has")
    return read_bytes(store.repo, run, kept)
