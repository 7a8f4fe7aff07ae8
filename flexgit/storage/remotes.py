"""Moving runs between this repository and a git remote: fetch into tracking refs, join, push.

Transport is the `git` command's own (its credential helpers, SSH agent, every URL it
knows). On a remote, format 2 keeps two refs: the experiments branch at
`refs/flexgit/heads/<branch>` and the notes; plain clones, fetches and `git push --tags`
never look at either. Run names are not refs there: each run's note holds its name, so a
pull names the runs it brings from their notes. Format 1 kept the branch at
`refs/heads/<branch>` and a tag `refs/tags/exp/<name>` per run; both are still read, so runs
pushed by a flexgit of format 1 are never missed.

What arrives is fetched into `refs/flexgit/remotes/<remote>/...` first, then joined:
- the experiments branch fast-forwards, or diverged histories get a merge commit (listing,
  `table` and `checkout` only ever look at runs, so the merge commit is invisible there);
- the notes are joined as a union of their lines per run (git's `cat_sort_uniq` idea), so
  values appended on two machines both survive; reading takes the newest by its time field;
- each new or changed note names its run here; a name that means different runs on the two
  sides is a conflict: both runs are kept, nothing is renamed, and the names are reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import BranchError
from .gitrepo import GitRepo, last_lines
from .refs import (
    KIND_MERGE,
    LEGACY_RUN_PREFIX,
    NOTES_REF,
    TRAILER_KIND,
    BranchRef,
    commit_message,
    is_valid_branch_name,
    is_known_run_name,
)
from .rewrite import land_join, plan_join
from .store import Store, crash_point

DELETE_BATCH = 500  # refs deleted on a remote per push (a command line stays short)


def remote_key(git: GitRepo, remote: str) -> str:
    """The name `remote`'s refs are tracked under: a configured remote's own name, else (a path or a
    URL given directly) a digest of it, which is always a valid ref component."""
    if git.config_value(f"remote.{remote}.url") is not None and is_valid_branch_name(remote):
        return remote
    return "url-" + hashlib.sha256(remote.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tracking:
    """Where the refs fetched from one remote are kept."""

    prefix: str
    branch_name: str

    @classmethod
    def of(cls, git: GitRepo, remote: str, target: BranchRef) -> "Tracking":
        return cls(f"refs/flexgit/remotes/{remote_key(git, remote)}/", target.name)

    @property
    def branch(self) -> str:
        """The remote's experiments branch (format 2: its refs/flexgit/heads/<branch>)."""
        return f"{self.prefix}heads/{self.branch_name}"

    @property
    def legacy_branch(self) -> str:
        """The remote's experiments branch as format 1 kept it (its refs/heads/<branch>)."""
        return f"{self.prefix}legacy/heads/{self.branch_name}"

    @property
    def notes(self) -> str:
        return f"{self.prefix}notes/flexgit"


@dataclass(frozen=True)
class Fetched:
    """What a fetch found on a remote: where its branch and notes now are here, and its run names.

    Format 1's names are read from the remote's ref list, never kept as tracking refs: a
    project with 100,000 runs would otherwise make every fetch write 100,000 files.
    """

    tracking: Tracking
    legacy_names: dict[str, str]  # name -> commit, format 1 (refs/tags/exp/*)
    legacy_branch: str | None  # the remote's format 1 branch tip, as listed


def fetch(git: GitRepo, remote: str, target: BranchRef) -> Fetched:
    """Fetch the remote's experiments branch and notes (both formats) into tracking refs; list its names."""
    tracking = Tracking.of(git, remote, target)
    remember_refspecs(git, remote, target)
    git.clear_stale_locks(tracking.prefix)  # a fetch killed midway must not block the next one
    singles = [(target.remote_ref, tracking.branch), (target.ref, tracking.legacy_branch), (NOTES_REF, tracking.notes)]
    listed = git.run_git(["ls-remote", remote, *(ref for ref, _ in singles), LEGACY_RUN_PREFIX + "*"]).split()
    advertised = dict(zip(listed[1::2], listed[0::2], strict=True))
    refspecs = [f"+{ref}:{local}" for ref, local in singles if ref in advertised]
    if refspecs:
        # --refmap= : only these refspecs, no opportunistic update of the user's remote-tracking refs.
        # git sees flexgit's own tips only (`fetch_aside`; else they are the negotiation's tips): by
        # default it offers, marks and checks against every local ref, and with 100,000 run names
        # that alone took 9 s of a pull of 100 runs (0.26 s with the tips as negotiation tips).
        tips = [ref for ref in (tracking.branch, tracking.notes, target.ref, NOTES_REF) if git.ref_target(ref)]
        if not git.fetch_aside(remote, refspecs, stops=[target.ref, NOTES_REF]):
            git.run_git(["fetch", "--quiet", "--no-tags", "--refmap=", *(f"--negotiation-tip={ref}" for ref in tips),
                         remote, *refspecs])
    for ref, local in singles:
        old = git.ref_target(local)
        if ref not in advertised and old is not None:
            git.remove_ref(local, old)  # gone there (a migrated remote's format 1 branch)
    legacy = {ref[len(LEGACY_RUN_PREFIX):]: oid for ref, oid in advertised.items() if ref.startswith(LEGACY_RUN_PREFIX)}
    return Fetched(tracking, legacy, advertised.get(target.ref))


def fetch_refspecs(git: GitRepo, remote: str, target: BranchRef) -> list[str]:
    """The refspecs that let a plain `git fetch REMOTE` bring the runs too (into flexgit's tracking refs)."""
    tracking = Tracking.of(git, remote, target)
    return [f"+{target.remote_ref}:{tracking.branch}", f"+{NOTES_REF}:{tracking.notes}"]


def remember_refspecs(git: GitRepo, remote: str, target: BranchRef) -> None:
    """Configure `fetch_refspecs` for a configured remote, replacing format 1's."""
    if git.config_value(f"remote.{remote}.url") is None:
        return  # a URL or path given directly: nothing to configure
    key = f"remote.{remote}.fetch"
    found, listed = git.try_git(["config", "--get-all", key])
    known = listed.split() if found else []
    tracking = Tracking.of(git, remote, target)
    # Format 1 fetched the remote's refs/heads/<branch> to where format 2 keeps its refs/flexgit/heads/<branch>;
    # git refuses two sources for one destination, so the old line goes.
    stale = f"+{target.ref}:{tracking.branch}"
    if stale in known:
        git.run_git(["config", "--fixed-value", "--unset-all", key, stale])
    for spec in fetch_refspecs(git, remote, target):
        if spec not in known:
            git.run_git(["config", "--add", key, spec])


@dataclass
class Joined:
    """What joining a remote's refs did."""

    new_runs: int = 0
    merged: bool = False
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # incoming names flexgit does not accept
    fetched: Fetched | None = None
    foreign_branch: bool = False  # the remote's refs/heads/<branch> is an ordinary branch, left alone
    rewritten: int | None = None  # joined across a `flexgit gc` rewrite: how many removed runs went here


def pull_into(store: Store, remote: str, target: BranchRef) -> Joined:
    """Fetch `remote` and join its runs with ours, under the writer lock."""
    fetched = fetch(store.repo, remote, target)
    tracking = fetched.tracking
    joined = Joined(fetched=fetched)
    with store.repo.writer_lock(), store.repo.trees_cached():
        store.complete_interrupted_write()  # its runs join the branch before theirs do
        before = store.branch_tip(target)
        notes_before = store.begin_pull()
        across = plan_join(store, before, store.repo.ref_target(tracking.branch))
        known = len(store.runs(target, removed=None)) if across is not None else 0
        for theirs, older in ((tracking.branch, False), (tracking.legacy_branch, True)):
            tip = store.repo.ref_target(theirs)
            if tip is not None and not store.is_flexgit_commit(tip):
                if older:  # an ordinary branch of that name, not runs: left alone
                    joined.foreign_branch = True
                    continue
                raise BranchError(f"'{remote}' holds {target.remote_ref} and it is not a flexgit experiments "
                                  "branch; nothing was joined")
            if across is None or older:
                joined.merged |= join_branch(store, target, tip, remote)
        crash_point("pull-branch")
        join_notes(store, store.repo.ref_target(tracking.notes), remote)
        crash_point("pull-notes")
        if across is not None:  # a rewritten branch (flexgit gc) on one side: rebuild on it, see rewrite.py
            joined.rewritten = len(land_join(store, target, across).removed)
        names = store.names_noted_since(notes_before)
        joined.conflicts, joined.refused = store.adopt_names([names, fetched.legacy_names], "flexgit: pull")
        store.end_pull()
        if across is None:
            joined.new_runs = store.new_runs([before], store.branch_tip(target))
        else:  # the run commits are all new: count the runs instead
            joined.new_runs = len(store.runs(target, removed=None)) - known + joined.rewritten
    return joined


def join_branch(store: Store, target: BranchRef, theirs: str | None, remote: str) -> bool:
    """Bring the runs of `theirs` onto the local branch; True when a merge commit was needed."""
    git = store.repo
    ours = store.branch_tip(target)
    if theirs is None or ours == theirs:
        return False
    if ours is None or git.is_ancestor(ours, theirs):  # asked first: the common case, and a short walk
        git.set_ref(target.ref, theirs, ours, f"flexgit: pull from {remote}")
        return False
    if git.is_ancestor(theirs, ours):
        return False
    message = commit_message(f"flexgit: join runs from {remote}", [(TRAILER_KIND, KIND_MERGE)])
    merge = git.create_commit(git.commit(ours)[0], [ours, theirs], message)
    git.set_ref(target.ref, merge, ours, f"flexgit: pull from {remote}")
    return True


def join_notes(store: Store, theirs: str | None, remote: str) -> None:
    """Join the notes commit `theirs` with ours: every note of both, a union of lines for a run noted
    on both sides. Never a plain adoption of theirs: a notes commit that deletes or rewrites notes
    (a fast-forward included) cannot make a local run's note or line disappear."""
    git = store.repo
    ours = git.ref_target(NOTES_REF)
    if theirs is None or ours == theirs or (ours and git.is_ancestor(theirs, ours)):
        return
    if ours is None:
        git.set_ref(NOTES_REF, theirs, ours, f"flexgit: pull from {remote}")
        return
    their_tree = git.commit(theirs)[0]
    tree = store.joined_notes_tree(git.commit(ours)[0], their_tree)
    if tree == their_tree and git.is_ancestor(ours, theirs):
        git.set_ref(NOTES_REF, theirs, ours, f"flexgit: pull from {remote}")
        return
    message = commit_message(f"flexgit: join notes from {remote}", [(TRAILER_KIND, KIND_MERGE)])
    merge = git.create_commit(tree, [ours, theirs], message)
    git.set_ref(NOTES_REF, merge, ours, f"flexgit: pull from {remote}")


def remotes_with_runs(git: GitRepo, target: BranchRef, wait: float = 5.0) -> list[str]:
    """The configured remotes that hold runs of `target` (either format), asked with `git ls-remote`
    (at most `wait` seconds each); one that cannot be reached counts as holding none."""
    found, listed = git.try_git(["remote"])
    holding = []
    for remote in listed.split() if found else []:
        answered, refs = git.try_git(["ls-remote", remote, target.remote_ref, target.ref], timeout=wait)
        if answered and refs.strip():
            holding.append(remote)
    return holding


def notes_tree_with_remote(store: Store, remote: str, target: BranchRef) -> str | None:
    """Fetch `remote` and return our notes joined with its notes, as a tree; no local ref moves."""
    tracking = fetch(store.repo, remote, target).tracking
    tips = (store.repo.ref_target(NOTES_REF), store.repo.ref_target(tracking.notes))
    trees = [store.repo.commit(tip)[0] for tip in tips if tip]
    if len(trees) < 2:
        return trees[0] if trees else None
    return store.joined_notes_tree(trees[0], trees[1])


def push_runs(git: GitRepo, remote: str, target: BranchRef, lease: str | None = None) -> tuple[bool, str]:
    """Push the branch (to its format 2 place) and the notes in one atomic push: (pushed, git's output).
    The names travel in the notes. With `lease` (the remote's branch tip as last fetched, which our
    branch holds a `flexgit gc` rewrite of), the branch replaces the remote's if it is still there."""
    refspecs = [f"{target.ref}:{target.remote_ref}", f"{NOTES_REF}:{NOTES_REF}"]
    leases = [f"--force-with-lease={target.remote_ref}:{lease}"] if lease else []
    if lease:
        refspecs[0] = "+" + refspecs[0]
    # --atomic: the remote takes the branch and the notes together or not at all.
    return git.try_git([*_no_mirror(git, remote), "push", "--atomic", "--porcelain", *leases, remote, *refspecs])


def _no_mirror(git: GitRepo, remote: str) -> list[str]:
    """git options that let a push with refspecs go to `remote` even when it is configured with
    `mirror = true` (git refuses refspecs there); flexgit pushes only its own refs, never a mirror."""
    if git.config_value(f"remote.{remote}.mirror") is None or "=" in remote:
        return []
    return ["-c", f"remote.{remote}.mirror=false"]


def holds_older_format(store: Store, remote: str, target: BranchRef) -> bool:
    """Does `remote` still keep the experiments branch where format 1 did (its refs/heads/<branch>)?
    An ordinary branch of that name that we know is not flexgit's does not count."""
    answered, listed = store.repo.try_git(["ls-remote", remote, target.ref])
    tip = listed.split()[0] if answered and listed.split() else None
    return tip is not None and (not store.repo.is_commit(tip) or store.is_flexgit_commit(tip))


def lost_a_race(output: str) -> bool:
    """Did a push fail because the remote moved (or a name there differs), not because it refuses?"""
    return any(word in output for word in ("[rejected]", "fetch first", "non-fast-forward", "already exists",
                                           "cannot lock ref", "failed to update ref"))


def refusal(output: str) -> str:
    """The remote's reason for refusing a push, on one line."""
    reasons = [line for line in output.splitlines() if "remote rejected" in line and "atomic" not in line]
    return last_lines("\n".join(reasons) if reasons else output)


def remove_legacy_refs(store: Store, remote: str, target: BranchRef, fetched: Fetched) -> tuple[int, list[str]]:
    """Delete format 1's refs on `remote` whose format 2 counterparts are there: (deleted, names kept).

    The old branch goes only while it still points where we fetched it (a lease), and only
    when our pushed branch holds it; a name goes only when the same name points at the same
    run in format 2. Run after `push_runs` succeeded.
    """
    git = store.repo
    deletions, kept = [], []
    old_branch, pushed = fetched.legacy_branch, git.ref_target(target.ref)
    if old_branch and pushed and git.is_commit(old_branch) and git.is_ancestor(old_branch, pushed):
        deletions.append((f"--force-with-lease={target.ref}:{old_branch}", f":{target.ref}"))
    for name, commit in sorted(fetched.legacy_names.items()):
        if is_known_run_name(name) and store.name_target(name) == commit:
            deletions.append(("", f":{LEGACY_RUN_PREFIX}{name}"))
        else:
            kept.append(name)
    for start in range(0, len(deletions), DELETE_BATCH):
        batch = deletions[start:start + DELETE_BATCH]
        leases = [lease for lease, _ in batch if lease]
        git.run_git([*_no_mirror(git, remote), "push", "--quiet", "--no-verify", *leases, remote,
                     *(spec for _, spec in batch)])
    return len(deletions), kept
