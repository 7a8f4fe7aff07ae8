"""`flexgit table`: every run as one merged table (rows, text, or a pandas DataFrame)."""

from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .._context import PathLike, open_store, table_of, target_branch
from .._version import __version__
from ..project.values import parse_moment
from ..storage import runcache, textcache
from ..storage.gitrepo import GitRepo
from ..storage.refs import NOTES_REF, BranchRef
from ..storage.remotes import notes_tree_with_remote, remotes_with_runs
from ..storage.run import Run
from ..storage.store import Store
from ..view.query import Table, TableQuery, csv_extends, known_columns
from ..view.render import csv_lines, render

if TYPE_CHECKING:
    import pandas

# Part of the text cache's key, bumped when the same query on the same runs would print other
# text (rendering, --where), so text cached by an older build of one version is never served.
# 2: strict JSON, display widths, --where refusals and dates. 3: reading order, short headers, suffix names.
# 4: --where's query language (or, not, in, ...). 5: tags, removed runs hidden. 6: group column, --group-by.
# 7: a CSV is extended by the lines of runs added.
TEXT_REVISION = 7


def list_runs(branch: str | None = None, repo: PathLike | None = None) -> list[Run]:
    """Every run recorded on `branch` (default: experiments), oldest first; not those `rm` removed."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    return store.runs(target)


def removed_count(branch: str | None = None, repo: PathLike | None = None) -> int:
    """How many runs of `branch` `flexgit rm` removed (for a table that shows none)."""
    store = open_store(repo)
    return len(store.rows(target_branch(store.repo, branch), removed=True))


def table_branch(branch: str | None = None, repo: PathLike | None = None) -> str:
    """The name of the branch `table` reads: `branch`, else the one the project's settings name, else experiments."""
    return target_branch(open_store(repo).repo, branch).name


def remotes_to_pull(branch: str | None = None, repo: PathLike | None = None) -> list[str]:
    """The configured remotes holding runs, for a table that has none here (asks each remote)."""
    git = open_store(repo).repo
    return remotes_with_runs(git, target_branch(git, branch))


def table_rows(query: TableQuery, repo: PathLike | GitRepo | None = None, notes_tree: str | None = None) -> Table:
    """The merged table of runs as plain rows (no pandas): what `flexgit table` prints.

    `notes_tree` reads another notes tree than the local one (ours joined with a remote's).
    """
    return table_of(open_store(repo), query, notes_tree)


def table_text(query: TableQuery, fmt: str, width: int = 80, repo: PathLike | None = None,
               keep: list | None = None) -> str:
    """`flexgit table` as text; the same query on unchanged tips is answered from a derived cache,
    and a CSV after runs were only added is the cached text with their lines added.

    With `query.remote`, its runs are fetched and shown with ours (nothing local moves). `keep`, a
    list, is given what was read instead of its being freed: for a process about to end.
    """
    store = open_store(repo)
    if query.running:  # changes with no tip moving: never cached
        rows = table_rows(query, store.repo)
        return render(rows, fmt, width) if rows.rows or fmt != "table" else ""
    target = target_branch(store.repo, query.branch)
    remote_tree = notes_tree_with_remote(store, query.remote, target) if query.remote is not None else None
    local_tree = store.notes_tree() if query.remote is None else None
    tips = f"{store.repo.ref_target(NOTES_REF)} {store.repo.ref_target(target.ref)} {remote_tree}"
    key = [__version__, TEXT_REVISION, fmt, width if fmt == "table" else 0, target.ref, asdict(query)]
    cache_dir = store.repo.flexgit_dir(create=False)
    cached = textcache.get_stale(cache_dir, key)
    if cached is not None and cached[0] == tips:
        return cached[2]
    extendable = fmt == "csv" and local_tree is not None and csv_extends(query)
    found = _extended(store, query, target, cached, local_tree) if extendable else None
    if found is not None:
        text, state = found
    else:
        rows = table_of(store, query, remote_tree or local_tree)
        state = None
        if extendable and rows.columns and local_tree is not None:
            state = {"tree": local_tree, "newest": store.newest(local_tree), "columns": list(rows.columns),
                     "known": sorted(set(rows.known or known_columns(rows.rows)))}
        if keep is not None:
            keep.append(rows)
        if keep is not None and fmt == "csv":  # the CSV is written in little more memory than the rows
            keep.append(store)
        else:  # the other views are rendered without the runs' meta and notes held too (40 MB at 100,000)
            store.forget_runs()
        text = render(rows, fmt, width) if rows.rows or fmt != "table" else ""
    textcache.put(cache_dir, key, tips, text, state)
    return text


def _extended(store: Store, query: TableQuery, target: BranchRef,
              cached: tuple[str, dict[str, Any], str] | None, tree: str) -> tuple[str, dict[str, Any]] | None:
    """The CSV text cached for `query`, with the lines of the runs added since, and its new state;
    None unless the notes changed only by runs added after every run it shows and without new columns
    (a note changed or removed, an older run pulled, a new column: the table is read again)."""
    state = cached[1] if cached is not None else {}
    if not {"tree", "newest", "columns", "known"} <= state.keys():
        return None
    store.branch_tip(target)  # refuses a branch that is not flexgit's, as a full read does
    added = store.notes_added(state["tree"], tree)
    if added is None or (added and list(runcache.order(added[0])) <= state["newest"]):
        return None
    rows = [entry[runcache.ROW] for entry in added
            if entry[runcache.REMOVED] == query.removed and entry[runcache.BRANCH] == target.name]
    if not set(known_columns(rows)) <= set(state["known"]):
        return None
    newest = list(runcache.order(added[-1])) if added else state["newest"]
    text = cached[2] + (csv_lines(state["columns"], rows) if rows else "")
    return text, {**state, "tree": tree, "newest": newest}


def table(repo: PathLike | None = None, branch: str | None = None, sort_by: str | None = None,
          desc: bool = False, columns: tuple[str, ...] | list[str] | str | None = None, where: str | None = None,
          only_changed: bool = False, limit: int | None = None, removed: bool = False,
          group_by: str | None = None, running: bool = False) -> "pandas.DataFrame":
    """Every recorded run as one DataFrame: name, id, date, message, group (of a `flexgit run`),
    tags (when some run has any, a sorted list), params.*, metrics.*.

    With `group_by` (a column: `group`, `params.lr`, ...), one row per value of it instead: `runs`,
    and per metric its mean, std (sample), min, max and count (`metrics.acc.mean`, ...).

    Columns are the union of all runs' keys; a run without a key has NaN there. `date` is a
    UTC datetime column, or text (with a warning) when some run's date is not a date. Runs
    that `rm` removed are left out; `removed=True` gives only those. `running=True` gives the runs of
    this clone that are not recorded yet instead (`status` `running`, `lost` or `ended`).
    """
    import pandas as pd

    query = TableQuery(branch=branch, sort_by=sort_by, desc=desc, columns=columns or (), where=where,
                       only_changed=only_changed, limit=limit, removed=removed, group_by=group_by,
                       running=running)
    rows = table_rows(query, repo)
    frame = pd.DataFrame(rows.rows, columns=list(rows.columns))
    if "date" in frame.columns:
        frame["date"] = _dates(frame["date"])
    return frame


def _dates(column: "pandas.Series") -> "pandas.Series":
    """`column` as UTC datetimes; kept as text, with a warning, if a value is not an ISO 8601 date.

    Checked before pandas sees them: pandas reads `today` and `now` as the current time, and
    coercing what it cannot read to NaT would hide a date a user imported.
    """
    import pandas as pd

    odd = [value for value in column if isinstance(value, str) and parse_moment(value) is None]
    if not odd:
        try:
            return pd.to_datetime(column, utc=True, format="ISO8601")
        except (ValueError, OverflowError) as exc:  # a year older pandas cannot hold
            odd = [str(exc)]
    warnings.warn(f"flexgit.table: {len(odd)} date(s) are not dates pandas can read (first: {odd[0]!r}); "
                  "the date column is kept as text", stacklevel=3)
    return column
