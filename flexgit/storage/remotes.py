"""Moving runs between this repository and a git remote: fetch into tracking refs, then join.

Transport is the `git` command's own (its credential helpers, SSH agent, every URL it
knows). What arrives is fetched into `refs/flexgit/remotes/<remote>/...` first, then joined:
- the experiments branch fast-forwards, or diverged histories get a merge commit (listing,
  `table` and `checkout` only ever look at runs, so the merge commit is invisible there);
- the notes are joined as a union of their lines per run (git's `cat_sort_uniq` idea), so
  values appended on two machines both survive; reading takes the newest by its time field;
- run tags arrive as they are; a name that means different runs on the two sides is a
  conflict: both runs are kept, nothing is renamed, and the names are reported.
"""

from __future__ import annotations

from .gitrepo import GitRepo, RefMoved
from .refs import KIND_MERGE, NOTES_REF, TAG_PREFIX, TRAILER_KIND, BranchRef, commit_message
from .store import Store


def tracking_prefix(remote: str) -> str:
    """Where the refs fetched from `remote` are kept."""
    return f"refs/flexgit/remotes/{remote}/"


def tracking_ref(remote: str, ref: str) -> str:
    """The tracking ref of `remote`'s `ref` (refs/heads/x -> refs/flexgit/remotes/REMOTE/heads/x)."""
    return tracking_prefix(remote) + ref[len("refs/"):]


def fetch(git: GitRepo, remote: str, target: BranchRef) -> None:
    """Fetch the remote's experiments branch, notes and run tags into its tracking refs."""
    prefix = tracking_prefix(remote)
    remember_refspecs(git, remote, target)
    git.clear_stale_locks(prefix)  # a fetch killed midway must not block the next one
    advertised = git.run_git(["ls-remote", remote]).split()
    wanted = [target.ref, NOTES_REF]
    refspecs = [f"+{ref}:{tracking_ref(remote, ref)}" for ref in wanted if ref in advertised]
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
    for ref in (target.ref, NOTES_REF):
        spec = f"+{ref}:{tracking_ref(remote, ref)}"
        if spec not in known:
            git.run_git(["config", "--add", f"remote.{remote}.fetch", spec])


def join_branch(store: Store, target: BranchRef, remote: str) -> bool:
    """Bring the remote's runs onto the local branch; True when a merge commit was needed."""
    git = store.repo
    theirs = git.ref_target(tracking_ref(remote, target.ref))
    ours = store.branch_tip(target)
    if theirs is None or ours == theirs or (ours and git.is_ancestor(theirs, ours)):
        return False
    if ours is None or git.is_ancestor(ours, theirs):
        git.set_ref(target.ref, theirs, ours, f"flexgit: pull from {remote}")
        return False
    message = commit_message(f"flexgit: join runs from {remote}", [(TRAILER_KIND, KIND_MERGE)])
    merge = git.create_commit(git.commit(ours)[0], [ours, theirs], message)
    git.set_ref(target.ref, merge, ours, f"flexgit: pull from {remote}")
    return True


def join_notes(store: Store, remote: str) -> None:
    """Join the remote's notes with ours: a union of lines for a run noted on both sides."""
    git = store.repo
    theirs = git.ref_target(tracking_ref(remote, NOTES_REF))
    ours = git.ref_target(NOTES_REF)
    if theirs is None or ours == theirs or (ours and git.is_ancestor(theirs, ours)):
        return
    if ours is None or git.is_ancestor(ours, theirs):
        git.set_ref(NOTES_REF, theirs, ours, f"flexgit: pull from {remote}")
        return
    tree = store.joined_notes_tree(git.commit(ours)[0], git.commit(theirs)[0])
    message = commit_message(f"flexgit: join notes from {remote}", [(TRAILER_KIND, KIND_MERGE)])
    merge = git.create_commit(tree, [ours, theirs], message)
    git.set_ref(NOTES_REF, merge, ours, f"flexgit: pull from {remote}")


def join_tags(store: Store, remote: str) -> list[str]:
    """Create the remote's run tags that are new here; names taken by different runs are conflicts."""
    git = store.repo
    fetched = tracking_prefix(remote) + "tags/"
    conflicts = []
    local = git.refs_under(TAG_PREFIX)
    for name, target in git.refs_under(fetched).items():
        ref = "refs/tags/" + name[len(fetched):]
        if ref not in local:
            try:
                git.set_ref(ref, target, None, "flexgit: pull")
            except RefMoved:
                pass
        elif local[ref] != target:
            conflicts.append(ref[len(TAG_PREFIX):])
    return sorted(conflicts)


def notes_tree_with_remote(store: Store, remote: str, target: BranchRef) -> str | None:
    """Fetch `remote` and return our notes joined with its notes, as a tree; no local ref moves."""
    fetch(store.repo, remote, target)
    tips = (store.repo.ref_target(NOTES_REF), store.repo.ref_target(tracking_ref(remote, NOTES_REF)))
    trees = [store.repo.commit(tip)[0] for tip in tips if tip]
    if len(trees) < 2:
        return trees[0] if trees else None
    return store.joined_notes_tree(trees[0], trees[1])
