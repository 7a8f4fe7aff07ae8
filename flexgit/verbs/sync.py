"""`flexgit pull`, `push` and `sync`: runs through any git remote.

The fetch and the join are `storage/remotes.py`'s. A rejected push (someone pushed in
between) is retried after a pull, a bounded number of times.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

from .._context import open_store, target_branch
from ..errors import FlexgitError
from ..storage.remotes import (
    Tracking,
    holds_older_format,
    lost_a_race,
    pull_into,
    push_runs,
    refusal,
    remember_refspecs,
)
from ..storage.rewrite import replaced_by_ours
from ..storage.runfiles import upload_for_push

PUSH_ATTEMPTS = 20


@dataclass
class SyncReport:
    """What a pull or push did."""

    remote: str
    fetched_runs: int = 0
    merged: bool = False
    pushed: bool = False
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # names from the remote that flexgit does not accept
    rewritten: int | None = None  # joined across a `flexgit gc` rewrite: removed runs that went here
    replaced: bool = False  # the push replaced the remote's branch with our rewrite of it (flexgit gc)
    older_format: bool = False  # the remote still holds runs in format 1: `flexgit migrate REMOTE` moves them
    large_files: int = 0  # git-lfs objects of the pushed runs uploaded (or found there already)
    large_files_absent: int = 0  # ... and those this clone lacks (pulled runs whose content was never fetched)


def pull(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Fetch the remote's runs and join them with the local ones."""
    store = open_store(repo)
    joined = pull_into(store, remote, target_branch(store.repo, branch))
    fetched = joined.fetched
    return SyncReport(remote, fetched_runs=joined.new_runs, merged=joined.merged, conflicts=joined.conflicts,
                      refused=joined.refused, rewritten=joined.rewritten,
                      older_format=bool((fetched.legacy_branch and not joined.foreign_branch) or fetched.legacy_names))


def push(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None,
         allow_secrets: bool = False) -> SyncReport:
    """Send the local runs to the remote; if it moved meanwhile, pull, join and try again.

    Runs whose snapshot holds files that look like secrets (tracked ones: see `secrets_tracked`)
    are not sent unless `allow_secrets`: a host keeps what it was sent.
    """
    store = open_store(repo)
    git = store.repo
    target = target_branch(git, branch)
    report = SyncReport(remote)
    remember_refspecs(git, remote, target)
    store.ensure_format()  # format 1 names, if any, are pushed as format 2
    tip = git.ref_target(target.ref)
    if tip is not None and not allow_secrets:
        there = git.ref_target(Tracking.of(git, remote, target).branch)
        holding = store.runs_holding_secrets(tip, [there] if there else [])
        if holding:
            raise FlexgitError(f"{len(holding)} runs to push hold files that look like secrets (e.g. run "
                               f"'{holding[0]}'; 'flexgit show {holding[0]}' lists them); nothing was pushed. "
                               "Remove those files from git's history, or push anyway with --allow-secrets")
    if tip is not None:  # their large files first, as git-lfs's pre-push hook does: no run arrives without them
        there = git.ref_target(Tracking.of(git, remote, target).branch)
        report.large_files, report.large_files_absent = upload_for_push(git, remote, tip, [there] if there else [])
    for attempt in range(PUSH_ATTEMPTS):
        if attempt:
            # Others are pushing: back off, randomly, so that one of them wins each round.
            time.sleep(random.uniform(0.05, 0.2) * min(attempt, 8))
        if git.ref_target(target.ref) is None:
            return report  # nothing recorded yet
        there = git.ref_target(Tracking.of(git, remote, target).branch)
        lease = there if replaced_by_ours(store, git.ref_target(target.ref), there) else None
        done, detail = push_runs(git, remote, target, lease)
        if done:
            report.pushed, report.replaced = True, lease is not None
            report.older_format = holds_older_format(store, remote, target)
            return report
        if not lost_a_race(detail):
            raise FlexgitError(f"cannot push to '{remote}': {refusal(detail)}")
        pulled = pull(remote, branch, git)
        report.conflicts = pulled.conflicts
        if pulled.conflicts:
            raise FlexgitError(f"run names used for different runs here and on '{remote}': "
                               f"{', '.join(pulled.conflicts)}; both runs are kept: rename yours with "
                               f"'flexgit rename NAME NEW', then push again")
    raise FlexgitError(f"'{remote}' kept moving while pushing ({PUSH_ATTEMPTS} tries); try again")


def sync(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None,
         allow_secrets: bool = False) -> SyncReport:
    """Pull, then push."""
    pulled = pull(remote, branch, repo)
    pushed = push(remote, branch, repo, allow_secrets=allow_secrets)
    pushed.fetched_runs, pushed.merged = pulled.fetched_runs, pulled.merged
    pushed.conflicts = pulled.conflicts or pushed.conflicts
    pushed.refused = pulled.refused
    pushed.rewritten = pulled.rewritten
    pushed.older_format = pulled.older_format or pushed.older_format
    return pushed
