"""`flexgit compare`: runs as columns, the keys that differ as rows."""

from __future__ import annotations

from typing import Iterable

from .._context import PathLike, find_runs, open_store, runs_matching
from ..errors import InputError
from ..storage.snapshots import comparable
from ..view.compare import Comparison
from ..view.compare import compare as compare_runs


def compare(runs: str | Iterable[str] = (), where: str | None = None, all: bool = False,
            branch: str | None = None, repo: PathLike | None = None) -> Comparison:
    """`runs` (names or commit ids), or the runs of `branch` that match `where`, as columns; the keys
    whose values differ among them as rows (every key with `all`).

    The result shows itself in a notebook; `.to_dataframe()` gives it as a DataFrame.
    """
    names = [runs] if isinstance(runs, str) else list(runs)
    if names and where:
        raise InputError("give run names or --where, not both")
    store = open_store(repo)
    if where:
        found = runs_matching(store, where, branch)
        if not found:
            raise InputError(f"no runs match --where '{where}'; 'flexgit table --where ...' shows what matches")
    else:
        found = find_runs(store, names, "flexgit compare lr-0.1 lr-0.3 lr-1, or flexgit compare --where 'lr < 1'")
    return compare_runs([comparable(store.repo, run) for run in found], everything=all)
