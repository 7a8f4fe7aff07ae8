"""`flexgit gc`: reclaim the space of removed runs by rewriting the experiments branch without them."""

from __future__ import annotations

from dataclasses import dataclass

from .._context import PathLike, open_store, target_branch
from ..storage.rewrite import collect


@dataclass(frozen=True)
class Collected:
    """What `gc` did: the removed runs dropped and the surviving runs moved to new commit ids."""

    removed: list[str]  # their old commit ids
    moved: dict[str, str]  # old commit id -> new commit id


def gc(branch: str | None = None, repo: PathLike | None = None) -> Collected:
    """Rewrite the experiments branch without the runs `flexgit rm` removed: their commits, notes
    and names go, so `git gc` (once reflogs expire) can drop their snapshots.

    Every surviving run commit is re-created with the same tree and message on the new chain,
    so its id changes while its name stays. A push then replaces the remote's branch (with a
    lease); clones that pull it drop the removed runs and keep their own. git-lfs objects are
    not pruned (flexgit does not store runs' files in git-lfs).
    """
    store = open_store(repo)
    done = collect(store, target_branch(store.repo, branch))
    return Collected(removed=done.removed, moved=done.moved)
