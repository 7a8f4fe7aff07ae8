"""Runs on the git store: write them (commit + note + name), read them back, find one.

Write protocol. Under flexgit's writer lock, for one batch of runs:
  1. finish any write a killed process left half done (see `_complete_last_write`);
  2. write the run commits (parent: the branch tip) and a notes commit adding their rows;
  3. write the journal, `.git/flexgit.d/write.json`: that notes commit, the branch with its
     tip before and after, and the runs' commits and names;
  4. move `refs/notes/flexgit` by compare-and-swap: this is the commit point;
  5. move the branch and create the names, then remove the journal.
Step 1 of the next write reads the journal: if its notes commit is in the notes' history,
the write landed and steps 5 are redone; if not, it never happened. The journal is this
clone's own (never transferred), so nothing pulled from a remote, not a notes commit's
trailers nor a note, can make a write move a ref; and a pull or any later notes commit
between a kill and the next write cannot hide the interrupted write. In O(1) (one stat)
when nothing was interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import marshal
import os
from dataclasses import replace
from operator import itemgetter
from typing import Any, Container, Iterable, Iterator, Mapping, Sequence

from ..errors import BranchError, ConcurrencyError, InputError, NewerFormatError, RunExistsError, UnknownRunError
from ..project.files import write_atomic
from ..project.values import check_text
from . import runcache
from .gitrepo import CAT_FILE_FROM, GitRepo, RefMoved
from .refs import (
    FLEXGIT_DIR,
    FORMAT_CONFIG,
    FORMAT_VERSION,
    KIND_MERGE,
    KIND_ROOT,
    KIND_RUN,
    LEGACY_RUN_PREFIX,
    NOTES_REF,
    RUN_PREFIX,
    TRAILER_BRANCH,
    TRAILER_FORMAT,
    TRAILER_KIND,
    TRAILER_NAME,
    TRAILER_RUNS,
    TRAILER_TIP,
    BranchRef,
    commit_message,
    is_known_run_name,
    is_valid_run_name,
    legacy_run_ref,
    run_ref,
    trailers,
)
from .run import Run, latest_time, line_problem, rows_from_notes, update_line

JOURNAL = "write.json"  # in .git/flexgit.d/: the write under way (see the protocol above)
REWRITE_JOURNAL = "rewrite.json"  # ... and a rewrite (`flexgit gc`, a pull across one) under way
CRASH_ENV = "FLEXGIT_CRASH_AT"  # tests only: the write step at which to kill this process
FANOUT = 2  # notes live at ab/cdef... (git's own fan-out), so a write rewrites two small trees
MAX_ATTEMPTS = 50
PACK_FROM = 64  # runs in one write from which its objects go into one pack, not loose files (imports)
READ_CHUNK = 4096
MAX_NOTE_BYTES = 16 << 20
RUN_CACHE = f"runs-v1.marshal{marshal.version}"


def check_run(run: Run) -> None:
    """Refuse a run `Store.write` would refuse for its message or its size, before anything is written."""
    check_text(run.message, f"the message of run '{run.name}'")
    line = run.to_note_line()
    if len(line) > MAX_NOTE_BYTES:  # every `table` would read it
        raise InputError(f"the row of run '{run.name}' is larger than {MAX_NOTE_BYTES >> 20} MB; "
                         "keep large values in a file of the snapshot")
    row = json.loads(line)
    if not run.name:
        del row["name"]  # given by the write itself
    problem = line_problem(row, latest_time())  # what every reader checks: never a run it skips
    if problem is not None:
        raise InputError(f"run '{run.name}' cannot be recorded: its row {problem}; "
                         "give plain values (text, numbers, true/false, lists of them)")


class Store:
    """The runs of one repository."""

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self._loaded: tuple[str, list[runcache.Entry]] | None = None  # (notes tree, its entries) last read

    # -- the branch -------------------------------------------------------------------

    def is_flexgit_commit(self, commit: str) -> bool:
        """True when `commit` is one of flexgit's (its message carries the format trailer)."""
        try:
            return TRAILER_FORMAT in trailers(self.repo.commit(commit)[2])
        except KeyError:
            return False

    def branch_tip(self, branch: BranchRef) -> str | None:
        """The tip of the experiments branch, None if absent; refuses a branch that is not flexgit's."""
        tip = self.repo.ref_target(branch.ref)
        if tip is None:
            return None
        try:
            message = self.repo.commit(tip)[2]
        except KeyError:
            message = ""
        if TRAILER_FORMAT not in trailers(message):
            raise BranchError(
                f"branch '{branch.name}' exists and is not a flexgit experiments branch; "
                "pick another with --branch"
            )
        return tip

    def init(self, branch: BranchRef) -> str:
        """Create the experiments branch (an orphan root commit of flexgit's own) unless it exists."""
        with self.repo.writer_lock():
            self._prepare_write()
            return self._ensure_branch(branch)

    # -- the format -------------------------------------------------------------------

    def migrate(self) -> tuple[int, list[str]]:
        """Move format 1's run names (refs/tags/exp/*) to refs/exp/*; returns (moved, names kept in both).

        Each new ref is in place before its old one goes, so an interrupted migration loses
        nothing and the next one finishes it. A name that means another run in each place is
        kept in both (the new one wins when reading); `flexgit rename` settles it.
        """
        with self.repo.writer_lock():
            return self._migrate_locked()

    def _migrate_locked(self) -> tuple[int, list[str]]:
        written = self.repo.config_value(FORMAT_CONFIG) or ""
        if written.isdigit() and int(written) > FORMAT_VERSION:  # moving refs "down" would misread them
            raise NewerFormatError(f"this repository's runs are in storage format {written}, written by a newer "
                                   f"flexgit; this one writes format {FORMAT_VERSION}, so it changes nothing here: "
                                   "upgrade flexgit (pip install --upgrade flexgit)")
        legacy, kept = {}, []
        for ref, target in sorted(self.repo.refs_under(LEGACY_RUN_PREFIX).items()):
            name = ref[len(LEGACY_RUN_PREFIX):]
            if is_known_run_name(name) and self.repo.is_commit(target):
                legacy[name] = target
            else:
                kept.append(name)  # not a name flexgit writes: left where it is, never followed
        self.repo.create_refs({run_ref(name): target for name, target in legacy.items()
                               if self.repo.ref_target(run_ref(name)) is None}, "flexgit: migrate to format 2")
        moved = {legacy_run_ref(name): target for name, target in legacy.items()
                 if self.repo.ref_target(run_ref(name)) == target}
        kept += [name for name in legacy if legacy_run_ref(name) not in moved]
        self.repo.delete_refs(moved, "flexgit: migrate to format 2")
        self.repo.set_config(FORMAT_CONFIG, str(FORMAT_VERSION))
        return len(moved), sorted(kept)

    def ensure_format(self) -> None:
        """Migrate once, if the repository's refs are still in an older format."""
        with self.repo.writer_lock():
            self._ensure_format_locked()

    def _ensure_format_locked(self) -> None:
        if self.repo.config_value(FORMAT_CONFIG) != str(FORMAT_VERSION):
            self._migrate_locked()

    def _prepare_write(self) -> None:
        """Before a write (under the writer lock): bring format 1 names over once, finish a half-done write."""
        self._ensure_format_locked()
        self._complete_last_write()

    def _ensure_branch(self, branch: BranchRef) -> str:
        tip = self.branch_tip(branch)
        if tip is not None:
            return tip
        message = commit_message(f"flexgit experiments branch '{branch.name}'", [(TRAILER_KIND, KIND_ROOT)])
        root = self.repo.create_commit(self.repo.update_tree(None, {}), [], message)
        try:
            self.repo.create_branch_ref(branch.ref, root, "flexgit: create experiments branch")
        except RefMoved:
            return self.branch_tip(branch) or root
        return root

    # -- writing ----------------------------------------------------------------------

    def write(self, runs: Sequence[Run], code_trees: Sequence[str | None], branch: BranchRef,
              extra_files: Sequence[Mapping[str, str]] = ()) -> list[Run]:
        """Record `runs` (each with its code snapshot tree, or None) on `branch`: all land or none.

        A run whose name is empty gets a generated one. `extra_files` gives, per run, more
        blobs for its `.flexgit/` directory (path inside it -> blob id).
        """
        named = [run.name for run in runs if run.name]
        if len(set(named)) != len(named):
            raise InputError("two runs in one batch have the same name; give each run its own name")
        for run in runs:  # checked by every caller already; a run message is never cut, whoever forgets
            check_run(run)
        with self.repo.writer_lock():
            self._prepare_write()
            for _ in range(MAX_ATTEMPTS):
                self._complete_last_write()
                final = self._assign_names(runs, branch)
                tip = self._ensure_branch(branch)
                notes_tip = self.repo.ref_target(NOTES_REF)
                with self.repo.packed_writes() if len(runs) >= PACK_FROM else contextlib.nullcontext():
                    written = self._write_commits(final, code_trees, tip, extra_files)
                    notes_commit = self._write_notes(notes_tip, written, branch)
                self._write_journal(notes_commit, branch, tip, written)
                crash_point("journal")
                try:
                    self.repo.set_ref(NOTES_REF, notes_commit, notes_tip, "flexgit: record")
                except RefMoved:
                    self._journal_path().unlink(missing_ok=True)
                    continue  # another writer (plain git) moved the notes; rebuild on the new tip
                crash_point("notes")
                self._complete_last_write()
                return written
        raise ConcurrencyError("the experiments refs kept moving while recording; nothing was written, try again")

    def _assign_names(self, runs: Sequence[Run], branch: BranchRef) -> list[Run]:
        taken = {run.name for run in runs if run.name}
        in_use = self.names_in_use() if len(runs) >= PACK_FROM else None
        final = []
        for run in runs:
            name = run.name
            if name:
                self.check_name_free(name, in_use=in_use)
            else:
                name = self._new_name(taken, in_use)
                taken.add(name)
            final.append(replace(run, name=name, branch=branch.name))
        return final

    def names_in_use(self) -> set[str]:
        """Every name a run ref holds now (format 2's and format 1's), read in one pass: what checking
        many names at once asks (an import of 100,000 rows looked a ref up a million times: 8 s)."""
        return {ref[len(prefix):] for ref in self.repo.ref_names_under(RUN_PREFIX, LEGACY_RUN_PREFIX)
                for prefix in (RUN_PREFIX, LEGACY_RUN_PREFIX) if ref.startswith(prefix)}

    def _name_taken(self, name: str, in_use: Container[str] | None) -> bool:
        return name in in_use if in_use is not None else self.name_target(name) is not None

    def check_name_free(self, name: str, advice: str = "pick another name with --name",
                        in_use: Container[str] | None = None) -> None:
        """Refuse a name that is invalid or already taken by a run; `advice` ends the clash message
        (each command has its own way to another name). `in_use`: `names_in_use()` read already."""
        if not is_valid_run_name(name):
            raise InputError(bad_name_message(name))
        if self._name_taken(name, in_use):
            raise RunExistsError(f"a run named '{name}' already exists; {advice}")

    def free_name(self, base: str, avoid: Container[str] = (), in_use: Container[str] | None = None) -> str:
        """`base` if no run has it (and it is not in `avoid`), else the first free `base-2`, `base-3`, ..."""
        if not is_valid_run_name(base):
            raise InputError(bad_name_message(base))
        candidates = itertools.chain([base], (f"{base}-{n}" for n in itertools.count(2)))
        return next(name for name in candidates if name not in avoid and not self._name_taken(name, in_use))

    def _new_name(self, taken: set[str], in_use: Container[str] | None = None) -> str:
        while True:
            import secrets  # here: a named run does not pay for the module

            name = "run-" + secrets.token_hex(3)
            if name not in taken and not self._name_taken(name, in_use):
                return name

    def _write_commits(self, runs: Sequence[Run], code_trees: Sequence[str | None], parent: str,
                       extra_files: Sequence[Mapping[str, str]]) -> list[Run]:
        written = []
        for i, (run, code_tree) in enumerate(zip(runs, code_trees, strict=True)):
            files = {path: self.repo.write_blob(data) for path, data in run.flexgit_files().items()}
            if i < len(extra_files):
                files.update(extra_files[i])
            flexgit_tree = self.repo.update_tree(None, files)
            tree = self.repo.update_tree(code_tree, {FLEXGIT_DIR: flexgit_tree})
            parent = self.repo.create_commit(tree, [parent], run.commit_message())
            written.append(run.with_id(parent))
        return written

    def _write_notes(self, notes_tip: str | None, runs: Sequence[Run], branch: BranchRef) -> str:
        notes_tree = self.repo.commit(notes_tip)[0] if notes_tip else None
        changes = {note_path(run.id): self.repo.write_blob(run.to_note_line()) for run in runs}
        tree = self.repo.update_tree(notes_tree, changes)
        subject = f"run {runs[0].name}" if len(runs) == 1 else f"{len(runs)} runs"
        message = commit_message(f"flexgit: record {subject}", [
            (TRAILER_TIP, runs[-1].id), (TRAILER_BRANCH, branch.ref), (TRAILER_RUNS, str(len(runs)))])
        return self.repo.create_commit(tree, [notes_tip] if notes_tip else [], message)

    def rename(self, run: Run, new_name: str, advice: str = "pick another new name") -> None:
        """Give `run` the name `new_name`: a line in its note, the new name ref, then the old one goes;
        a single other run whose note has the old name (a clash with another clone) gets it."""
        with self.repo.writer_lock():
            self._prepare_write()
            self.check_name_free(new_name, advice)
            self._append_locked([(run, update_line(name=new_name))])
            self.repo.set_ref(run_ref(new_name), run.id, None, f"flexgit: rename {run.name}")
            for old_ref in (run_ref(run.name), legacy_run_ref(run.name)):
                if self.repo.ref_target(old_ref) == run.id:
                    self.repo.remove_ref(old_ref, run.id)
            others = [other.id for other in self.runs(removed=None) if other.name == run.name and other.id != run.id]
            if len(others) == 1 and self.name_target(run.name) is None:
                self.repo.set_ref(run_ref(run.name), others[0], None, f"flexgit: rename {run.name}")

    def append(self, run: Run, line: bytes) -> None:
        """Add a line to the note of recorded `run` (values added after the fact); compare-and-swap."""
        self.append_many([(run, line)])

    def append_many(self, lines: Sequence[tuple[Run, bytes]]) -> None:
        """Add one line to the note of each run (`flexgit tag`, `rm`), all in one notes commit."""
        with self.repo.writer_lock():
            self._prepare_write()
            self._append_locked(lines)

    def _append_locked(self, lines: Sequence[tuple[Run, bytes]]) -> None:
        for _ in range(MAX_ATTEMPTS):
            self._complete_last_write()
            notes_tip = self.repo.ref_target(NOTES_REF)
            tree = self.repo.commit(notes_tip)[0]
            changes: dict[str, str | None] = {}
            for run, line in lines:
                where = next((p for p in note_paths(run.id) if self.repo.tree_entry(tree, p)), None)
                if where is None:
                    raise UnknownRunError(f"run '{run.name}' has no note; it cannot be updated")
                data = self.repo.read_blob(self.repo.tree_entry(tree, where)).rstrip(b"\n") + b"\n" + line
                changes.update({where: None, note_path(run.id): self.repo.write_blob(data)})
            names = [run.name for run, _ in lines]
            subject = f"run {names[0]}" if len(names) == 1 else f"{len(names)} runs"
            message = commit_message(f"flexgit: update {subject}", [(TRAILER_NAME, name) for name in names[:1]])
            commit = self.repo.create_commit(self.repo.update_tree(tree, changes), [notes_tip], message)
            try:
                self.repo.set_ref(NOTES_REF, commit, notes_tip, "flexgit: update")
                return
            except RefMoved:
                continue
        raise ConcurrencyError("the notes kept moving while updating; nothing was written, try again")

    def joined_notes_tree(self, ours: str, theirs: str) -> str:
        """A notes tree with every note of both: a run noted differently on each side gets the
        sorted union of both notes' lines (git's cat_sort_uniq); a note one side lacks is kept.

        Built on `theirs` from what differs between the two trees, so the cost follows the
        difference, not the number of runs.
        """
        git = self.repo
        added, removed = git.changed_blobs(ours, theirs)
        theirs_changed = {path.replace("/", ""): (path, blob) for path, blob in added}
        changes: dict[str, str | None] = {}
        for path in removed:  # notes theirs lacks (deleted there, or never had)
            commit = path.replace("/", "")
            if commit not in theirs_changed:
                changes[note_path(commit)] = git.tree_entry(ours, path)
        for commit, (path, blob) in theirs_changed.items():
            ours_blob = next((b for b in (git.tree_entry(ours, q) for q in note_paths(commit)) if b), None)
            if ours_blob is None or ours_blob == blob:
                continue
            mine, their_lines = set(git.read_blob(ours_blob).splitlines()), set(git.read_blob(blob).splitlines())
            if mine <= their_lines:
                continue
            changes[path] = None
            changes[note_path(commit)] = git.write_blob(b"\n".join(sorted(line for line in mine | their_lines
                                                                         if line)) + b"\n")
        return git.update_tree(theirs, changes)

    def _journal_path(self):
        return self.repo.flexgit_dir() / JOURNAL

    def _write_journal(self, notes_commit: str, branch: BranchRef, base: str, runs: Sequence[Run]) -> None:
        journal = {"notes": notes_commit, "branch": branch.ref, "base": base, "tip": runs[-1].id,
                   "runs": [[run.id, run.name] for run in runs]}
        write_atomic(self._journal_path(), json.dumps(journal).encode(), durable=True)

    def _read_journal(self) -> dict | None:
        """The journal of a write that was under way, if any (None also for a torn or foreign file)."""
        try:
            journal = json.loads(self._journal_path().read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}
        if isinstance(journal, dict) and "pull" in journal:
            return journal if journal["pull"] is None or isinstance(journal["pull"], str) else {}
        ok = isinstance(journal, dict) and all(isinstance(journal.get(k), str) for k in ("notes", "branch", "base",
                                                                                              "tip"))
        runs = journal.get("runs") if ok else None
        if not isinstance(runs, list) or not all(isinstance(r, list) and len(r) == 2 for r in runs):
            return {}
        return journal

    def _interrupted_runs(self) -> list[tuple[str, str]]:
        """(commit, name) of each run of a write that landed (its notes commit is in the notes' history)
        but was interrupted before its branch and names moved; [] when there is none."""
        journal = self._read_journal()
        if not journal or "pull" in journal:
            return []
        notes_tip = self.repo.ref_target(NOTES_REF)
        landed = notes_tip is not None and self.repo.is_commit(journal["notes"]) and (
            notes_tip == journal["notes"] or self.repo.is_ancestor(journal["notes"], notes_tip))
        return [(commit, name) for commit, name in journal["runs"]] if landed else []

    def _onto_branch(self, branch: str, base: str, tip: str) -> None:
        """Put the run commits ending at `tip` (written on `base`) on `branch`: a fast-forward while
        the branch is still at `base`, else (it moved on, say a pull came in between) a merge."""
        current = self.repo.ref_target(branch)
        try:
            if current == base:
                self.repo.set_ref(branch, tip, base, "flexgit: record")
            elif current is not None and not self.repo.is_ancestor(tip, current):
                message = commit_message("flexgit: join an interrupted write", [(TRAILER_KIND, KIND_MERGE)])
                merge = self.repo.create_commit(self.repo.commit(current)[0], [current, tip], message)
                self.repo.set_ref(branch, merge, current, "flexgit: record")
        except RefMoved:
            pass  # moved by someone else in between; the notes keep the runs, the next write tries again

    def join_onto_branch(self, branch: BranchRef, tip: str) -> None:
        """Join run commit `tip`, which its branch lost (an orphaned write), onto `branch` with a
        merge commit (under the writer lock); the branch must be flexgit's."""
        if self.branch_tip(branch) is not None:
            self._onto_branch(branch.ref, "", tip)

    def has_journal(self) -> bool:
        """Is a write journal left (a write was interrupted, or its journal not yet removed)?"""
        return self._read_journal() is not None

    def note_rows(self, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(commit, row) of every note, read afresh (no cache); each skipped line described in `problems`."""
        notes_tip = self.repo.ref_target(NOTES_REF)
        if notes_tip is None:
            return []
        blobs = list(self.repo.walk_blobs(self.repo.commit(notes_tip)[0]))
        rows = []
        for start in range(0, len(blobs), READ_CHUNK):
            part = blobs[start:start + READ_CHUNK]
            notes = zip([path.replace("/", "") for path, _ in part], self.repo.read_blobs([b for _, b in part]),
                        strict=True)
            rows += rows_from_notes(notes, problems)
        return rows

    def complete_interrupted_write(self) -> None:
        """Finish a write a killed process left half done (under the writer lock)."""
        self._complete_last_write()

    def begin_pull(self) -> str | None:
        """Journal a pull (under the writer lock): if it is killed after the notes moved, the next
        write still names the runs they brought. Returns the notes tip before the pull."""
        notes_tip = self.repo.ref_target(NOTES_REF)
        write_atomic(self._journal_path(), json.dumps({"pull": notes_tip}).encode(), durable=True)
        return notes_tip

    def end_pull(self) -> None:
        self._journal_path().unlink(missing_ok=True)

    def adopt_names(self, sources: Sequence[Mapping[str, str]], log_message: str) -> tuple[list[str], list[str]]:
        """Name here the runs that `sources` (name -> commit) name and that have no name here yet:
        (names taken here by other runs, names refused).

        A name flexgit would not write, or one that does not point at a commit here, is refused:
        it never becomes a ref here.
        """
        conflicts, refused, new = set(), set(), {}
        for listed in sources:
            for name, target in listed.items():
                if not is_known_run_name(name) or not self.repo.is_commit(target):
                    refused.add(name)
                    continue
                local = new.get(name) or self.name_target(name)
                if local is None:
                    new[name] = target
                elif local != target:
                    conflicts.add(name)
        self.repo.create_refs({run_ref(name): target for name, target in new.items()}, log_message)
        return sorted(conflicts), sorted(refused)

    def land_rewrite(self, notes_tip: str | None, notes_commit: str, branch: str, old_tip: str | None,
                     new_tip: str | None, names: Mapping[str, Sequence[str | None]]) -> None:
        """Land a rewrite of the branch (under the writer lock), all or nothing: journal the moves, move
        the notes by compare-and-swap (the commit point), then the branch and the names (ref -> [old, new
        or None to delete]). A killed rewrite is finished by the next write when its notes landed."""
        path = self.repo.flexgit_dir() / REWRITE_JOURNAL
        journal = {"notes": notes_commit, "branch": branch, "old": old_tip, "new": new_tip, "names": names}
        write_atomic(path, json.dumps(journal).encode(), durable=True)
        crash_point("rewrite-journal")
        try:
            self.repo.set_ref(NOTES_REF, notes_commit, notes_tip, "flexgit: gc")
        except RefMoved:
            path.unlink(missing_ok=True)
            raise ConcurrencyError("the notes moved while the branch was rewritten; nothing changed, "
                                   "try again") from None
        crash_point("rewrite-notes")
        self._finish_rewrite()

    def _finish_rewrite(self) -> None:
        """Move the branch and names of a rewrite whose notes landed; then drop its journal."""
        path = self.repo.flexgit_dir(create=False) / REWRITE_JOURNAL
        try:
            journal = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            journal = {}
        notes_tip = self.repo.ref_target(NOTES_REF)
        notes = journal.get("notes") if isinstance(journal, dict) else None
        if isinstance(notes, str) and notes_tip and self.repo.is_commit(notes) and \
                self.repo.is_ancestor(notes, notes_tip):
            moves = {journal["branch"]: [journal["old"], journal["new"]], **journal["names"]}
            for ref, (old, new) in moves.items():
                if old is None or old == new or self.repo.ref_target(ref) != old:
                    continue  # done already, or moved by someone else meanwhile: theirs stays
                with contextlib.suppress(RefMoved):
                    if new is None:
                        self.repo.remove_ref(ref, old)
                    else:
                        self.repo.set_ref(ref, new, old, "flexgit: gc")
        path.unlink(missing_ok=True)

    def _complete_last_write(self) -> None:
        """Finish the write the journal describes, where it landed; then drop the journal."""
        self._finish_rewrite()
        journal = self._read_journal()
        if journal is None:
            return  # the common case: nothing was interrupted
        if "pull" in journal:  # a pull killed after its notes moved: name what they brought
            self.adopt_names([self.names_noted_since(journal["pull"])], "flexgit: pull")
            self._journal_path().unlink(missing_ok=True)
            return
        runs = self._interrupted_runs()
        if runs and journal["branch"].startswith("refs/heads/"):
            self._onto_branch(journal["branch"], journal["base"], journal["tip"])
        crash_point("branch")
        names: dict[str, str] = {}
        in_use = self.names_in_use() if len(runs) >= PACK_FROM else None
        for commit, name in runs:  # oldest first: the first run of a name gets it
            if is_known_run_name(name) and run_ref(name) not in names and not self._name_taken(name, in_use):
                names[run_ref(name)] = commit
        if len(names) >= PACK_FROM:  # an import: one packed-refs update (a name created meanwhile stays)
            self.repo.create_refs(names, "flexgit: record")
            names = {}
        for ref, commit in names.items():
            try:
                self.repo.set_ref(ref, commit, None, "flexgit: record")
            except RefMoved:
                pass
        self._journal_path().unlink(missing_ok=True)

    # -- reading ----------------------------------------------------------------------

    def runs(self, branch: BranchRef | None = None, removed: bool | None = False) -> list[Run]:
        """Every recorded run (of `branch`, if given), oldest first: those not removed (`flexgit rm`),
        only the removed ones (`removed=True`) or all (`None`)."""
        return [runcache.run_of(entry) for entry in self._entries(branch, removed=removed)]

    def run_from(self, branch: BranchRef, commits: Iterable[str]) -> Run | None:
        """The newest run of `branch` recorded from the first of `commits` (the user's commits) that has
        one; None when none has. Only the runs' sources are unpacked, not whole runs."""
        by_source = {}
        for entry in self._entries(branch):  # oldest first: the newest run of a source wins
            source = runcache.meta_of(entry).get("source")
            if source:
                by_source[str(source)] = entry
        if not by_source:
            return None
        return next((runcache.run_of(by_source[commit]) for commit in commits if commit in by_source), None)

    def rows(self, branch: BranchRef | None = None, with_meta: bool = False,
             notes_tree: str | None = None, removed: bool | None = False) -> list[dict[str, Any]]:
        """Table rows of every run (of `branch`), oldest first; `meta.*` columns only when asked;
        `removed` as in `runs`.

        `notes_tree` reads another notes tree than the local one (the local joined with a remote's).
        """
        entries = self._entries(branch, notes_tree, removed)
        if not with_meta:
            return [entry[runcache.ROW] for entry in entries]
        return [{**entry[runcache.ROW], **{"meta." + k: v for k, v in runcache.meta_of(entry).items()}}
                for entry in entries]

    def _entries(self, branch: BranchRef | None, notes_tree: str | None = None,
                 removed: bool | None = False) -> list[runcache.Entry]:
        entries = self._all_entries(notes_tree)
        if removed is not None and any(map(itemgetter(runcache.REMOVED), entries)):  # the hot path: none removed
            entries = [entry for entry in entries if entry[runcache.REMOVED] == removed]
        elif removed:
            return []
        if branch is None or all(entry[runcache.BRANCH] == branch.name for entry in entries):
            return entries
        return [entry for entry in entries if entry[runcache.BRANCH] == branch.name]

    def forget_runs(self) -> None:
        """Drop the runs this store read (rows handed out stay): a table of 100,000 runs is rendered
        without their meta and notes held too (40 MB)."""
        self._loaded = None

    def notes_tree(self) -> str | None:
        """The tree of the notes tip (None when there are no notes)."""
        notes_tip = self.repo.ref_target(NOTES_REF)
        return self.repo.commit(notes_tip)[0] if notes_tip else None

    def newest(self, notes_tree: str | None = None) -> list[str]:
        """[time, name] of the newest run in the notes (all branches, removed ones too), [] when none:
        the order a run added later must follow to come last in every table."""
        entries = self._all_entries(notes_tree)
        return list(runcache.order(entries[-1])) if entries else []

    def notes_added(self, old_tree: str, new_tree: str) -> list[runcache.Entry] | None:
        """The entries of the runs whose notes `new_tree` adds to notes tree `old_tree`, oldest first;
        None when it also changes or removes a note (or `old_tree` is gone): only a full read then
        says what a table holds. The cost follows the change."""
        if not self.repo.is_tree(old_tree):
            return None
        changed, removed = self.repo.changed_blobs(old_tree, new_tree)
        ids = [path.replace("/", "") for path, _ in changed]
        if removed or any(self.repo.tree_entry(old_tree, p) for commit in ids for p in note_paths(commit)):
            return None
        notes = zip(ids, self.repo.read_blobs([blob for _, blob in changed]), strict=True)
        added = [runcache.entry_of(commit_id, row) for commit_id, row in rows_from_notes(notes)]
        added.sort(key=runcache.order)
        return added

    def _all_entries(self, tree: str | None = None) -> list[runcache.Entry]:
        """All runs in the notes; only notes changed since the cached tree are read and parsed."""
        if tree is None:
            tree = self.notes_tree()
            if tree is None:
                return []
        if self._loaded is not None and self._loaded[0] == tree:
            return self._loaded[1]  # this store read them already (they depend on the tree alone)
        cache_path = self.repo.flexgit_dir(create=False) / RUN_CACHE
        cached = runcache.load(cache_path)
        if cached is not None and cached[0] == tree:
            self._loaded = cached
            return cached[1]
        if cached is None or not self.repo.is_tree(cached[0]):  # cold: every note is read
            entries = runcache.save_as_read(cache_path, tree, self._read_entries(tree))
        else:
            changed, removed = self.repo.changed_blobs(cached[0], tree)
            dropped = {path.replace("/", "") for path in removed} | {path.replace("/", "") for path, _ in changed}
            entries = [entry for entry in cached[1] if entry[runcache.ID] not in dropped]
            new = self._entries_of(zip([path for path, _ in changed],
                                       self.repo.stream_blobs([blob for _, blob in changed]), strict=True))
            runcache.add_entries(entries, new)
            runcache.save(cache_path, tree, entries)
        self._loaded = (tree, entries)
        return entries

    def _read_entries(self, tree: str) -> list[runcache.Entry]:
        """The entries of every note in `tree`, in the order read: git lists and reads a large tree
        (`tree_contents`), else this process walks it."""
        if self.repo.blobs_below(tree) >= CAT_FILE_FROM:
            try:
                return self._entries_of(self.repo.tree_contents(tree))
            except (LookupError, FileNotFoundError):
                pass  # git could not list it so, or is not installed: walked here, what was read is dropped
        changed = list(self.repo.walk_blobs(tree))
        self.repo.release_files()  # the notes are read by git (stream_blobs), not from these pages
        return self._entries_of(zip([path for path, _ in changed],
                                    self.repo.stream_blobs([blob for _, blob in changed]), strict=True))

    @staticmethod
    def _entries_of(contents: Iterable[tuple[str, bytes]]) -> list[runcache.Entry]:
        """The entries of notes given as (path, content), parsed in chunks: a cold read of 100,000 notes
        never holds them all as bytes at once."""
        contents = iter(contents)
        entries: list[runcache.Entry] = []
        with collector_paused():
            while part := list(itertools.islice(contents, READ_CHUNK)):
                entries += [runcache.entry_of(commit_id, row) for commit_id, row in rows_from_notes(
                    (path.replace("/", ""), data) for path, data in part)]
        return entries

    def find(self, name_or_id: str) -> Run:
        """The run with this name (or commit id prefix)."""
        commit = None
        if is_known_run_name(name_or_id):
            commit = self.name_target(name_or_id) or self._untagged(name_or_id)
        if commit is None and len(name_or_id) >= 4 and all(c in "0123456789abcdef" for c in name_or_id.lower()):
            commit = self.repo.expand_commit_prefix(name_or_id.lower())
        note = self.note_of(commit) if commit and self.repo.is_commit(commit) else None  # a note on a blob is no run
        run = Run.from_note(commit, note) if note else None
        if run is None:
            raise UnknownRunError(f"no run named {name_or_id!r}; list the recorded runs with 'flexgit table'")
        return run

    def names_noted_since(self, notes_tip: str | None) -> dict[str, str]:
        """name -> commit of every run whose note is new or changed since notes commit `notes_tip`
        (all of them when None); the cost follows the change."""
        now = self.repo.ref_target(NOTES_REF)
        if now is None or now == notes_tip:
            return {}
        new_tree = self.repo.commit(now)[0]
        if notes_tip is None:
            changed = list(self.repo.walk_blobs(new_tree))
        else:
            changed, _ = self.repo.changed_blobs(self.repo.commit(notes_tip)[0], new_tree)
        names = {}
        for start in range(0, len(changed), READ_CHUNK):
            part = changed[start:start + READ_CHUNK]
            notes = zip([path.replace("/", "") for path, _ in part], self.repo.read_blobs([b for _, b in part]),
                        strict=True)
            names.update({str(row["name"]): commit for commit, row in rows_from_notes(notes)})
        return names

    def name_target(self, name: str) -> str | None:
        """The commit run name `name` points at (format 2's ref, else format 1's tag), or None."""
        return self.repo.ref_target(run_ref(name)) or self.repo.ref_target(legacy_run_ref(name))

    def new_runs(self, old_tips: Sequence[str | None], new_tip: str | None) -> int:
        """How many run commits `new_tip` holds that none of `old_tips` does (cost: the new commits only)."""
        if new_tip is None:
            return 0
        commits = self.repo.commits_between(new_tip, [tip for tip in old_tips if tip])
        return sum(trailers(message).get(TRAILER_KIND) == KIND_RUN for _, message in commits)

    def runs_holding_secrets(self, tip: str, hidden: Sequence[str]) -> list[str]:
        """Names of the runs reachable from `tip` and from none of `hidden` whose snapshot holds files
        that look like secrets (their meta's `secrets_tracked`)."""
        found = []
        for commit, message in self.repo.commits_between(tip, [h for h in hidden if self.repo.is_commit(h)]):
            if trailers(message).get(TRAILER_KIND) != KIND_RUN:
                continue
            note = self.note_of(commit)
            run = Run.from_note(commit, note) if note else None
            if run is not None and run.meta.get("secrets_tracked"):
                found.append(run.name)
        return found

    def _untagged(self, name: str) -> str | None:
        """A run of a write (or pull) interrupted before its name: it is recorded, so it can be found."""
        journal = self._read_journal()
        if journal and "pull" in journal:
            return self.names_noted_since(journal["pull"]).get(name)
        return next((commit for commit, found in self._interrupted_runs() if found == name), None)

    def note_of(self, commit: str) -> bytes | None:
        """The raw note on `commit`, at whatever fan-out git or flexgit stored it."""
        notes_tip = self.repo.ref_target(NOTES_REF)
        if notes_tip is None:
            return None
        tree = self.repo.commit(notes_tip)[0]
        for path in note_paths(commit):
            blob = self.repo.tree_entry(tree, path)
            if blob is not None:
                return self.repo.read_blob(blob)
        return None

    def recorded_here(self, run: Run) -> bool:
        """Did a write of this clone put `run` on its branch? Read from the branch's reflog, which
        git never transfers: a pulled run, whatever its note or meta says, never passes."""
        moves = [(old, new) for old, new, message in self.repo.reflog(BranchRef(run.branch).ref)
                 if message == "flexgit: record"]
        if any(new == run.id for _, new in moves):
            return True  # the common case: a write of one run, or the last of a batch
        return any(self.repo.is_commit(new) and self.repo.is_ancestor(run.id, new) and
                   not (self.repo.is_commit(old) and self.repo.is_ancestor(run.id, old)) for old, new in moves)

    def code_tree(self, run: Run) -> str:
        """The tree of the code snapshot of `run` (its commit's tree without `.flexgit/`)."""
        return self.repo.update_tree(self.repo.commit(run.id)[0], {FLEXGIT_DIR: None})


def crash_point(step: str) -> None:
    """Kill this process at write step `step` when FLEXGIT_CRASH_AT names it: how the tests
    interrupt a write at each step, exactly (journal, notes, branch; pull-branch, pull-notes)."""
    if os.environ.get(CRASH_ENV) == step:
        import signal  # only where a test asks for a crash

        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a block builds many objects that hold no cycles (the rows of
    100,000 notes: its passes over them found nothing to free and took a tenth of a cold table)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def note_path(commit: str) -> str:
    """Where flexgit writes the note on `commit`."""
    return commit[:FANOUT] + "/" + commit[FANOUT:]


def note_paths(commit: str) -> Iterable[str]:
    """Every place a note on `commit` may be stored (git changes the fan-out as notes grow)."""
    yield note_path(commit)
    yield commit
    yield commit[:2] + "/" + commit[2:4] + "/" + commit[4:]


def bad_name_message(name: str) -> str:
    return (f"{name!r} cannot be a run name: use letters, digits and . _ - + = % @ "
            "(no spaces, no ',' or '..', not starting with '-', '.' or '+', not HEAD, '@' or a full commit id)")
