"""Runs through any git remote: `flexgit pull`, `push` and `sync`.

Transport is the `git` command's own (its credential helpers, SSH agent, every URL it
knows). What arrives is fetched into `refs/flexgit/remotes/<remote>/...` first, then joined:
- the experiments branch fast-forwards, or diverged histories get a merge commit (listing,
  `table` and `checkout` only ever look at runs, so the merge commit is invisible there);
- the notes are joined as a union of their lines per run (git's `cat_sort_uniq` idea), so
  values appended on two machines both survive; reading takes the newest by its time field;
- run tags arrive as they are; a name that means different runs on the two sides is a
  conflict: both runs are kept, nothing is renamed, and the names are reported.
A rejected push (someone pushed in between) is retried after a pull, a bounded number of times.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

from . import api
from .errors import FlexgitError
from .gitrepo import GitRepo, RefMoved, last_lines
from .refs import FORMAT_VERSION, NOTES_REF, TAG_PREFIX, TRAILER_FORMAT, TRAILER_KIND, BranchRef
from .store import Store

PUSH_ATTEMPTS = 20


@dataclass
class SyncReport:
    """What a pull or push did."""

    remote: str
    fetched_runs: int = 0
    merged: bool = False
    pushed: bool = False
    conflicts: list[str] = field(default_factory=list)


def tracking_prefix(remote: str) -> str:
    return f"refs/flexgit/remotes/{remote}/"


def pull(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Fetch the remote's runs and join them with the local ones."""
    store = api.open_store(repo)
    target = api.target_branch(store.repo, branch)
    report = SyncReport(remote)
    _fetch(store.repo, remote, target)
    prefix = tracking_prefix(remote)
    with store.repo.writer_lock():
        before = len(store.repo.refs_under(TAG_PREFIX))
        report.merged = _join_branch(store, target, store.repo.ref_target(prefix + target.ref[len("refs/"):]), remote)
        _join_notes(store, store.repo.ref_target(prefix + NOTES_REF[len("refs/"):]), remote)
        report.conflicts = _join_tags(store, prefix)
        report.fetched_runs = len(store.repo.refs_under(TAG_PREFIX)) - before
    return report


def push(remote: str = "origin", branch: str | None = None, repo: str | os.PathLike | None = None) -> SyncReport:
    """Send the local runs to the remote; if it moved meanwhile, pull, join and try again."""
    git = GitRepo.open(repo)
    target = api.target_branch(git, branch)
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


def _fetch(git: GitRepo, remote: str, target: BranchRef) -> None:
    prefix = tracking_prefix(remote)
    remember_refspecs(git, remote, target)
    git.clear_stale_locks(prefix)  # a fetch killed midway must not block the next one
    advertised = git.run_git(["ls-remote", remote]).split()
    wanted = [target.ref, NOTES_REF]
    refspecs = [f"+{ref}:{prefix}{ref[len('refs/'):]}" for ref in wanted if ref in advertised]
    if any(name.startswith(TAG_PREFIX) for name in advertised):
        refspecs.append(f"+{TAG_PREFIX}*:{prefix}tags/{TAG_PREFIX[len('refs/tags/'):]}*")
    if refspecs:
        # --refmap= : only these refspecs, no opportunistic update of the user's remote-tracking refs.
        git.run_git(["fetch", "--quiet", "--no-tags", "--refmap=", remote, *refspecs])


def remember_refspecs(git: GitRepo, remote: str, target: BranchRef) -> None:
    """Let a plain `git fetch REMOTE` bring the runs too (into flexgit's tracking refs)."""
    if git.config_value(f"remote.{remote}.url") is None:
        return  # a URL or path given directly: nothing to configure
    found, listed = git.try_git(["config", "--get-all", f"remote.{remote}.fetch"])
    known = listed.split() if found else []
    prefix = tracking_prefix(remote)
    for ref in (target.ref, NOTES_REF):
        spec = f"+{ref}:{prefix}{ref[len('refs/'):]}"
        if spec not in known:
            git.run_git(["config", "--add", f"remote.{remote}.fetch", spec])


def _join_branch(store: Store, target: BranchRef, theirs: str | None, remote: str) -> bool:
    """Bring the remote's runs onto the local branch; True when a merge commit was needed."""
    git = store.repo
    ours = store.branch_tip(target)
    if theirs is None or ours == theirs or (ours and git.is_ancestor(theirs, ours)):
        return False
    if ours is None or git.is_ancestor(ours, theirs):
        git.set_ref(target.ref, theirs, ours, f"flexgit: pull from {remote}")
        return False
    message = (f"flexgit: join runs from {remote}\n\n{TRAILER_KIND}: merge\n{TRAILER_FORMAT}: {FORMAT_VERSION}\n")
    merge = git.create_commit(git.commit(ours)[0], [ours, theirs], message)
    git.set_ref(target.ref, merge, ours, f"flexgit: pull from {remote}")
    return True


def _join_notes(store: Store, theirs: str | None, remote: str) -> None:
    """Join the remote's notes with ours: a union of lines for a run noted on both sides."""
    git = store.repo
    ours = git.ref_target(NOTES_REF)
    if theirs is None or ours == theirs or (ours and git.is_ancestor(theirs, ours)):
        return
    if ours is None or git.is_ancestor(ours, theirs):
        git.set_ref(NOTES_REF, theirs, ours, f"flexgit: pull from {remote}")
        return
    tree = store.joined_notes_tree(git.commit(ours)[0], git.commit(theirs)[0])
    message = f"flexgit: join notes from {remote}\n\n{TRAILER_KIND}: merge\n{TRAILER_FORMAT}: {FORMAT_VERSION}\n"
    merge = git.create_commit(tree, [ours, theirs], message)
    git.set_ref(NOTES_REF, merge, ours, f"flexgit: pull from {remote}")


def joined_notes_tree(remote: str, branch: str | None = None, repo: str | os.PathLike | None = None) -> str | None:
    """Fetch REMOTE and return our notes joined with its notes, as a tree; no local ref moves."""
    store = api.open_store(repo)
    _fetch(store.repo, remote, api.target_branch(store.repo, branch))
    trees = [store.repo.commit(tip)[0] for tip in (store.repo.ref_target(NOTES_REF),
             store.repo.ref_target(tracking_prefix(remote) + NOTES_REF[len("refs/"):])) if tip]
    if len(trees) < 2:
        return trees[0] if trees else None
    return store.joined_notes_tree(trees[0], trees[1])


def _join_tags(store: Store, prefix: str) -> list[str]:
    """Create the remote's run tags that are new here; names taken by different runs are conflicts."""
    git = store.repo
    conflicts = []
    local = git.refs_under(TAG_PREFIX)
    for name, target in git.refs_under(prefix + "tags/").items():
        ref = "refs/tags/" + name[len(prefix + "tags/"):]
        if ref not in local:
            try:
                git.set_ref(ref, target, None, "flexgit: pull")
            except RefMoved:
                pass
        elif local[ref] != target:
            conflicts.append(ref[len(TAG_PREFIX):])
    return sorted(conflicts)
