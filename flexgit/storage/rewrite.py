"""`flexgit gc`: the experiments branch rewritten without its removed runs, and pulls across such a rewrite.

A gc re-creates each surviving run commit (same tree, same message) on a new chain from the
branch's root, leaves out removed runs and merge commits, and ends the chain with a gc commit
(kind `gc`) whose tree records the rewrite: the tip it replaced, old id -> new id of each
survivor, and each removed run's note as it was (its tombstone travels with the branch). The
old run commits become unreachable once reflogs expire: `git gc --prune=now` drops them.

Landing is all or nothing (`Store.land_rewrite`): every object first, then a journal, then the
notes by compare-and-swap (the commit point), then the branch and the names.

Across machines: when one side's branch holds gc commits the other lacks, which moved or
removed runs the other side's branch holds, a pull rebuilds on the rewritten history: the
other side's runs the rewrite did not know are replayed onto it (never dropped) and recorded
by another gc commit (so a push may replace a branch that still holds their old ids), the
survivors' notes and names move to their new ids, and a removed run disappears only when its
note, joined with the note the rewrite recorded, still carries its tombstone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import BranchError
from .gitrepo import GitRepo
from .refs import (
    GC_NOTES,
    GC_RECORD,
    KIND_GC,
    KIND_ROOT,
    KIND_RUN,
    NOTES_REF,
    RUN_PREFIX,
    TRAILER_KIND,
    TRAILER_REPLACES,
    BranchRef,
    commit_message,
    trailers,
)
from .run import Run
from .store import Store, note_path, note_paths


@dataclass
class Rewrite:
    """A rewrite of the experiments branch: old commit -> new commit of each run kept, the runs dropped."""

    moved: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    tip: str | None = None  # the new branch tip
    replaced: str | None = None  # the branch tip it replaces (recorded in the gc commit)


def collect(store: Store, branch: BranchRef) -> Rewrite:
    """Rewrite `branch` without the runs `flexgit rm` removed and land it; an empty Rewrite when none is."""
    store.ensure_format()
    git = store.repo
    with git.writer_lock():
        store.complete_interrupted_write()
        tip = store.branch_tip(branch)
        removed_ids = {run.id for run in store.runs(None, removed=True)}
        history = git.history(tip, []) if tip else []
        dropped = [c for c, _, message in history if _kind(message) == KIND_RUN and c in removed_ids]
        if not dropped:
            return Rewrite()
        root = next((c for c, _, message in history if _kind(message) == KIND_ROOT), None)
        if root is None:
            raise BranchError(f"branch '{branch.name}' has no flexgit root commit; nothing was rewritten")
        kept = [(c, tree, message) for c, tree, message in history if _kind(message) == KIND_RUN and c not in dropped]
        moved, last = _replay(git, kept, root)
        notes = {c: store.note_of(c) for c in dropped}
        new_tip = _gc_commit(git, last, tip, moved, {c: n for c, n in notes.items() if n})
        rewrite = Rewrite(moved, dropped, new_tip, tip)
        _land(store, branch, rewrite, tip, store.repo.ref_target(NOTES_REF), {})
        return rewrite


def _land(store: Store, branch: BranchRef, rewrite: Rewrite, old_tip: str | None, notes_tip: str | None,
          lines: dict[str, bytes]) -> None:
    """Land `rewrite` (notes moved, then branch and names); `lines`: note contents to write for new ids."""
    git = store.repo
    notes_tree = git.commit(notes_tip)[0] if notes_tip else None
    changes: dict[str, str | None] = {}
    for old in [*rewrite.removed, *rewrite.moved]:
        for path in note_paths(old):
            if notes_tree and git.tree_entry(notes_tree, path):
                changes[path] = None
    for old, new in rewrite.moved.items():
        note = lines.get(old) or _note_in(git, notes_tree, old)
        if note is not None:
            here = _note_in(git, notes_tree, new)
            changes[note_path(new)] = git.write_blob(_union(note, here) if here else note)
    message = commit_message(f"flexgit gc: {len(rewrite.removed)} removed runs dropped, "
                             f"{len(rewrite.moved)} runs moved to new ids", [(TRAILER_KIND, KIND_GC)])
    notes_commit = git.create_commit(git.update_tree(notes_tree, changes), [notes_tip] if notes_tip else [], message)
    names = {}
    for ref, target in git.refs_under(RUN_PREFIX).items():
        if target in rewrite.moved:
            names[ref] = [target, rewrite.moved[target]]
        elif target in rewrite.removed:
            names[ref] = [target, None]
    store.land_rewrite(notes_tip, notes_commit, branch.ref, old_tip, rewrite.tip, names)


def _replay(git: GitRepo, commits: list[tuple[str, str, str]], parent: str) -> tuple[dict[str, str], str]:
    """Re-create `commits` (id, tree, message), in order, as a chain on `parent`: (old -> new, the last)."""
    moved = {}
    for commit, tree, message in commits:
        parent = git.create_commit(tree, [parent], message)
        moved[commit] = parent
    return moved, parent


def _gc_commit(git: GitRepo, parent: str, replaced: str, moved: dict[str, str], notes: dict[str, bytes]) -> str:
    """The commit that ends a rewritten branch and records the rewrite (see the module docstring)."""
    record = {"replaces": replaced, "moved": moved, "removed": sorted(notes)}
    files = {GC_RECORD: git.write_blob(json.dumps(record, sort_keys=True).encode())}
    files.update({f"{GC_NOTES}/{commit}": git.write_blob(note) for commit, note in notes.items()})
    message = commit_message(f"flexgit gc: {len(notes)} removed runs dropped, {len(moved)} runs rewritten",
                             [(TRAILER_KIND, KIND_GC), (TRAILER_REPLACES, replaced)])
    return git.create_commit(git.update_tree(None, files), [parent], message)


@dataclass
class JoinPlan:
    """A pull across a rewrite: the rewritten side's tip, the other's, the records of every gc commit
    the other side lacks (record, tree), oldest first, and the other side's runs they know."""

    base: str
    other: str
    records: list[tuple[dict, str]]
    known: set[str]


def plan_join(store: Store, ours: str | None, theirs: str | None) -> JoinPlan | None:
    """How to join `theirs` with `ours` when one of them is a rewrite of runs the other holds; None otherwise."""
    git = store.repo
    if ours is None or theirs is None or git.is_ancestor(ours, theirs) or git.is_ancestor(theirs, ours):
        return None
    for side, other in ((theirs, ours), (ours, theirs)):
        records = _gc_commits(git, side, other)
        known = _runs_only_in(git, other, side) & _old_ids(records)
        if known:
            return JoinPlan(side, other, records[::-1], known)
    return None  # no rewrite holds a run of the other side: a plain join brings nothing removed back


def land_join(store: Store, branch: BranchRef, plan: JoinPlan) -> Rewrite:
    """Put the runs of `plan.other` the rewrites did not know onto the rewritten branch (after the notes
    were joined): survivors' notes and names move, removed runs go only when still tombstoned."""
    git = store.repo
    notes_tip = git.ref_target(NOTES_REF)
    notes_tree = git.commit(notes_tip)[0] if notes_tip else None
    chained: dict[str, str] = {}
    removed, revived, lines = [], [], {}
    for record, tree in plan.records:  # oldest first: a run moved twice ends at its newest id
        moves = _moves(record)
        chained = {old: moves.get(new, new) for old, new in chained.items()}
        chained.update({old: new for old, new in moves.items() if old not in chained})
        for commit in _removed(record):
            recorded = git.tree_entry(tree, f"{GC_NOTES}/{commit}")
            here = _note_in(git, notes_tree, commit)
            joined = _union(here, git.read_blob(recorded)) if here and recorded else (here or b"")
            run = Run.from_note(commit, joined) if joined else None
            if run is not None and not run.removed and git.is_commit(commit):
                revived.append(commit)  # brought back (rm --undo) where the rewrite could not see it
                lines[commit] = joined
            elif here is not None or git.is_commit(commit):
                removed.append(commit)
    extra = [(c, tree, message) for c, tree, message in git.history(plan.other, [plan.base])
             if _kind(message) == KIND_RUN and c not in plan.known]
    extra += [(c, *_tree_message(git, c)) for c in revived if c not in {e[0] for e in extra}]
    moved, tip = _replay(git, extra, plan.base)
    if moved:  # the replay rewrote the other side too: recorded, so a push may replace it there
        tip = _gc_commit(git, tip, plan.other, moved, {})
    old_moved = {old: new for old, new in chained.items() if _note_in(git, notes_tree, old)}
    rewrite = Rewrite({**old_moved, **moved}, removed, tip, plan.other)
    _land(store, branch, rewrite, git.ref_target(branch.ref), notes_tip, lines)
    return rewrite


def replaced_by_ours(store: Store, ours: str | None, theirs: str | None) -> bool:
    """Does our branch hold a rewrite of every run of `theirs` it lacks (gc commits that moved or removed
    them)? Then a push may replace the remote's branch (with a lease)."""
    git = store.repo
    if ours is None or theirs is None or not git.is_commit(theirs) or git.is_ancestor(theirs, ours):
        return False
    records = _gc_commits(git, ours, theirs)
    return bool(records) and _runs_only_in(git, theirs, ours) <= _old_ids(records)


def _runs_only_in(git: GitRepo, tip: str, other: str) -> set[str]:
    """The run commits reachable from `tip` and not from `other`."""
    return {c for c, _, message in git.history(tip, [other]) if _kind(message) == KIND_RUN}


def _old_ids(records: list[tuple[dict, str]]) -> set[str]:
    """Every run commit the gc commits `records` replaced or removed."""
    return {c for record, _ in records for c in [*_moves(record), *_removed(record)]}


def _moves(record: dict) -> dict[str, str]:
    moved = record.get("moved")
    return {k: v for k, v in moved.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(moved, dict) else {}


def _removed(record: dict) -> list[str]:
    removed = record.get("removed")
    return [c for c in removed if isinstance(c, str)] if isinstance(removed, list) else []


def _gc_commits(git: GitRepo, tip: str, other: str) -> list[tuple[dict, str]]:
    """(record, tree) of each gc commit reachable from `tip` and not from `other`, newest first."""
    found = []
    for _, tree, message in reversed(git.history(tip, [other] if git.is_commit(other) else [])):
        if _kind(message) != KIND_GC:
            continue
        blob = git.tree_entry(tree, GC_RECORD)
        try:
            record = json.loads(git.read_blob(blob)) if blob else None
        except ValueError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("replaces"), str):
            found.append((record, tree))
    return found


def _tree_message(git: GitRepo, commit: str) -> tuple[str, str]:
    tree, _, message = git.commit(commit)
    return tree, message


def _note_in(git: GitRepo, tree: str | None, commit: str) -> bytes | None:
    for path in note_paths(commit) if tree else ():
        blob = git.tree_entry(tree, path)
        if blob is not None:
            return git.read_blob(blob)
    return None


def _union(a: bytes | None, b: bytes | None) -> bytes:
    """The lines of two notes of one run, each once (as a pull joins them)."""
    lines = set((a or b"").splitlines()) | set((b or b"").splitlines())
    return b"\n".join(sorted(line for line in lines if line)) + b"\n"


def _kind(message: str) -> str | None:
    return trailers(message).get(TRAILER_KIND)
