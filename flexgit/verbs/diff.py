"""`flexgit diff`: two runs side by side, only what differs, and the code change between them."""

from __future__ import annotations

from .._context import PathLike, open_store
from ..storage.snapshots import code_changes, comparable
from ..view.compare import RunDiff, compare


def diff(a: str, b: str, all: bool = False, code: bool = False, repo: PathLike | None = None) -> RunDiff:
    """Runs `a` and `b` (names or commit ids) side by side: the params, metrics, meta and environment
    that differ (every key with `all`), with the change of each number; the files whose code differs;
    with `code`, the unified diff of the two snapshots (flexgit's own `.flexgit/` left out).

    The result shows itself in a notebook; `.to_dataframe()` gives the keys as a DataFrame.
    """
    store = open_store(repo)
    first, second = store.find(a), store.find(b)
    comparison = compare([comparable(store.repo, first), comparable(store.repo, second)], everything=all)
    imported = next((run for run in (first, second) if run.meta.get("imported")), None)
    if imported is not None:  # its tree holds no code: every file would show as changed
        return RunDiff(comparison, (), None, f"code: not compared: run '{imported.name}' was imported from a "
                                             "table and has no snapshot of code")
    files = code_changes(store.repo, first, second, patch=code)
    return RunDiff(comparison, tuple(files), "".join(f.patch for f in files) if code else None)
