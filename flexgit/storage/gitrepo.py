"""The one place that talks to git (through pygit2): trees, commits, refs, the working tree.

Everything above this module speaks in hex object ids and ref names; libgit2 errors
become flexgit errors here.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
import socket
import shutil
import stat
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple

import pygit2
from pygit2.enums import (CheckoutStrategy, ConfigLevel, DiffFind, FileMode, FileStatus, ObjectType,
                          RepositoryOpenFlag, RepositoryState, SortMode)

from ..errors import BareRepositoryError, ConcurrencyError, FlexgitError, NotARepositoryError, WriteError
from ..project.values import one_line
from .gitcommand import GitCommand, RefMoved, last_lines
from .gitenv import config_folders

TREE = "tree"
BLOB = "blob"
_FILE_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)  # regular files: not links, not submodules

FILTER_BATCH = 500  # files per `git hash-object` that runs clean filters
CAT_FILE_FROM = 2000  # blobs read at once from which `git cat-file` reads them (its start-up: ~3 ms)
# `git gc` removes an objects/xx folder it emptied while libgit2 is between writing an object's
# temporary file and renaming it there, and holds ref locks while it packs refs: such races pass
# within a moment, so writes are retried a bounded number of times before they are reported.
OBJECT_WRITE_ATTEMPTS = 8
PACK_BYTES = 16 << 20  # object data `packed_writes` holds before it writes a pack
TREE_CACHE_LIMIT = 4096  # libgit2's own limit on the size of a tree it caches
TREE_BYTES_KEPT = 16 << 20  # of trees read for comparisons (a notes subtree at 100,000 runs: 25 KB)
REF_LOCK_ATTEMPTS = 200


class Snapshot(NamedTuple):
    """A tree of the working tree, and where it differs from what the working tree holds."""

    tree: str
    left_out: list[str]  # changed or untracked files `keep` refused, and repositories inside the tree
    nested: list[str]    # those repositories, as `path@commit` (`path` when it has no commit)
    sparse: list[str]    # files outside a sparse checkout: the tree has their committed version


class FileChange(NamedTuple):
    """One file that differs between two trees, as `git diff --stat` and `git diff` show it."""

    status: str    # A added, D deleted, M modified, R renamed, T type changed, C copied
    path: str      # where the file is now (where it was, for a deleted file)
    old_path: str  # where it was (the same as `path` unless renamed)
    added: int     # lines added
    deleted: int   # lines deleted
    binary: bool
    patch: str     # the unified diff of this file (git's `diff --git` text), "" unless asked for


class GitRepo(GitCommand):
    """A git repository, seen through the small vocabulary flexgit needs."""

    def __init__(self, repo: pygit2.Repository):
        self._repo = repo
        self._trees: dict[str, bytes] = {}  # trees' stored bytes read lately (see `_tree_bytes`)
        self._trees_size = 0

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> "GitRepo":
        """Open the repository containing `path` (default: the current directory)."""
        start = os.fspath(path) if path is not None else os.getcwd()
        if not os.path.exists(start):
            raise NotARepositoryError(f"'{start}' does not exist; run flexgit inside a git repository")
        _read_config_as_git_does()
        found = pygit2.discover_repository(start)
        if found is None:
            raise NotARepositoryError(
                f"'{start}' is not inside a git repository; run 'git init' first or cd into one"
            )
        try:
            return cls(pygit2.Repository(found))
        except pygit2.GitError as exc:
            hint = "; if you trust it, add it as git says: git config --global --add safe.directory PATH" \
                if "not owned by current user" in str(exc) else ""
            raise NotARepositoryError(f"cannot open the git repository at '{found}': {exc}{hint}") from None

    # -- where things are ---------------------------------------------------------------

    @property
    def is_bare(self) -> bool:
        return self._repo.is_bare

    @property
    def workdir(self) -> Path:
        """The working tree's top directory; refused in a bare repository."""
        if self._repo.is_bare or not self._repo.workdir:
            raise BareRepositoryError(
                "this is a bare repository, with no working tree to snapshot; run this in a clone"
            )
        return Path(self._repo.workdir)

    def require_worktree(self) -> None:
        """Refuse a bare repository, for operations that need a working tree."""
        self.workdir  # noqa: B018 - the property raises BareRepositoryError

    @property
    def common_dir(self) -> Path:
        """The git directory shared by all worktrees (where refs and objects live)."""
        git_dir = Path(self._repo.path)
        pointer = git_dir / "commondir"
        if pointer.is_file():
            return (git_dir / pointer.read_text().strip()).resolve()
        return git_dir

    def flexgit_dir(self, create: bool = True) -> Path:
        """flexgit's own directory inside the git directory (locks, caches)."""
        path = self.common_dir / "flexgit.d"  # not "flexgit": `python -m flexgit` in a bare repo would import it
        if create:
            path.mkdir(exist_ok=True)
        return path

    # -- HEAD and identity --------------------------------------------------------------

    def head_commit(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commit yet."""
        if self._repo.head_is_unborn:
            return None
        try:
            return str(self._repo.head.target)
        except pygit2.GitError:
            return None

    def operation_in_progress(self) -> str | None:
        """'merge', 'rebase', 'cherry-pick', ... while git is in the middle of one, else None."""
        state = self._repo.state()
        if state == RepositoryState.NONE:
            return None
        for prefix, name in (("REBASE", "rebase"), ("CHERRYPICK", "cherry-pick"), ("REVERT", "revert"),
                             ("APPLY_MAILBOX", "am"), ("MERGE", "merge"), ("BISECT", "bisect")):
            if state.name.startswith(prefix):
                return name
        return state.name.lower()

    def head_branch(self) -> str | None:
        """The short name of the checked-out branch, or None when HEAD is detached."""
        if self._repo.head_is_detached:
            return None
        try:
            target = self._repo.references["HEAD"].target
        except (KeyError, pygit2.GitError):
            return None
        return target[len("refs/heads/"):] if isinstance(target, str) and target.startswith("refs/heads/") else None

    def identity(self) -> tuple[str, str]:
        """Name and email for commits: git's environment variables, then config, then the OS user."""
        name = os.environ.get("GIT_AUTHOR_NAME") or self.config_value("user.name")
        email = os.environ.get("GIT_AUTHOR_EMAIL") or self.config_value("user.email")
        if name and email:
            return name, email
        user = _os_user()  # only when needed: it asks the system's user database
        return name or user, email or f"{user}@{socket.gethostname() or 'localhost'}"

    def config_values(self, key: str) -> list[str]:
        """Every value of a multi-valued git config key (`git config --add`), [] when unset."""
        try:
            return [str(value) for value in self._repo.config.get_multivar(key)]
        except (KeyError, pygit2.GitError):
            return []

    def set_config(self, key: str, value: str) -> None:
        """Set a value in the repository's own git config."""
        try:
            self._repo.config[key] = value
        except (OSError, pygit2.GitError) as exc:
            raise FlexgitError(f"cannot write git config {key}: {exc}") from None

    def config_names(self) -> set[str]:
        """The name of every git config variable set for this repository (all levels), in lower case."""
        try:
            return {entry.name.lower() for entry in self._repo.config}
        except pygit2.GitError:
            return set()

    def config_value(self, key: str) -> str | None:
        """A git config value (repository, global, system), or None."""
        try:
            return self._repo.config[key]
        except (KeyError, pygit2.GitError):
            return None

    # -- objects ------------------------------------------------------------------------

    def snapshot_tree(self, keep: Callable[[str, int], bool] | None = None) -> Snapshot:
        """Write a tree of the working tree as `git add -A` would see it; the index is untouched.

        Uses the repository's own index object, changed in memory only and re-read from disk
        afterwards: git's stat cache makes unchanged files free, and nothing is written back.
        With `keep(path, size)`, changed and untracked files it refuses are left out (their
        committed version, if any, stays). Files outside a sparse checkout keep their committed
        version (they are not deletions); a git repository inside the working tree that the
        index does not track is left out.
        """
        self.require_worktree()
        index = self._repo.index
        found = Snapshot("", [], [], [])
        try:
            index.read(True)
            self._add_changes(index, keep or (lambda path, size: True), found)
            return found._replace(tree=self._stored(index.write_tree))
        except (OSError, pygit2.GitError) as exc:
            text = str(exc)  # a full disk, or the object store, not a working-tree file that cannot be read:
            if _cannot_write(exc) and (str(self.common_dir / "objects") in text or "No space" in text or
                                       "quota" in text):
                raise WriteError(cannot_store(str(exc))) from None
            raise FlexgitError(f"cannot snapshot the working tree: {one_line(str(exc))}") from None
        finally:
            with contextlib.suppress(pygit2.GitError):
                index.read(True)

    def _add_changes(self, index: pygit2.Index, keep: Callable[[str, int], bool], found: Snapshot) -> None:
        # Only what differs from the index is looked at, so files that `keep` refuses are never
        # read or hashed (a multi-gigabyte checkpoint costs a stat, not a copy into git).
        changed = FileStatus.WT_NEW | FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE
        status = self._repo.status(untracked_files="all", ignored=False)
        sparse = self._skip_worktree() if any(flags & FileStatus.WT_DELETED for flags in status.values()) else set()
        drivers, filtered = self._filter_drivers(), []
        for path, flags in status.items():
            if flags & FileStatus.WT_DELETED:
                if path in sparse:  # libgit2 knows no sparse checkout: absent by choice, not deleted
                    found.sparse.append(path)
                else:
                    index.remove(path)
            elif path.endswith("/"):  # libgit2 stops at a repository inside the tree and names its folder
                found.nested.append(self._nested_repository(path[:-1]))
                found.left_out.append(path[:-1])
            elif flags & changed:
                info = os.lstat(self.workdir / path)
                if not keep(path, info.st_size):
                    found.left_out.append(path)
                elif drivers and not stat.S_ISLNK(info.st_mode) and self._repo.get_attr(path, "filter") in drivers:
                    filtered.append(path)
                else:
                    index.add(path)
        self._add_filtered(index, filtered)

    def _filter_drivers(self) -> set[str]:
        """The filter drivers the config gives a clean command (git-lfs's `lfs`), which libgit2 never runs."""
        names = set()
        for entry in self._repo.config:
            section, _, rest = entry.name.partition(".")
            driver, _, key = rest.rpartition(".")
            if section == "filter" and driver and key in ("clean", "process") and entry.value:
                names.add(driver)
        return names

    def _add_filtered(self, index: pygit2.Index, paths: list[str]) -> None:
        """Store files through their clean filters as `git add` does (a git-lfs pointer for `filter=lfs`),
        by git's own hash-object, which runs them."""
        for start in range(0, len(paths), FILTER_BATCH):
            batch = paths[start:start + FILTER_BATCH]
            done, out = self.try_git(["hash-object", "-w", "--", *batch])
            if not done or len(out.split()) != len(batch):
                raise FlexgitError(f"the clean filter of {batch[0]} failed (git hash-object: {last_lines(out)}); "
                                   "'git add' would fail too: fix the filter (is git-lfs installed?)")
            for path, oid in zip(batch, out.split(), strict=True):
                executable = os.lstat(self.workdir / path).st_mode & 0o111
                index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=oid),
                                            FileMode.BLOB_EXECUTABLE if executable else FileMode.BLOB))

    def _skip_worktree(self) -> set[str]:
        """The paths the index marks skip-worktree (outside a sparse checkout), which libgit2 does not read."""
        try:
            done, listed = self.try_git(["ls-files", "-t", "-z"])
        except UnicodeDecodeError:
            return set()
        return {entry[2:] for entry in listed.split("\0") if entry.startswith("S ")} if done else set()

    def _nested_repository(self, path: str) -> str:
        """`path@commit`, the commit a repository inside the working tree is on (`path` when it has none)."""
        try:
            nested = pygit2.Repository(str(self.workdir / path), RepositoryOpenFlag.NO_SEARCH)
            return path if nested.head_is_unborn else f"{path}@{nested.head.target}"
        except (pygit2.GitError, KeyError, ValueError):
            return path

    def files_matching(self, tree: str, pathspecs: list[str]) -> list[str]:
        """The files of `tree` that match any of the git `pathspecs`, sorted; nothing is written.

        libgit2 matches them in C on an in-memory index of the tree, so a tree with none costs
        about a millisecond per 10,000 files; only a match is listed (by a diff).
        """
        if not pathspecs:
            return []
        index = self._repo.index
        try:
            index.read_tree(self._repo[tree])
            count = len(index)
            index.remove_all(pathspecs)
            if len(index) == count:
                return []
            return sorted(delta.old_file.path for delta in index.diff_to_tree(self._repo[tree]).deltas)
        except pygit2.GitError:
            return []
        finally:
            with contextlib.suppress(pygit2.GitError):
                index.read(True)

    @contextlib.contextmanager
    def packed_writes(self) -> Iterator[None]:
        """Objects written inside the block are kept in memory and stored as packs (`git index-pack`),
        not one loose file each: a 100,000-row import is a few files, not 700,000. A pack is written
        whenever PACK_BYTES of objects are held, and for the rest when the block ends, so memory stays
        bounded; libgit2 finds the objects of a pack written meanwhile when it looks again. Objects the
        repository already has are not written again. If the block raises, the packs written so far
        stay, unreferenced (as loose objects would; `git gc` drops them)."""
        memory = _MemoryObjects()
        batch = pygit2.Repository(self._repo.path)
        batch.odb.add_backend(memory, 1 << 30)  # above the loose and pack backends: libgit2 writes here
        original, self._repo, self._memory = self._repo, batch, memory
        self._identity = self.identity()  # one write: one author, not two config reads per commit
        # libgit2's object cache would keep what is read back of the new trees and commits: up to its
        # 256 MB at 100,000 runs, objects that are never read again.
        allowed = pygit2.settings.cached_memory[1]
        pygit2.settings.cache_max_size(0)
        try:
            yield
        finally:
            self._repo, self._memory, self._identity = original, None, None
            pygit2.settings.cache_max_size(allowed)
        if memory.objects:
            self._store_pack(memory.objects)

    @contextlib.contextmanager
    def trees_cached(self) -> Iterator[None]:
        """libgit2 keeps trees up to 1 MB in its object cache inside the block (4 KB outside, its
        default): a pull reads the same notes subtrees (25 KB each at 100,000 runs) three times."""
        pygit2.settings.cache_object_limit(ObjectType.TREE, 1 << 20)
        try:
            yield
        finally:
            pygit2.settings.cache_object_limit(ObjectType.TREE, TREE_CACHE_LIMIT)

    _memory: "_MemoryObjects | None" = None  # where `packed_writes` keeps objects, while it does
    _identity: tuple[str, str] | None = None  # ... and the author of its commits


    def write_blob(self, data: bytes) -> str:
        return self._stored(lambda: self._repo.create_blob(data))

    def write_blob_from_file(self, path: Path) -> str:
        """Store a file's bytes as a blob (read from disk by libgit2, not through Python)."""
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise FlexgitError(f"cannot read '{path}': {exc.strerror}") from None
        return self._stored(lambda: self._repo.create_blob_fromdisk(str(path)))

    def _stored(self, write: Callable[[], object]) -> str:
        """Run an object write and return the object's id, once the object is really in the
        object database (on a full disk libgit2 may return an id it did not store). A race with
        `git gc` is retried; what lasts (full disk, read-only objects) is one WriteError."""
        for attempt in range(OBJECT_WRITE_ATTEMPTS):
            try:
                oid = str(write())
            except (OSError, pygit2.GitError) as exc:
                if attempt + 1 == OBJECT_WRITE_ATTEMPTS or "No such file or directory" not in str(exc):
                    raise WriteError(cannot_store(str(exc))) from None
                time.sleep(0.005 * 2 ** attempt)
                continue
            if not self.has_object(oid):
                raise WriteError(cannot_store(f"object {oid[:10]} was not stored"))
            if self._memory is not None and self._memory.size >= PACK_BYTES:
                self._store_pack(self._memory.objects)  # a pack now: memory stays bounded
                self._memory.clear()
            return oid
        raise AssertionError("unreachable")  # pragma: no cover

    def read_blob(self, oid: str) -> bytes:
        return self._repo[oid].data

    def hash_file(self, path: Path) -> str:
        """The blob id a file's bytes would have (nothing is written)."""
        return str(pygit2.hashfile(str(path)))

    def blob_size(self, oid: str) -> int:
        """The size of a blob, read from its header (a large blob is not loaded)."""
        return self._repo.odb.read_header(oid)[1]

    def read_blobs(self, oids: list[str]) -> list[bytes]:
        """The contents of many blobs (straight from the object database, no object wrappers)."""
        read = self._repo.odb.read
        return [read(oid)[1] for oid in oids]

    def stream_blobs(self, oids: list[str]) -> Iterator[bytes]:
        """The contents of many blobs, in order: by `git cat-file` when there are many (see
        `cat_blobs`), else (or without git) straight from libgit2's object database."""
        if len(oids) >= CAT_FILE_FROM:
            try:
                yield from self.cat_blobs(oids)
                return
            except FileNotFoundError:
                pass  # no git command: libgit2 reads them, slower
        read = self._repo.odb.read
        for oid in oids:
            yield read(oid)[1]
    def blobs_below(self, tree: str) -> int:
        """About how many blobs `tree` holds, from its root and four of its subtrees spread out (a notes
        tree is fanned out evenly by the first digits of commit ids)."""
        read = self._repo.odb.read
        entries = _TREE_ENTRY.findall(read(tree)[1])
        trees = [oid for mode, _, oid in entries if mode == _TREE_MODE]
        sampled = trees[::max(1, len(trees) // 4)][:4]
        below = sum(len(_TREE_ENTRY.findall(read(oid.hex())[1])) for oid in sampled) / len(sampled) if trees else 0
        return len(entries) - len(trees) + round(len(trees) * below)

    def raw_objects(self, oids: Iterable[str]) -> list[bytes | None]:
        """The stored bytes of many objects (a commit's text, a tree's binary entries, a blob's content;
        see `tree_entries`), None for those this clone lacks: no object wrappers, for bulk reads."""
        read = self._repo.odb.read
        found: list[bytes | None] = []
        for oid in oids:
            try:
                found.append(read(oid)[1])
            except (KeyError, ValueError):
                found.append(None)
        return found

    def update_tree(self, base: str | None, changes: Mapping[str, str | None]) -> str:
        """A tree like `base` with `changes` applied: path -> blob/tree id, or None to remove.

        Paths may be nested (`ab/cdef`); only the trees along changed paths are rewritten,
        so the cost is independent of the number of other entries below the root.
        """
        builder = self._repo.TreeBuilder(self._repo[base]) if base else self._repo.TreeBuilder()
        nested: dict[str, dict[str, str | None]] = {}
        for path, oid in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = oid
            elif oid is None:
                if builder.get(head) is not None:
                    builder.remove(head)
            else:
                builder.insert(head, oid, self._mode_of(oid))
        for head, sub_changes in nested.items():
            existing = builder.get(head)
            sub_base = str(existing.id) if existing is not None and existing.type == ObjectType.TREE else None
            sub_tree = self.update_tree(sub_base, sub_changes)
            if len(self._repo[sub_tree]) == 0:
                if existing is not None:
                    builder.remove(head)
            else:
                builder.insert(head, sub_tree, FileMode.TREE)
        return self._stored(builder.write)

    def _mode_of(self, oid: str) -> int:
        return FileMode.TREE if self._repo[oid].type == ObjectType.TREE else FileMode.BLOB

    def tree_entry(self, tree: str, path: str) -> str | None:
        """The id of the object at `path` inside `tree`, or None."""
        try:
            return str(self._repo[tree][path].id)
        except KeyError:
            return None

    def walk_blobs(self, tree: str, files_only: bool = False) -> Iterator[tuple[str, str]]:
        """Every blob below `tree` as (path with '/' separators, blob id); `files_only`: regular files
        only (no symbolic links). Read from the trees' stored bytes: no object per entry (100,000
        notes in a third of the time)."""
        read = self._repo.odb.read
        stack = [("", tree)]
        while stack:
            prefix, current = stack.pop()
            for mode, name, oid in _TREE_ENTRY.findall(read(current)[1]):
                if mode == _TREE_MODE:
                    stack.append((prefix + name.decode("utf-8", "surrogateescape") + "/", oid.hex()))
                elif mode.startswith(b"100") if files_only else mode != _SUBMODULE_MODE:
                    yield prefix + name.decode("utf-8", "surrogateescape"), oid.hex()

    def file_entry(self, tree: str, path: str) -> str | None:
        """The blob id of the regular file at `path` inside `tree`; None for anything else (nothing, a
        folder, a symbolic link, a submodule's commit)."""
        try:
            entry = self._repo[tree][path]
        except KeyError:
            return None
        return str(entry.id) if entry.type == ObjectType.BLOB and entry.filemode in _FILE_MODES else None

    def tree_items(self, tree: str) -> list[tuple[str, str, str]]:
        """(name, id, TREE or BLOB) of each entry of `tree`, one level deep; submodules are left out."""
        kinds = {ObjectType.TREE: TREE, ObjectType.BLOB: BLOB}
        return [(entry.name, str(entry.id), kinds[entry.type]) for entry in self._repo[tree] if entry.type in kinds]

    def release_files(self) -> None:
        """Let go of the pack files libgit2 mapped (they are mapped again when next needed): the walk
        of 100,000 notes leaves ~25 MB of pack and index pages resident, counted as this process's."""
        self._repo.free()

    def changed_blobs(self, old_tree: str, new_tree: str) -> tuple[list[tuple[str, str]], list[str]]:
        """Blobs added or changed from `old_tree` to `new_tree` as (path, id), and removed paths.

        Subtrees with equal ids are skipped without being read, so the cost follows the
        change, not the size of the trees (libgit2's tree diff visits every entry).
        """
        changed: list[tuple[str, str]] = []
        removed: list[str] = []
        self._compare_trees(old_tree, new_tree, "", changed, removed)
        return changed, removed

    def _compare_trees(self, old: str | None, new: str | None, prefix: str,
                       changed: list[tuple[str, str]], removed: list[str]) -> None:
        # From the trees' stored bytes, and only the entries that differ: a notes subtree of 400 entries
        # of which one changed costs one set difference, not 800 entry objects.
        before = set(_TREE_ENTRY.findall(self._tree_bytes(old))) if old else set()
        after = set(_TREE_ENTRY.findall(self._tree_bytes(new))) if new else set()
        was = {name: (mode, oid) for mode, name, oid in before - after}
        now = {name: (mode, oid) for mode, name, oid in after - before}
        for name in sorted(was.keys() | now.keys()):
            path = prefix + name.decode("utf-8", "surrogateescape")
            old_mode, old_oid = was.get(name, (None, None))
            new_mode, new_oid = now.get(name, (None, None))
            old_sub = old_oid.hex() if old_mode == _TREE_MODE else None
            new_sub = new_oid.hex() if new_mode == _TREE_MODE else None
            if old_sub or new_sub:
                self._compare_trees(old_sub, new_sub, path + "/", changed, removed)
            if _is_blob_mode(old_mode) and not _is_blob_mode(new_mode):
                removed.append(path)
            if _is_blob_mode(new_mode):
                changed.append((path, new_oid.hex()))

    def _tree_bytes(self, oid: str) -> bytes:
        """A tree's stored bytes, the last TREE_BYTES_KEPT of them kept: a pull compares the same notes
        subtrees twice (ours with theirs, then the notes before with after), each rebuilt from deltas."""
        found = self._trees.get(oid)
        if found is None:
            found = self._repo.odb.read(oid)[1]
            if self._trees_size + len(found) > TREE_BYTES_KEPT:
                self._trees.clear()
                self._trees_size = 0
            self._trees[oid] = found
            self._trees_size += len(found)
        return found

    def create_commit(self, tree: str, parents: list[str], message: str) -> str:
        """Write a commit object (no ref moves) authored by `identity()`, dated now."""
        name, email = self._identity or self.identity()
        signature = pygit2.Signature(name, email)
        return self._stored(lambda: self._repo.create_commit(None, signature, signature, message, tree, parents))

    def commit(self, oid: str) -> tuple[str, list[str], str]:
        """(tree id, parent ids, message) of a commit; raises KeyError when it is not one."""
        obj = self._repo.get(oid)
        if obj is None or obj.type != ObjectType.COMMIT:
            raise KeyError(oid)
        return str(obj.tree_id), [str(p) for p in obj.parent_ids], obj.message

    def is_commit(self, oid: str) -> bool:
        """True when `oid` names a commit in this repository."""
        return self._type_of(oid) == ObjectType.COMMIT

    def commits_between(self, tip: str, hidden: list[str]) -> Iterator[tuple[str, str]]:
        """(id, message) of the commits reachable from `tip` and from none of `hidden`."""
        walker = self._repo.walk(tip)
        for commit in hidden:
            walker.hide(commit)
        for commit in walker:
            yield str(commit.id), commit.message

    def history(self, tip: str, hidden: list[str]) -> list[tuple[str, str, str]]:
        """(id, tree id, message) of the commits reachable from `tip` and from none of `hidden`, parents first."""
        walker = self._repo.walk(tip, SortMode.TOPOLOGICAL | SortMode.REVERSE)
        for commit in hidden:
            walker.hide(commit)
        return [(str(commit.id), str(commit.tree_id), commit.message) for commit in walker]

    def has_object(self, oid: str) -> bool:
        try:
            return self._repo.odb.exists(oid)
        except (ValueError, TypeError, pygit2.GitError):
            return False

    def is_tree(self, oid: str) -> bool:
        """True when `oid` is the id of a tree in the object database."""
        return self._type_of(oid) == ObjectType.TREE

    def _type_of(self, oid: str) -> ObjectType | None:
        try:
            obj = self._repo.get(oid)
        except (ValueError, TypeError, pygit2.GitError):
            return None
        return obj.type if obj is not None else None

    def expand_commit_prefix(self, prefix: str) -> str | None:
        """The full id of the one commit whose id starts with `prefix`, else None."""
        try:
            obj = self._repo.revparse_single(prefix)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return str(obj.id) if obj.type == ObjectType.COMMIT else None

    def diff_trees(self, old: str | None, new: str) -> list[tuple[str, str]]:
        """Files that differ between two trees, as (status letter, path)."""
        # Against no tree, libgit2 diffs with the empty tree itself: `show` writes nothing.
        diff = self._repo.diff(self._repo[old], self._repo[new]) if old else \
            self._repo[new].diff_to_tree(swap=True)
        return [(d.status_char(), d.new_file.path if d.status_char() != "D" else d.old_file.path) for d in diff.deltas]

    def tree_changes(self, old: str | None, new: str, leave_out: str = "", patch: bool = False,
                     context: int = 3) -> list[FileChange]:
        """The files that differ from tree `old` (None: the empty tree) to tree `new`, renames found,
        without those under the folder `leave_out`; with `patch`, each with its unified diff."""
        new_tree = self._repo[new]
        diff = self._repo[old].diff_to_tree(new_tree, context_lines=context) if old else \
            new_tree.diff_to_tree(swap=True, context_lines=context)
        diff.find_similar(flags=DiffFind.FIND_RENAMES)
        changes = []
        for index, delta in enumerate(diff.deltas):
            paths = (delta.old_file.path, delta.new_file.path)
            if leave_out and all(path == leave_out or path.startswith(leave_out + "/") for path in paths):
                continue
            found = diff[index]  # the patch is computed here, only for the files kept
            _, added, deleted = found.line_stats
            status = delta.status_char()
            changes.append(FileChange(status, paths[0] if status == "D" else paths[1], paths[0], added, deleted,
                                      found.delta.is_binary,
                                      found.data.decode("utf-8", "replace") if patch else ""))
        return changes

    def resolve_commit(self, revision: str) -> str | None:
        """The commit `revision` names (a branch, a tag, an id, `main~3`), or None."""
        try:
            found = self._repo.revparse_single(revision).peel(pygit2.Commit)
        except (KeyError, ValueError, TypeError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        return str(found.id)

    # -- refs ---------------------------------------------------------------------------

    def ref_target(self, name: str) -> str | None:
        """The object a direct ref points at, or None when it does not exist."""
        ref = self._repo.references.get(name)
        return str(ref.target) if ref is not None else None

    def reflog(self, name: str) -> list[tuple[str, str, str]]:
        """(old, new, message) of each move of ref `name` this clone logged, newest first ([] when none).
        A reflog is never transferred: it says what happened here."""
        try:
            ref = self._repo.references.get(name)
            entries = ref.log() if ref is not None else []
            return [(str(entry.oid_old), str(entry.oid_new), entry.message or "") for entry in entries]
        except (ValueError, pygit2.GitError, OSError):
            return []

    def ref_names_under(self, *prefixes: str) -> list[str]:
        """The names of the refs that start with one of `prefixes` (their targets are not read)."""
        return [name for name in self._repo.listall_references() if name.startswith(prefixes)]

    def refs_under(self, prefix: str) -> dict[str, str]:
        """All refs whose names start with `prefix`, mapped to their targets."""
        found = {}
        for name in self._repo.references:
            if name.startswith(prefix):
                target = self.ref_target(name)
                if target:
                    found[name] = target
        return found

    def set_ref(self, name: str, new: str, old: str | None, log_message: str) -> None:
        """Point `name` at `new` if it now points at `old` (None: if it does not exist).

        Raises RefMoved when the ref is not at `old`. The check happens while we hold the
        ref's lock, in a libgit2 transaction: unlike a plain ref write, that skips libgit2's
        scan of every packed ref, which would make each record slower as tags accumulate.
        Callers make sure a new ref cannot clash with an existing directory of refs (run
        names have no '/'; new branches go through `create_branch_ref`). A stale lock left by
        a killed process is removed, a live one is waited for.
        """
        if not self.is_commit(new):  # never a ref to an object a full disk did not keep
            raise WriteError(cannot_store(f"{new[:10]}, where {name} would point, is not in the object database"))
        self._ref_transaction(name, old, lambda t: t.set_target(name, new, message=log_message), "update")

    def remove_ref(self, name: str, old: str) -> None:
        """Delete `name` if it still points at `old` (compare-and-swap); RefMoved otherwise."""
        self._ref_transaction(name, old, lambda t: t.remove(name), "delete")

    def _ref_transaction(self, name: str, old: str | None, change: Callable, verb: str) -> None:
        """Apply `change` to ref `name` while holding its lock, if it is at `old`. A lock held by
        another git process (`git gc` packing refs, a writer) is waited for with a bounded backoff,
        a stale one removed; a lock that stays is a ConcurrencyError, any other failure one error."""
        for attempt in range(REF_LOCK_ATTEMPTS):
            try:
                with self._repo.transaction() as transaction:
                    transaction.lock_ref(name)
                    if self.ref_target(name) != old:
                        raise RefMoved(name)
                    change(transaction)
                return
            except (pygit2.GitError, OSError) as exc:
                if _cannot_write(exc):
                    raise WriteError(f"cannot {verb} {name}: {one_line(str(exc))}; free disk space or make "
                                     ".git writable, then try again") from None
                if "lock" not in str(exc):
                    raise FlexgitError(f"cannot {verb} {name}: {one_line(str(exc))}") from None
                self._clear_stale_lock(name)
                time.sleep(min(0.001 * (attempt + 1), 0.05))
        raise ConcurrencyError(f"{name} stayed locked by another git process (git gc?); nothing more was "
                               "written, try again when it has finished")


    def create_branch_ref(self, name: str, target: str, log_message: str) -> None:
        """Create a branch ref with git's full name checks; RefMoved when it exists."""
        try:
            self._repo.create_reference_direct(name, pygit2.Oid(hex=target), False, message=log_message)
        except pygit2.AlreadyExistsError:
            raise RefMoved(name) from None
        except (pygit2.GitError, OSError) as exc:
            raise FlexgitError(f"cannot create {name}: {exc}") from None


    def reachable(self, tips: Iterable[str]) -> set[str]:
        """The ids of every commit reachable from any of `tips`."""
        tips = [tip for tip in tips if self.is_commit(tip)]
        if not tips:
            return set()
        walker = self._repo.walk(tips[0], SortMode.NONE)
        for tip in tips[1:]:
            walker.push(tip)
        return {str(commit.id) for commit in walker}


    # -- the working tree ---------------------------------------------------------------

    def dirty_paths(self, each_file: bool = False) -> list[str]:
        """Tracked files with changes and untracked files that are not ignored (an untracked
        folder as 'name/', unless `each_file`)."""
        status = self._repo.status(untracked_files="all" if each_file else "normal", ignored=False)
        return sorted(p for p, flags in status.items() if not flags & FileStatus.IGNORED)

    def staged_paths(self) -> list[str]:
        """Paths whose index entry differs from HEAD."""
        staged = (FileStatus.INDEX_NEW | FileStatus.INDEX_MODIFIED | FileStatus.INDEX_DELETED
                  | FileStatus.INDEX_RENAMED | FileStatus.INDEX_TYPECHANGE)
        return sorted(p for p, flags in self._repo.status(untracked_files="no").items() if flags & staged)

    def file_blob(self, path: str) -> str | None:
        """The blob id the working tree's file at `path` would get (a symlink: of its target),
        '' for a folder or anything else that is not a file, None when nothing is there."""
        full = self.workdir / path
        if full.is_symlink():
            return str(pygit2.hash(os.readlink(os.fsencode(full))))
        if full.is_file():
            return str(pygit2.hashfile(str(full)))
        return "" if os.path.lexists(full) else None

    def is_ignored_file(self, path: str) -> bool:
        """True when git ignores the file (or link) at `path` and does not track it."""
        try:
            return bool(self._repo.status_file(path) & FileStatus.IGNORED)
        except (KeyError, pygit2.GitError):
            return self._repo.path_is_ignored(path)

    def holds_ignored(self, folder: str) -> bool:
        """True when git ignores the folder `folder` or anything in it (links are not followed)."""
        if self._repo.path_is_ignored(folder + "/"):
            return True
        for root, folders, files in os.walk(self.workdir / folder):
            here = Path(root).relative_to(self.workdir).as_posix()
            if any(self._repo.path_is_ignored(f"{here}/{name}/") for name in folders) or \
                    any(self._repo.path_is_ignored(f"{here}/{name}") for name in files):
                return True
        return False

    def links_in_the_way(self, paths: Iterable[str], current: str | None) -> list[tuple[str, str]]:
        """(path, link) for each path below a symbolic link of the working tree (writing it would write
        through the link, maybe outside the tree); links that `current`, the tree the working tree is
        meant to hold, has as they are, are replaced by checkout as git does, and do not count."""
        found, seen = [], {}
        for path in paths:
            for parent in reversed(Path(path).parents[:-1]):
                key = parent.as_posix()
                if key not in seen:
                    seen[key] = (self.workdir / key).is_symlink() and \
                        (current is None or self.tree_entry(current, key) != self.file_blob(key))
                if seen[key]:
                    found.append((path, key))
                    break
        return found

    def restore_tree(self, tree: str, paths: Iterable[str], current: str | None) -> None:
        """Make the working tree match `tree`; HEAD and the index stay as they are. `paths`: the files
        that change, none of which may be written through a symbolic link; `current`: the tree the
        working tree holds now."""
        through = self.links_in_the_way(paths, current)
        if through:
            path, link = through[0]
            raise FlexgitError(f"{link} is a symbolic link: writing {path} would write through it; "
                               "nothing was written")
        strategy = CheckoutStrategy.FORCE | CheckoutStrategy.DONT_UPDATE_INDEX
        try:
            self._repo.checkout_tree(self._repo[tree], strategy=strategy)
        except pygit2.GitError as exc:
            raise FlexgitError(f"cannot write the run into the working tree: {exc}") from None

    def export_tree(self, tree: str, directory: Path) -> None:
        """Write the files of `tree` into `directory`; the repository's index and HEAD stay as they are."""
        strategy = CheckoutStrategy.FORCE | CheckoutStrategy.DONT_UPDATE_INDEX
        try:
            self._repo.checkout_tree(self._repo[tree], directory=str(directory), strategy=strategy)
        except pygit2.GitError as exc:
            raise FlexgitError(f"cannot write the snapshot into {directory}: {exc}") from None

    def ignored_top_level(self) -> list[Path]:
        """Entries at the top of the working tree that git ignores (a data/ folder, a .venv)."""
        return [p for p in self.workdir.iterdir() if p.name != ".git" and _ignores(self._repo, p.name, p.is_dir())]

    def link_ignored_top_level(self, target: Path, worktree: bool = False, outputs: Iterable[str] = ()) -> list[str]:
        """Give `target`, a checkout of a snapshot (which holds no ignored files), the ignored
        top-level entries of this working tree, so code there finds its data as it would here:
        folders (`data/`, `.venv`) are linked, files are copied.

        A file is copied, not linked, because code there writing it (a `metrics.json`, a log)
        would otherwise write through the link into this working tree; the top-level entries
        holding `outputs` (globs: results files, outputs) are left out altogether. With `worktree`, `target`
        is a linked worktree: a link its rules would not ignore (git sees a link as a file, so
        `data/` does not match it) is added to the repository's info/exclude as `/name`, so it
        never shows in `git status` there. Returns the names given, linked or copied.
        """
        there = pygit2.Repository(str(target)) if worktree else None
        written = {Path(output).parts[0] for output in outputs if Path(output).parts}
        given, unignored = [], []
        for entry in self.ignored_top_level():
            place = target / entry.name
            if place.exists() or place.is_symlink() or any(fnmatch.fnmatchcase(entry.name, w) for w in written):
                continue
            # asked before the link exists: libgit2 would follow it and take it for a folder
            if there is not None and not there.path_is_ignored(entry.name):
                unignored.append(entry.name)
            if entry.is_dir():
                place.symlink_to(entry, target_is_directory=True)
            elif entry.is_file():
                shutil.copy2(entry, place)
            else:
                continue
            given.append(entry.name)
        if unignored:
            self._exclude([f"/{name}" for name in unignored])
        return sorted(given)

    def stash_all(self, message: str) -> str:
        """Stash tracked changes and untracked files (as `git stash -u`); returns the stash id."""
        name, email = self.identity()
        try:
            return str(self._repo.stash(pygit2.Signature(name, email), message, include_untracked=True))
        except (KeyError, pygit2.GitError) as exc:
            raise FlexgitError(f"cannot stash the uncommitted work: {exc}") from None

    def stash_index(self, oid: str) -> int | None:
        """The position of stash `oid` in the stash list (shared by all worktrees), or None."""
        ids = [str(stash.commit_id) for stash in self._repo.listall_stashes()]
        return ids.index(oid) if oid in ids else None

    def stashed_untracked(self, oid: str) -> list[str]:
        """The untracked files stash `oid` holds (its third parent, as `git stash -u` writes it)."""
        parents = self.commit(oid)[1]
        return sorted(path for path, _ in self.walk_blobs(self.commit(parents[2])[0])) if len(parents) > 2 else []


    def first_parents(self, start: str) -> Iterator[str]:
        """`start`, its first parent, that one's first parent, ... (newest first), as libgit2 walks them."""
        walker = self._repo.walk(start, SortMode.NONE)
        walker.simplify_first_parent()
        for commit in walker:
            yield str(commit.id)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when `ancestor` is reachable from `descendant`."""
        return ancestor == descendant or self._repo.descendant_of(descendant, ancestor)


class _MemoryObjects(pygit2.OdbBackend):
    """An object database backend in memory, for `GitRepo.packed_writes`."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[bytes, tuple[int, bytes]] = {}
        self.size = 0  # bytes of object data held

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        if oid.raw not in self.objects:
            self.objects[oid.raw] = (kind, data)
            self.size += len(data)

    def clear(self) -> None:
        self.objects, self.size = {}, 0

    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self.objects[oid.raw]  # KeyError: not here, libgit2 asks the next backend

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        kind, data = self.objects[oid.raw]
        return kind, len(data)

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        return oid.raw in self.objects

    def read_prefix_cb(self, prefix: pygit2.Oid) -> tuple[int, bytes, pygit2.Oid]:
        raise KeyError(prefix)

    def exists_prefix_cb(self, prefix: pygit2.Oid) -> pygit2.Oid:
        raise KeyError(prefix)

    def refresh_cb(self) -> None:
        pass

    def __iter__(self) -> Iterator[pygit2.Oid]:
        return (pygit2.Oid(raw=raw) for raw in self.objects)


_LEVELS = {"global": ConfigLevel.GLOBAL, "xdg": ConfigLevel.XDG, "system": ConfigLevel.SYSTEM}


_TREE_ENTRY = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.S)
_TREE_MODE = b"40000"
_SUBMODULE_MODE = b"160000"


def _is_blob_mode(mode: bytes | None) -> bool:
    """True for the mode of a blob entry (a file or a link; not a tree or a submodule's commit)."""
    return mode is not None and mode != _TREE_MODE and mode != _SUBMODULE_MODE


def tree_entries(raw: bytes) -> list[tuple[str, str, str]]:
    """(name, id, TREE or BLOB) of each entry of a tree's stored bytes (`raw_objects`), as `tree_items`
    gives them: submodules left out."""
    return [(name.decode("utf-8", "surrogateescape"), oid.hex(), TREE if mode == _TREE_MODE else BLOB)
            for mode, name, oid in _TREE_ENTRY.findall(raw) if mode != _SUBMODULE_MODE]


def split_tree_entry(raw: bytes, name: bytes) -> tuple[str | None, bytes]:
    """The id of the subtree `name` in a tree's stored bytes (None without one), and the bytes of
    the tree's other entries: equal bytes, equal entries."""
    for found in _TREE_ENTRY.finditer(raw):
        tree = found.group(1) == _TREE_MODE
        if tree and found.group(2) == name:
            return found.group(3).hex(), raw[:found.start()] + raw[found.end():]
        if found.group(2) + (b"/" if tree else b"") > name + b"/":
            break  # git sorts entries by name, a subtree's as if it ended in '/': it is not there
    return None, raw


def commit_tree(raw: bytes) -> str:
    """The tree id of a commit's stored bytes (their first line is `tree <id>`)."""
    return raw[5:45].decode()


@functools.cache
def _libgit2_system_folder() -> str:
    return pygit2.settings.search_path[ConfigLevel.SYSTEM]


def _read_config_as_git_does() -> None:
    """Point libgit2 at the config files git reads now (GIT_CONFIG_GLOBAL and the like), before a
    repository is opened: its owner check (`safe.directory`) reads them at that moment."""
    paths = pygit2.settings.search_path
    for level, folder in config_folders(_libgit2_system_folder()).items():
        if paths[_LEVELS[level]] != folder:
            paths[_LEVELS[level]] = folder


def _ignores(repo: pygit2.Repository, name: str, folder: bool) -> bool:
    """True when `repo` ignores the top-level entry `name` (a folder is asked about as 'name/')."""
    return repo.path_is_ignored(name + ("/" if folder else ""))


def _cannot_write(exc: BaseException) -> bool:
    """Is this a failure to write at all (full disk, read-only files), not a race that passes?"""
    text = str(exc)
    return any(reason in text for reason in ("No space left", "Read-only file system", "Permission denied",
                                             "Disk quota exceeded", "Not a directory", "failed to make directory"))


def cannot_store(detail: str) -> str:
    """The one message for an object git could not store."""
    return (f"git cannot store objects in this repository ({one_line(detail)}); free disk space or make "
            ".git/objects writable, then try again")


def _os_user() -> str:
    try:
        import getpass  # the last resort for a name: rarely needed

        return getpass.getuser()
    except (KeyError, OSError):
        return "flexgit"
