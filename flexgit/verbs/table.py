"""`flexgit table`: every run as one merged table (rows, text, or a pandas DataFrame)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from .._context import PathLike, open_store, target_branch
from .._version import __version__
from ..storage import textcache
from ..storage.gitrepo import GitRepo
from ..storage.refs import NOTES_REF
from ..storage.remotes import notes_tree_with_remote
from ..storage.run import Run
from ..view.query import Table, TableQuery, build_table
from ..view.render import render

if TYPE_CHECKING:
    import pandas


def list_runs(branch: str | None = None, repo: PathLike | None = None) -> list[Run]:
    """Every run recorded on `branch` (default: experiments), oldest first."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    return store.runs(target)


def table_branch(branch: str | None = None, repo: PathLike | None = None) -> str:
    """The name of the branch `table` reads: `branch`, else the one the project's settings name, else experiments."""
    return target_branch(open_store(repo).repo, branch).name


def table_rows(query: TableQuery, repo: PathLike | GitRepo | None = None, notes_tree: str | None = None) -> Table:
    """The merged table of runs as plain rows (no pandas): what `flexgit table` prints.

    `notes_tree` reads another notes tree than the local one (ours joined with a remote's).
    """
    store = open_store(repo)
    target = target_branch(store.repo, query.branch)
    store.branch_tip(target)
    rows = store.rows(target, with_meta=query.mentions_meta(), notes_tree=notes_tree)
    return build_table(rows, query)


def table_text(query: TableQuery, fmt: str, width: int = 80, repo: PathLike | None = None) -> str:
    """`flexgit table` as text; the same query on unchanged tips is answered from a derived cache.

    With `query.remote`, its runs are fetched and shown with ours (nothing local moves).
    """
    store = open_store(repo)
    target = target_branch(store.repo, query.branch)
    notes_tree = notes_tree_with_remote(store, query.remote, target) if query.remote is not None else None
    tips = f"{store.repo.ref_target(NOTES_REF)} {store.repo.ref_target(target.ref)} {notes_tree}"
    key = [__version__, fmt, width if fmt == "table" else 0, target.ref, asdict(query)]
    cache_dir = store.repo.flexgit_dir(create=False)
    text = textcache.get(cache_dir, key, tips)
    if text is None:
        rows = table_rows(query, store.repo, notes_tree)
        text = render(rows, fmt, width) if rows.rows or fmt != "table" else ""
        textcache.put(cache_dir, key, tips, text)
    return text


def table(repo: PathLike | None = None, branch: str | None = None, sort_by: str | None = None,
          desc: bool = False, columns: tuple[str, ...] | list[str] | str | None = None, where: str | None = None,
          only_changed: bool = False, limit: int | None = None) -> "pandas.DataFrame":
    """Every recorded run as one DataFrame: name, id, date, message, params.*, metrics.*.

    Columns are the union of all runs' keys; a run without a key has NaN there.
    """
    import pandas as pd

    query = TableQuery(branch=branch, sort_by=sort_by, desc=desc, columns=columns or (), where=where,
                       only_changed=only_changed, limit=limit)
    rows = table_rows(query, repo)
    return pd.DataFrame(rows.rows, columns=list(rows.columns))
