"""The Python API: one function per verb, mirroring the CLI."""

from __future__ import annotations

import os
import platform
import shlex
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from . import __version__, textcache
from .datafiles import DIGEST_CACHE, fingerprints
from .errors import InputError
from .history import pending_path, summarize
from .gitrepo import GitRepo
from .query import Table, build_table, mentions_meta
from .record import Run, update_line, utc_now
from .refs import ARTIFACTS_DIR, HISTORY_FILE, NOTES_REF, BranchRef, is_valid_branch_name
from .render import render
from .settings import DEFAULT_SETTINGS, SETTINGS_FILE, load_settings
from .sources import merge_sources
from .store import Store
from .values import flatten

if TYPE_CHECKING:
    import pandas

PathLike = str | os.PathLike


def open_store(repo: PathLike | GitRepo | None = None) -> Store:
    """The store of the repository at `repo` (discovered from the current directory when None)."""
    return Store(repo if isinstance(repo, GitRepo) else GitRepo.open(repo))


def branch_ref(branch: str | None) -> BranchRef:
    """The experiments branch named `branch` (default: experiments), checked."""
    ref = BranchRef.parse(branch)
    if not is_valid_branch_name(ref.name):
        raise InputError(f"'{ref.name}' cannot be a branch name; use letters, digits, '/', '.', '_' and '-'")
    return ref


def target_branch(git: GitRepo, branch: str | None) -> BranchRef:
    """`branch` if given, else the project's configured branch, else experiments."""
    if branch is None and not git.is_bare:
        branch = load_settings(git.workdir).branch
    return branch_ref(branch)


@dataclass(frozen=True)
class Initialized:
    """What `init` did: the experiments branch's tip, and the settings file it wrote, if any."""

    tip: str
    settings_written: Path | None


def init(branch: str | None = None, repo: PathLike | None = None) -> Initialized:
    """Create the experiments branch if it does not exist, and a commented `.flexgit.toml` if the
    project has no settings yet."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    tip = store.init(target)
    if store.repo.config_value("remote.origin.url") is not None:
        from .sync import remember_refspecs  # sync builds on this module

        remember_refspecs(store.repo, "origin", target)
    written = None
    if not store.repo.is_bare and load_settings(store.repo.workdir).source is None:
        written = store.repo.workdir / SETTINGS_FILE
        written.write_text(DEFAULT_SETTINGS, encoding="utf-8")
    return Initialized(tip, written)


def record(name: str | None = None, message: str | None = None, params: Mapping[str, Any] | None = None,
           metrics: Mapping[str, Any] | None = None, config_files: Iterable[PathLike] | None = None,
           results_files: Iterable[PathLike] | None = None, branch: str | None = None,
           repo: PathLike | None = None, artifacts: Mapping[str, PathLike] | None = None,
           meta: Mapping[str, Any] | None = None) -> Run:
    """Record a run: a snapshot of the working tree, its params and its metrics.

    Files are read first and explicit `params` / `metrics` override their keys; with no
    files given, the project's settings name them (those that exist are read). `artifacts`
    (name -> file) are kept with the run under `.flexgit/artifacts/`; `meta` adds
    descriptive keys (flexgit's own meta keys win). Data files the params name (keys ending
    in `_path`, or in a `[data]` table) are fingerprinted. Nothing in the working tree, the
    index, HEAD or the user's branches changes.
    """
    store = open_store(repo)
    git = store.repo
    git.require_worktree()  # before anything else
    settings = load_settings(git.workdir)
    target = branch_ref(branch or settings.branch)
    if config_files is None:
        config_files = [git.workdir / f for f in settings.config if (git.workdir / f).is_file()]
    if results_files is None:
        results_files = [git.workdir / f for f in settings.results if (git.workdir / f).is_file()]
    if name:
        store.check_name_free(name)
    store.branch_tip(target)  # refuse a foreign branch before snapshotting
    params = merge_sources(config_files, params, "config")
    metrics = merge_sources(results_files, metrics, "results")
    extra_meta = flatten(meta or {}, "the meta given")
    kept = {check_artifact_name(key): Path(path) for key, path in (artifacts or {}).items()}
    for path in kept.values():
        if not path.is_file():
            raise InputError(f"artifact '{path}' is not a file; pass the path of a file to keep with the run")
    keep, too_large = settings.snapshot_filter()
    tree, _ = git.snapshot_tree(keep)
    if too_large:
        extra_meta["left_out"] = too_large  # listed in the run; the CLI warns
    files = {f"{ARTIFACTS_DIR}/{key}": git.write_blob_from_file(path) for key, path in kept.items()}
    history = pending_path(git)
    run = Run(name=name or "", message=message or "", params=params, metrics=metrics, meta=extra_meta)
    written = write_run(store, target, tree, run, files, Path.cwd(), history)
    history.unlink(missing_ok=True)  # taken by this run
    return written


def write_run(store: Store, target: BranchRef, tree: str, run: Run, files: Mapping[str, str], data_dir: Path,
              history: Path | None = None) -> Run:
    """Record `run` with code `tree`: adds the date, flexgit's meta (which wins over the run's),
    fingerprints of its data (relative paths read from `data_dir`) and the step-wise metrics
    logged to `history`, if any (their summary under the run's own metrics)."""
    git = store.repo
    now = utc_now()
    files = dict(files)
    metrics = dict(run.metrics)
    if history is not None and history.is_file():
        files[HISTORY_FILE] = git.write_blob_from_file(history)
        metrics = {**summarize(history.read_bytes()), **metrics}
    data = fingerprints(run.params, git.workdir, data_dir, git.flexgit_dir() / DIGEST_CACHE)
    run = replace(run, metrics=metrics, meta={**run.meta, **collect_meta(git, tree)}, date=now[:19] + "Z",
                  time=now, data=data)
    return store.write([run], [tree], target, [files])[0]


def check_artifact_name(name: str) -> str:
    """An artifact name is a plain file name."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or any(ord(c) < 32 for c in name):
        raise InputError(f"'{name}' cannot be an artifact name; use a plain file name such as model.pkl")
    return name


AUTO_META = ("user", "email", "host", "platform", "python", "flexgit", "command", "source", "source_branch",
             "dirty")


def collect_meta(git: GitRepo, snapshot_tree: str) -> dict[str, Any]:
    """What is known about the circumstances of a run, without asking the user."""
    name, email = git.identity()
    source = git.head_commit()
    source_tree = git.commit(source)[0] if source else git.update_tree(None, {})
    meta = {"user": name, "email": email, "host": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "flexgit": __version__,
            "command": command_line(),
            "source": source, "source_branch": git.head_branch(), "dirty": snapshot_tree != source_tree}
    return {key: value for key, value in meta.items() if value is not None}


def command_line() -> str:
    """The command that is recording, with the program named by its file name only."""
    if not sys.argv or not sys.argv[0]:
        return ""
    program = [os.path.basename(sys.argv[0])]
    if program == ["__main__.py"]:
        program = ["python", "-m", os.path.basename(os.path.dirname(sys.argv[0]))]
    return shlex.join(program + sys.argv[1:])


def list_runs(branch: str | None = None, repo: PathLike | None = None) -> list[Run]:
    """Every run recorded on `branch` (default: experiments), oldest first."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    return store.runs(target)


def table_rows(repo: PathLike | GitRepo | None = None, branch: str | None = None, sort_by: str | None = None,
               desc: bool = False, columns: Sequence[str] | str | None = None, where: str | None = None,
               only_changed: bool = False, limit: int | None = None, notes_tree: str | None = None) -> Table:
    """The merged table of runs as plain rows (no pandas): what `flexgit table` prints."""
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    rows = store.rows(target, with_meta=mentions_meta(columns, sort_by, where), notes_tree=notes_tree)
    return build_table(rows, sort_by=sort_by, desc=desc, columns=columns, where=where,
                       only_changed=only_changed, limit=limit)


def table_text(fmt: str, width: int = 80, repo: PathLike | None = None, branch: str | None = None,
               sort_by: str | None = None, desc: bool = False, columns: str | None = None, where: str | None = None,
               only_changed: bool = False, limit: int | None = None, remote: str | None = None) -> str:
    """`flexgit table` as text; the same query on unchanged tips is answered from a derived cache.

    With `remote`, its runs are fetched and shown with ours (nothing local moves).
    """
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    notes_tree = None
    if remote is not None:
        from .sync import joined_notes_tree  # sync builds on this module

        notes_tree = joined_notes_tree(remote, branch, store.repo)
    tips = f"{store.repo.ref_target(NOTES_REF)} {store.repo.ref_target(target.ref)} {notes_tree}"
    query = [__version__, fmt, width if fmt == "table" else 0, target.ref, sort_by, desc, columns, where,
             only_changed, limit]
    cache_dir = store.repo.flexgit_dir(create=False)
    text = textcache.get(cache_dir, query, tips)
    if text is None:
        rows = table_rows(store.repo, branch, sort_by, desc, columns, where, only_changed, limit, notes_tree)
        text = render(rows, fmt, width) if rows.rows or fmt != "table" else ""
        textcache.put(cache_dir, query, tips, text)
    return text


def table(repo: PathLike | None = None, branch: str | None = None, sort_by: str | None = None,
          desc: bool = False, columns: Sequence[str] | str | None = None, where: str | None = None,
          only_changed: bool = False, limit: int | None = None) -> "pandas.DataFrame":
    """Every recorded run as one DataFrame: name, id, date, message, params.*, metrics.*.

    Columns are the union of all runs' keys; a run without a key has NaN there.
    """
    import pandas as pd

    rows = table_rows(repo, branch, sort_by, desc, columns, where, only_changed, limit)
    return pd.DataFrame(rows.rows, columns=list(rows.columns))


def update(name: str, metrics: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
           repo: PathLike | None = None) -> Run:
    """Add or change values of a recorded run after the fact (a test score computed later).

    The run's note gets a line with the new values and the time; reading takes, for each
    key, the newest value. Nothing already recorded is rewritten.
    """
    metrics = flatten(metrics or {}, "the metrics given")
    params = flatten(params or {}, "the params given")
    if not metrics and not params:
        raise InputError("give the values to add, e.g. flexgit update NAME -m test_acc=0.91")
    store = open_store(repo)
    run = store.find(name)
    store.append(run, update_line(metrics=metrics, params=params))
    return store.find(run.id)


def rename(name: str, new_name: str, repo: PathLike | None = None) -> Run:
    """Give a run another name (say, to settle a name two machines used for different runs).

    NAME may be a commit id prefix: the way to reach a run whose name another run holds here.
    """
    store = open_store(repo)
    run = store.find(name)
    store.rename(run, new_name)
    return store.find(new_name)


@dataclass(frozen=True)
class RunDetails:
    """A run with what its snapshot changed relative to its source commit."""

    run: Run
    changes: list[tuple[str, str]]
    source_known: bool


def show(name: str, repo: PathLike | None = None) -> RunDetails:
    """Everything about one run: its row, and the files that differ from its source commit."""
    store = open_store(repo)
    run = store.find(name)
    source = run.source
    source_known = bool(source) and store.repo.has_object(source)
    source_tree = store.repo.commit(source)[0] if source_known else None
    changes = [] if run.meta.get("imported") else store.repo.diff_trees(source_tree, store.code_tree(run))
    return RunDetails(run=run, changes=changes, source_known=source_known)


def artifact(name: str, artifact_name: str, repo: PathLike | None = None) -> bytes:
    """The bytes of a file kept with run `name` (see `record(artifacts=...)`)."""
    store = open_store(repo)
    run = store.find(name)
    blob = store.artifact(run, artifact_name)
    if blob is None:
        raise InputError(f"run '{run.name}' keeps no artifact '{artifact_name}'; "
                         f"'git ls-tree exp/{run.name} .flexgit/artifacts/' lists what it has")
    return store.repo.read_blob(blob)
