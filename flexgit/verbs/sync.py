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
from ..storage.gitrepo import last_lines
from ..storage.refs import NOTES_REF, TAG_PREFIX
from ..storage.remotes import fetch, join_branch, join_notes, join_tags, remember_refspecs

PUSH_ATTEMPTS = 20


@dataclass
class SyncReport:
    """What a pull or push did."""

    remote: str
    fetched_runs: int = 0
    merged: bool = False
    pushed: bool = False
    conflicts: list[str] = field(default_factory=list)


def pull(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Fetch the remote's runs and join them with the local ones."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    report = SyncReport(remote)
    fetch(store.repo, remote, target)
    with store.repo.writer_lock():
        before = len(store.repo.refs_under(TAG_PREFIX))
        report.merged = join_branch(store, target, remote)
        join_notes(store, remote)
        report.conflicts = join_tags(store, remote)
        report.fetched_runs = len(store.repo.refs_under(TAG_PREFIX)) - before
    return report


def push(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Send the local runs to the remote; if it moved meanwhile, pull, join and try again."""
    git = open_store(repo).repo
    target = target_branch(git, branch)
    report = SyncReport(remote)
    remember_refspecs(git, remote, target)
    for attempt in range(PUSH_ATTEMPTS):
        if attempt:
            # Others are pushing: back off, randomly, so that one of them wins each round.
            time.sleep(random.uniform(0.05, 0.2) * min(attempt, 8))
        refspecs = [f"{target.ref}:{target.ref}", f"{NOTES_REF}:{NOTES_REF}", f"{TAG_PREFIX}*:{TAG_PREFIX}*"]
        if git.ref_target(target.ref) is None:
            return report  # nothing recorded yet
        # --atomic: the remote takes the branch, the notes and the tags together or not at all.
        done, detail = git.try_git(["push", "--atomic", "--porcelain", remote, *refspecs])
        if done:
            report.pushed = True
            return report
        if not _lost_a_race(detail):
            raise FlexgitError(f"cannot push to '{remote}': {_refusal(detail)}")
        pulled = pull(remote, branch, git)
        report.conflicts = pulled.conflicts
        if pulled.conflicts:
            raise FlexgitError(f"run names used for different runs here and on '{remote}': "
                               f"{', '.join(pulled.conflicts)}; both runs are kept: rename yours with "
                               f"'flexgit rename NAME NEW', then push again")
    raise FlexgitError(f"'{remote}' kept moving while pushing ({PUSH_ATTEMPTS} tries); try again")


def sync(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Pull, then push."""
    pulled = pull(remote, branch, repo)
    pushed = push(remote, branch, repo)
    pushed.fetched_runs, pushed.merged = pulled.fetched_runs, pulled.merged
    pushed.conflicts = pulled.conflicts or pushed.conflicts
    return pushed


def _lost_a_race(output: str) -> bool:
    """Did the push fail because the remote moved (or a tag there differs), not because it refuses?"""
    return any(word in output for word in ("[rejected]", "fetch first", "non-fast-forward", "already exists",
                                           "cannot lock ref", "failed to update ref"))


def _refusal(output: str) -> str:
    reasons = [line for line in output.splitlines() if "remote rejected" in line and "atomic" not in line]
    return last_lines("\n".join(reasons) if reasons else output)
