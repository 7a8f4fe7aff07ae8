"""`flexgit checkout`: what produced a run, back in the working tree, a new branch or a new worktree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._context import branch_ref, open_store
from ..errors import DirtyTreeError, InputError
from ..project.datafiles import DIGEST_CACHE, changed_data
from ..storage.gitrepo import RefMoved
from ..storage.refs import KIND_SNAPSHOT, TRAILER_KIND, TRAILER_NAME, TRAILER_SOURCE, commit_message
from ..storage.run import Run
from ..storage.store import Store


@dataclass(frozen=True)
class CheckoutResult:
    """What `checkout` did: where the run's code now is, and where uncommitted work went."""

    run: Run
    branch: str | None = None
    worktree: Path | None = None
    commit: str | None = None
    stash: str | None = None
    data_warnings: tuple[str, ...] = ()
    source_missing: str | None = None  # the source commit this clone lacks: the new commit has no parent
    linked: tuple[str, ...] = ()  # git-ignored entries of this working tree linked into the new worktree


def checkout(name: str, branch: str | None = None, worktree: str | os.PathLike | None = None,
             force: bool = False, repo: str | os.PathLike | None = None) -> CheckoutResult:
    """Give back the code snapshot of run `name`.

    With `branch`, a new branch whose tip is the snapshot (its parent: the run's source
    commit); with `worktree`, a new linked worktree holding it. Without either, the working
    tree is made to match the snapshot, only when it is clean (or, with `force`, after its
    uncommitted work was stashed); HEAD and the index are left alone.
    """
    store = open_store(repo)
    run = store.find(name)
    if run.meta.get("imported"):
        raise InputError(f"run '{run.name}' has no code snapshot (it was imported from a CSV, "
                         f"{run.meta['imported']}); there is nothing to check out: 'flexgit show {run.name}' "
                         "lists its values")
    if branch is None and worktree is None:
        return _restore_here(store, run, force)
    target = branch_ref(branch) if branch is not None else None
    if target is not None and store.repo.ref_target(target.ref) is not None:
        raise InputError(f"branch '{target.name}' already exists; pick another name for --branch")
    directory = Path(worktree).absolute() if worktree is not None else None
    if directory is not None and directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"'{directory}' exists and is not an empty directory; pick another --worktree path")
    commit = snapshot_commit(store, run)
    if target is not None:
        try:
            store.repo.create_branch_ref(target.ref, commit, f"flexgit: checkout run {run.name}")
        except RefMoved:
            raise InputError(f"branch '{target.name}' already exists; pick another name for --branch") from None
    linked: list[str] = []
    if directory is not None:
        store.repo.add_worktree(directory, commit, target.name if target else None)
        if not store.repo.is_bare:
            linked = store.repo.link_ignored_top_level(directory, worktree=True)  # as `flexgit run` does
    warnings = _data_warnings(store, run, directory)
    missing = run.source if run.source and not store.repo.has_object(run.source) else None
    return CheckoutResult(run=run, branch=target.name if target else None, worktree=directory, commit=commit,
                          data_warnings=warnings, source_missing=missing, linked=tuple(linked))


def _data_warnings(store: Store, run: Run, directory: Path | None) -> tuple[str, ...]:
    """Where the data the run used is missing or changed, beside the code it now gets."""
    here = None if store.repo.is_bare else store.repo.workdir
    if directory is None and here is None:
        return ()
    return tuple(changed_data(run.data, directory or here, store.repo.flexgit_dir() / DIGEST_CACHE,
                              elsewhere=here if directory else None))


def _restore_here(store: Store, run: Run, force: bool) -> CheckoutResult:
    git = store.repo
    git.require_worktree()
    dirty = git.dirty_paths()
    stash = None
    if dirty:
        if not force:
            raise DirtyTreeError(
                f"the working tree has uncommitted changes ({len(dirty)} paths, e.g. {dirty[0]}); "
                "commit or stash them, or use --branch NEW or --worktree DIR to get the run elsewhere"
            )
        stash = git.stash_all(f"flexgit: uncommitted work before checkout of run {run.name}")
    git.restore_tree(store.code_tree(run))
    return CheckoutResult(run=run, stash=stash, data_warnings=_data_warnings(store, run, None))


def snapshot_commit(store: Store, run: Run) -> str:
    """A commit of the run's code snapshot whose parent is the run's source commit, when known."""
    source = run.source
    parents = [source] if source and store.repo.has_object(source) else []
    found = [(TRAILER_KIND, KIND_SNAPSHOT), (TRAILER_NAME, run.name)]
    if source:
        found.append((TRAILER_SOURCE, source))
    message = commit_message(f"snapshot of run {run.name}", found, run.message)
    return store.repo.create_commit(store.code_tree(run), parents, message)
