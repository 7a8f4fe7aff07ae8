"""`flexgit rm`: hide runs everywhere they sync to with a tombstone line, and `rm --undo`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .._context import PathLike, find_runs, open_store, runs_matching
from ..errors import InputError
from ..storage.run import Run, fact_line


@dataclass(frozen=True)
class Removal:
    """What `rm` did: the runs it removed (or brought back), and those that already were so."""

    changed: list[Run]
    unchanged: list[Run]


def rm(runs: str | Iterable[str] = (), where: str | None = None, undo: bool = False, branch: str | None = None,
       dry_run: bool = False, repo: PathLike | None = None) -> Removal:
    """Remove `runs` (names or commit ids), or the runs of `branch` that match `where`, from the table.

    Each run's note gets a tombstone line (`{"removed": true}`); it syncs like any line, so the
    run is hidden in every clone that pulls it. Nothing is deleted: `undo=True` brings runs back
    (`{"removed": false}`, the newest line wins; with `where`, among the removed runs), and
    `flexgit table --removed` lists them. `dry_run` only says which runs would change.
    """
    names = [runs] if isinstance(runs, str) else list(runs)
    if names and where:
        raise InputError("give run names or --where, not both")
    store = open_store(repo)
    if where:
        found = runs_matching(store, where, branch, removed=undo)
    else:
        verb = "rm --undo" if undo else "rm"
        found = find_runs(store, names, f"flexgit {verb} lr-0.1, or flexgit {verb} --where 'metrics.acc < 0.5'")
    changed = [run for run in found if run.removed != (not undo)]
    unchanged = [run for run in found if run.removed == (not undo)]
    if changed and not dry_run:
        store.append_many([(run, fact_line("removed", not undo)) for run in changed])
        changed = [store.find(run.id) for run in changed]
    return Removal(changed=changed, unchanged=unchanged)

