"""`flexgit migrate`: move a repository, and a remote, to the current storage format.

Format 2 keeps run names at refs/exp/NAME (format 1: refs/tags/exp/NAME) and, on remotes, the
experiments branch at refs/flexgit/heads/BRANCH (format 1: refs/heads/BRANCH). New refs are in
place before old ones go, so a migration can be interrupted and run again at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._context import PathLike, open_store, target_branch
from ..errors import FlexgitError
from ..storage.remotes import lost_a_race, pull_into, push_runs, refusal, remove_legacy_refs


@dataclass
class Migration:
    """What `migrate` did, here and on the remote."""

    moved: int = 0  # local names moved to refs/exp
    kept: list[str] = field(default_factory=list)  # local format 1 names left in place, with the reason in docs
    remote: str | None = None
    pulled_runs: int = 0
    removed_on_remote: int = 0  # format 1 refs deleted there
    kept_on_remote: list[str] = field(default_factory=list)


def migrate(remote: str | None = None, branch: str | None = None, repo: PathLike | None = None) -> Migration:
    """Move this repository's refs to the current format; with `remote`, that remote's too.

    The remote is first pulled (so its runs of either format are joined here), then the runs
    are pushed in the current format, and only then are the old refs removed there.
    """
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    done = Migration()
    done.moved, done.kept = store.migrate()
    if remote is None:
        return done
    done.remote = remote
    joined = pull_into(store, remote, target)
    done.pulled_runs = joined.new_runs
    if store.repo.ref_target(target.ref) is None:
        return done  # nothing recorded anywhere
    pushed, detail = push_runs(store.repo, remote, target)
    if not pushed:
        advice = "someone pushed meanwhile: run 'flexgit migrate' again" if lost_a_race(detail) else refusal(detail)
        raise FlexgitError(f"cannot push to '{remote}': {advice}; nothing was removed there")
    done.removed_on_remote, done.kept_on_remote = remove_legacy_refs(store, remote, target, joined.fetched)
    return done
