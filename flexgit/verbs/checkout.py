"""`flexgit checkout`: what produced a run, back in the working tree, a new branch or a new worktree."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .._context import branch_ref, open_store
from ..errors import DirtyTreeError, FlexgitError, InputError
from ..project.datafiles import DIGEST_CACHE, changed_data, named_paths
from ..project.files import write_atomic
from ..project.settings import load_settings
from ..project.sources import merge_sources
from ..storage.gitrepo import GitRepo, RefMoved
from ..storage.refs import KIND_SNAPSHOT, TRAILER_KIND, TRAILER_NAME, TRAILER_SOURCE, commit_message
from ..storage.refs import OUTPUTS_DIR
from ..storage.run import Run
from ..storage.runfiles import KeptFile, ensure_content, placed_files, write_file
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
    outputs: tuple[str, ...] = ()  # the run's outputs written (those already there as the run has them aside)


def checkout(name: str, branch: str | None = None, worktree: str | os.PathLike | None = None,
             force: bool = False, repo: str | os.PathLike | None = None) -> CheckoutResult:
    """Give back the code snapshot of run `name`.

    With `branch`, a new branch whose tip is the snapshot (its parent: the run's source
    commit); with `worktree`, a new linked worktree holding it. Without either, the working
    tree is made to match the snapshot, only when it is clean (or, with `force`, after its
    uncommitted work was stashed); HEAD and the index are left alone. A removed run is refused
    until `rm --undo` brings it back.
    """
    store = open_store(repo)
    run = store.find(name)
    if run.removed:
        raise InputError(f"run '{run.name}' was removed (flexgit rm); bring it back with "
                         f"'flexgit rm --undo {run.name}', then check it out")
    if run.meta.get("imported"):
        raise InputError(f"run '{run.name}' has no code snapshot (it was imported from a CSV, "
                         f"{run.meta['imported']}); there is nothing to check out: 'flexgit show {run.name}' "
                         "lists its values")
    if branch is None and worktree is None:
        return _restore_here(store, run, force)
    return _elsewhere(store, run, branch, worktree)


def _elsewhere(store: Store, run: Run, branch: str | None, worktree: str | os.PathLike | None) -> CheckoutResult:
    """The run as a new branch, a new worktree, or both; the working tree is not touched."""
    target = branch_ref(branch) if branch is not None else None
    if target is not None and store.repo.ref_target(target.ref) is not None:
        raise InputError(f"branch '{target.name}' already exists; pick another name for --branch")
    directory = Path(worktree).absolute() if worktree is not None else None
    if directory is not None and directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"'{directory}' exists and is not an empty directory; pick another --worktree path")
    # read before anything is written: a bad settings file must leave nothing behind
    outputs = load_settings(store.repo.workdir).results if directory is not None and not store.repo.is_bare else ()
    commit = snapshot_commit(store, run)
    products = _outputs(store, run, directory, commit) if directory is not None else []
    if target is not None:
        try:
            store.repo.create_branch_ref(target.ref, commit, f"flexgit: checkout run {run.name}")
        except RefMoved:
            raise InputError(f"branch '{target.name}' already exists; pick another name for --branch") from None
    linked: list[str] = []
    if directory is not None:
        store.repo.add_worktree(directory, commit, target.name if target else None)
        for kept, dest in products:  # before the links: an output is never written through one
            write_file(store.repo, kept, dest)
        if not store.repo.is_bare:  # as `flexgit run` does
            linked = store.repo.link_ignored_top_level(directory, worktree=True, outputs=outputs)
    missing = run.source if run.source and not store.repo.has_object(run.source) else None
    return CheckoutResult(run=run, branch=target.name if target else None, worktree=directory, commit=commit,
                          data_warnings=_data_warnings(store, run, directory, _config_data(store.repo)),
                          source_missing=missing,
                          linked=tuple(linked), outputs=tuple(kept.path for kept, _ in products))


def _data_warnings(store: Store, run: Run, directory: Path | None, allowed: set[Path]) -> tuple[str, ...]:
    """Where the data the run used is missing or changed, beside the code it now gets; `allowed`: the
    paths outside the working tree that the user's own config names (the run's note may name any)."""
    here = None if store.repo.is_bare else store.repo.workdir
    if directory is None and here is None:
        return ()
    return tuple(changed_data(run.data, directory or here, store.repo.flexgit_dir() / DIGEST_CACHE,
                              elsewhere=here if directory else None, allowed=allowed))


def _config_data(git: GitRepo) -> set[Path]:
    """The data paths the config files of this working tree name now (before a checkout changes them);
    a config that cannot be read names none."""
    if git.is_bare:
        return set()
    try:
        settings = load_settings(git.workdir)
        params = merge_sources([git.workdir / f for f in settings.config if (git.workdir / f).is_file()],
                               None, "config")
    except FlexgitError:
        return set()
    return named_paths(params, git.workdir, Path.cwd())


def _restore_here(store: Store, run: Run, force: bool) -> CheckoutResult:
    git = store.repo
    git.require_worktree()
    tree = store.code_tree(run)
    head = git.head_commit()
    base = git.commit(head)[0] if head else None
    written, added = _written_files(git, base, tree)
    dirty = git.dirty_paths()
    _refuse_links(git, run, written + dirty, base)
    # what no stash keeps: ignored files the run's files replace, and ignored files where a tracked
    # file was only removed from the index (the stash puts the committed file back there)
    tracked = [path for path in dirty if base and git.tree_entry(base, path) is not None]
    in_the_way = sorted(path for path in set(written) | set(tracked) if _blocks(git, path))
    if in_the_way:
        raise DirtyTreeError(f"the run's files would overwrite {len(in_the_way)} files git ignores here "
                             f"(e.g. {in_the_way[0]}); move them away, or use --branch NEW or --worktree DIR "
                             "to get the run elsewhere")
    allowed = _config_data(git)  # the user's own, before a stash or the run's config replaces it
    if dirty and not force:
        raise DirtyTreeError(
            f"the working tree has uncommitted changes ({len(dirty)} paths, e.g. {dirty[0]}); "
            "commit or stash them, or use --branch NEW or --worktree DIR to get the run elsewhere"
        )
    outputs = _outputs(store, run, git.workdir, tree)  # refused, or their content fetched, before any change
    stash = git.stash_all(f"flexgit: uncommitted work before checkout of run {run.name}") if dirty else None
    brought = [kept.path for kept, _ in outputs]
    made = _missing_folders(git.workdir, added + brought)
    git.restore_tree(tree, written, base)
    for kept, dest in outputs:
        write_file(git, kept, dest)
    # `--back` removes the outputs as it removes the files the run brought
    _save_way_back(git, {"run": run.name, "head": head, "base": base, "tree": tree, "stash": stash,
                         "added": added + brought, "made": made})
    return CheckoutResult(run=run, stash=stash, data_warnings=_data_warnings(store, run, None, allowed),
                          outputs=tuple(brought))


def _outputs(store: Store, run: Run, directory: Path, code: str) -> list[tuple[KeptFile, Path]]:
    """The outputs of `run` to write into `directory` (their content fetched here first), leaving out
    those the code snapshot `code` (a tree or a commit) has a file for; refused when one would replace a
    different file there."""
    git = store.repo
    placed = [(kept, dest) for kept, dest in placed_files(git, run, git.commit(run.id)[0], directory, OUTPUTS_DIR)
              if git.tree_entry(code if git.is_tree(code) else git.commit(code)[0], kept.path) is None]
    ensure_content(git, run, [kept for kept, _ in placed])
    return placed


def _refuse_links(git: GitRepo, run: Run, paths: list[str], base: str | None) -> None:
    """Refuse a checkout that would write or remove a file through a symbolic link (an ignored
    `data` linked to a folder elsewhere): flexgit never writes outside the working tree."""
    through = git.links_in_the_way(paths, base)
    if through:
        path, link = through[0]
        target = os.readlink(git.workdir / link)
        raise DirtyTreeError(f"{link} is a symbolic link (to {target}) and checking out run {run.name} would "
                             f"write {path} through it; remove or rename the link, or use --branch NEW or "
                             "--worktree DIR to get the run elsewhere")


@dataclass(frozen=True)
class BackResult:
    """What `checkout_back` undid: the run that was checked out, and the stash it applied."""

    run: str
    stash: str | None


def checkout_back(repo: str | os.PathLike | None = None) -> BackResult:
    """Undo the last `checkout NAME` into this working tree: its files as they were before, the
    uncommitted work `--force` stashed applied again (index too). Refused, changing nothing, when
    anything changed since that it would lose.
    """
    git = open_store(repo).repo
    git.require_worktree()
    path = _way_back_path(git)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError("nothing to undo: no 'flexgit checkout NAME' wrote into this working tree since "
                         "the last --back") from None
    written = _check_way_back(git, state)
    workdir = git.workdir
    for added in state["added"]:
        (workdir / added).unlink(missing_ok=True)
    for folder in sorted(state["made"], reverse=True):
        if (workdir / folder).is_dir() and not any((workdir / folder).iterdir()):
            (workdir / folder).rmdir()
    if state["base"]:
        git.restore_tree(state["base"], written, state["tree"])
    if state["stash"]:
        git.pop_stash(state["stash"])
    path.unlink()
    return BackResult(run=state["run"], stash=state["stash"])


def _check_way_back(git: GitRepo, state: dict) -> list[str]:
    """Refuse `--back` when it would lose something: a change made since the checkout, HEAD or the
    index moved, the stash gone, a file where a stashed untracked file must go back, or a symbolic
    link made since where it writes. Returns the files it writes or removes."""
    run, stash = state["run"], state["stash"]
    safe = f"; your earlier work is safe in the stash ({stash[:10]})" if stash else ""
    if git.head_commit() != state["head"] or git.staged_paths():
        raise DirtyTreeError(f"HEAD or the index changed since run {run} was checked out here; --back only "
                             f"undoes a checkout on the same commit with nothing staged{safe}")
    written = _written_files(git, state["tree"], state["base"])[0] if state["base"] else list(state["added"])
    stashed = git.stashed_untracked(stash) if stash and git.stash_index(stash) is not None else []
    through = git.links_in_the_way(written + stashed, state["tree"])
    if through:
        path, link = through[0]
        raise DirtyTreeError(f"{link} is a symbolic link made since run {run} was checked out, and --back would "
                             f"write {path} through it; remove it, then run --back again{safe}")
    if stash and git.stash_index(stash) is None:
        raise InputError(f"the stash that held your earlier work ({stash[:10]}) is gone (popped or dropped); "
                         "'git status' shows what is in the working tree now")
    changed = _changed_since(git, state)
    if changed:
        raise DirtyTreeError(f"{changed[0]} changed since run {run} was checked out ({len(changed)} paths); "
                             f"--back would lose that: keep it elsewhere or undo it, then run --back again{safe}")
    blocked = [p for p in git.stashed_untracked(stash) if p not in state["added"] and git.file_blob(p) is not None] \
        if stash else []
    if blocked:
        raise DirtyTreeError(f"{blocked[0]} is where one of your stashed untracked files goes back; "
                             f"move it away, then run --back again{safe}")
    return written


def _written_files(git: GitRepo, base: str | None, tree: str) -> tuple[list[str], list[str]]:
    """The files that making the working tree match `tree` instead of `base` writes or removes, and
    those of them that `base` lacks (the ones checking the run out brings in)."""
    if base is None:
        added = sorted(path for path, _ in git.walk_blobs(tree))
        return added, added
    changed, removed = git.changed_blobs(base, tree)  # the cost follows the change, not the tree
    added = sorted(path for path, _ in changed if git.tree_entry(base, path) is None)
    return sorted({path for path, _ in changed} | set(removed)), added


def _changed_since(git: GitRepo, state: dict) -> list[str]:
    """Files that are now neither as the run has them nor as before the checkout: `--back` would lose
    them. Files that are in neither (made since, untracked) are left alone by `--back`."""
    base, tree = state["base"], state["tree"]
    changed = []
    for path in sorted(set(git.dirty_paths(each_file=True)) | set(state["added"])):
        if path in state["made"] and (git.workdir / path).is_dir():
            continue  # a folder the run brought in place of a committed link: its files are checked
        versions = (git.tree_entry(base, path) if base else None, git.tree_entry(tree, path))
        if versions != (None, None) and git.file_blob(path) not in versions:
            changed.append(path)
    return changed


def _blocks(git: GitRepo, path: str) -> bool:
    """True when writing or removing `path` would lose something git ignores: an ignored file there,
    an ignored file in the folder there, or an ignored file in the place of a folder the run needs.
    Untracked files that are not ignored count as uncommitted work."""
    full = git.workdir / path
    if full.is_dir() and not full.is_symlink():
        return git.holds_ignored(path)
    if os.path.lexists(full):
        return git.is_ignored_file(path)
    return any(os.path.lexists(git.workdir / parent) and not (git.workdir / parent).is_dir()
               for parent in Path(path).parents if parent != Path("."))


def _missing_folders(workdir: Path, paths: list[str]) -> list[str]:
    """The folders that writing `paths` will create (where there is none, or a committed link that the
    checkout replaces), for `--back` to remove."""
    folders = {parent.as_posix() for path in paths for parent in Path(path).parents if parent != Path(".")}
    return sorted(f for f in folders if not (workdir / f).is_dir() or (workdir / f).is_symlink())


def _way_back_path(git: GitRepo) -> Path:
    """Where the last in-place checkout of this working tree is kept (one file per worktree)."""
    key = hashlib.sha256(str(git.workdir.resolve()).encode()).hexdigest()[:16]
    return git.flexgit_dir() / "checkout-back" / f"{key}.json"


def _save_way_back(git: GitRepo, state: dict) -> None:
    write_atomic(_way_back_path(git), json.dumps(state, indent=1).encode())


def snapshot_commit(store: Store, run: Run) -> str:
    """A commit of the run's code snapshot whose parent is the run's source commit, when known."""
    source = run.source
    parents = [source] if source and store.repo.has_object(source) else []
    found = [(TRAILER_KIND, KIND_SNAPSHOT), (TRAILER_NAME, run.name)]
    if source:
        found.append((TRAILER_SOURCE, source))
    message = commit_message(f"snapshot of run {run.name}", found, run.message)
    return store.repo.create_commit(store.code_tree(run), parents, message)
