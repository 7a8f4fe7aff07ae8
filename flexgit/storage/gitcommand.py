"""What flexgit asks of the git command and of git's ref files directly, without libgit2.

`GitRepo` (storage/gitrepo.py, the one libgit2 user) takes these methods in: the git command
for transport and for what libgit2 lacks, packed-refs and update-ref for many refs at once,
pack files for many objects at once, flexgit's writer lock and git's stale ref locks. They
use the host's `common_dir`, `workdir`, `is_bare`, `flexgit_dir`, `set_ref` and `remove_ref`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from ..errors import FlexgitError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: CAS on refs still keeps writers safe
    fcntl = None

# A ref lock file older than this, found while we hold flexgit's own writer lock,
# was left by a killed process: git itself holds ref locks for milliseconds.
STALE_LOCK_SECONDS = 2.0
PACK_REFS_AT = 100  # refs created at once from which they go straight into packed-refs ...
PACKED_SHARE = 32  # ... when they are at least a 32nd of the refs it holds (its rewrite costs all of them)
PACKED_LINE_BYTES = 64  # about one line of packed-refs: an id, a name like refs/exp/run-1a2b3c


class RefMoved(Exception):
    """A compare-and-swap on a ref failed: someone else moved (or created) it first."""


class GitCommand:
    """The part of `GitRepo` that runs git and writes git's files itself."""

    def _store_pack(self, objects: Mapping[bytes, tuple[int, bytes]]) -> None:
        """Write `objects` (raw id -> (type, data)) as a pack file that git indexes and keeps.

        The pack is streamed to `git index-pack --stdin` as it is compressed, never held whole.
        """
        import subprocess  # here: a record that runs no git does not pay for the module
        import tempfile

        place = self.common_dir if self.is_bare else self.workdir
        with tempfile.TemporaryFile() as errors:  # a file: git's messages can never fill a pipe and block it
            try:
                proc = subprocess.Popen(["git", "-C", str(place), "index-pack", "--stdin"], stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=errors,
                                        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
            except FileNotFoundError:
                raise FlexgitError("the 'git' command is not installed; install git and try again") from None
            try:
                for part in _pack(objects.values(), len(objects)):
                    proc.stdin.write(part)
            except BrokenPipeError:
                pass  # git stopped reading: its message says why
            finally:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
                proc.wait()
            if proc.returncode != 0:
                errors.seek(0)
                detail = last_lines(errors.read().decode(errors="replace"))
                raise FlexgitError(f"git index-pack: {detail}; nothing was recorded")

    def create_refs(self, refs: Mapping[str, str], log_message: str) -> None:
        """Create many refs that do not exist yet; refs that appeared meanwhile are left as they are.

        Many at once go straight into packed-refs (one file, under git's own lock), because
        each loose ref is a file: 100,000 names would be 100,000 files. A few, or few beside what
        packed-refs holds, are loose refs written in one git transaction: rewriting packed-refs
        for 100 names pulled into a clone of 100,000 took 0.25 s, the loose refs 20 ms.
        """
        try:
            packed = (self.common_dir / "packed-refs").stat().st_size // PACKED_LINE_BYTES
        except OSError:
            packed = 0
        if len(refs) >= PACK_REFS_AT and len(refs) * PACKED_SHARE >= packed and self._add_packed_refs(refs):
            return
        lines = "".join(f"create {name} {target}\n" for name, target in refs.items())
        done, _ = self.try_git(["update-ref", "-m", log_message, "--stdin"], stdin=lines) if refs else (True, "")
        if not done:  # one of them was created meanwhile (by plain git): one by one, skipping it
            for name, target in refs.items():
                with contextlib.suppress(RefMoved):
                    self.set_ref(name, target, None, log_message)

    def delete_refs(self, refs: Mapping[str, str], log_message: str) -> None:
        """Delete each ref that still points where `refs` says, in one git transaction when none moved."""
        lines = "".join(f"delete {name} {old}\n" for name, old in refs.items())
        done, _ = self.try_git(["update-ref", "-m", log_message, "--stdin"], stdin=lines) if refs else (True, "")
        if not done:  # one of them moved meanwhile: one by one, leaving that one
            for name, old in refs.items():
                with contextlib.suppress(RefMoved):
                    self.remove_ref(name, old)

    def _add_packed_refs(self, refs: Mapping[str, str]) -> bool:
        """Add `refs` to packed-refs under git's lock file; False when the lock is taken (nothing written)."""
        folder = self.common_dir
        packed = folder / "packed-refs"
        lock = packed.with_name("packed-refs.lock")
        try:
            descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            text = packed.read_text(encoding="utf-8") if packed.exists() else ""
            header, entries = _parse_packed_refs(text)
            for name, target in refs.items():
                if name not in entries and not (folder / name).exists():
                    entries[name] = [f"{target} {name}\n"]
            traits = header.split(":", 1)[1].split() if header else ["peeled", "fully-peeled"]
            header = "# pack-refs with: " + " ".join(dict.fromkeys([*traits, "sorted"])) + " \n"
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                descriptor = -1
                out.write(header + "".join("".join(entries[name]) for name in sorted(entries, key=str.encode)))
                out.flush()
                os.fsync(out.fileno())
            os.replace(lock, packed)
            return True
        finally:
            if descriptor != -1:
                os.close(descriptor)
            lock.unlink(missing_ok=True)

    def _clear_stale_lock(self, name: str) -> None:
        lock = self.common_dir / (name + ".lock")
        with contextlib.suppress(OSError):
            if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                lock.unlink()

    def stale_locks(self) -> list[str]:
        """Ref lock files (under refs/, and packed-refs.lock) older than a live git process keeps
        one: left by a killed process. As ref names plus '.lock'."""
        found = [str(lock.relative_to(self.common_dir)) for lock in (self.common_dir / "refs").rglob("*.lock")]
        found += ["packed-refs.lock"] if (self.common_dir / "packed-refs.lock").exists() else []
        return sorted(lock for lock in found if self._lock_age(lock) > STALE_LOCK_SECONDS)

    def _lock_age(self, lock: str) -> float:
        try:
            return time.time() - (self.common_dir / lock).stat().st_mtime
        except OSError:
            return 0.0

    def remove_stale_lock(self, lock: str) -> None:
        """Remove lock file `lock` (as `stale_locks` names it) if it is still stale."""
        self._clear_stale_lock(lock[: -len(".lock")])

    def clear_stale_locks(self, prefix: str) -> None:
        """Remove lock files under refs `prefix` that a killed process left (older than a few seconds)."""
        directory = self.common_dir / prefix
        if directory.is_dir():
            for lock in directory.rglob("*.lock"):
                self._clear_stale_lock(str(lock.relative_to(self.common_dir))[: -len(".lock")])

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Serialise flexgit writers of this repository (an advisory lock the OS releases on death)."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self.flexgit_dir() / "lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _exclude(self, patterns: list[str]) -> None:
        """Add `patterns` to info/exclude (shared by all worktrees), once each."""
        path = self.common_dir / "info" / "exclude"
        path.parent.mkdir(exist_ok=True)
        text = path.read_text() if path.exists() else ""
        new = [p for p in patterns if p not in text.splitlines()]
        if new:
            head = "" if not text or text.endswith("\n") else "\n"
            note = "# flexgit: links to git-ignored entries in worktrees made by 'flexgit checkout --worktree'\n"
            path.write_text(text + head + (note if note not in text else "") + "\n".join(new) + "\n")

    def pop_stash(self, oid: str) -> None:
        """Apply stash `oid`, its index too, and drop it; found by id, as other worktrees may push and
        pop the same stash list meanwhile."""
        self.run_git(["stash", "apply", "--index", "--quiet", oid])
        position = self.stash_index(oid)
        if position is not None:
            self.run_git(["stash", "drop", "--quiet", f"stash@{{{position}}}"])

    def add_worktree(self, directory: Path, commit: str, branch: str | None) -> None:
        """Check `commit` out in a new linked worktree (on `branch`, else detached)."""
        spec = [str(directory), branch] if branch else ["--detach", str(directory), commit]
        self.run_git(["worktree", "add", "--quiet"] + spec)

    def run_git(self, args: list[str]) -> str:
        """Run the git command in this repository (for what libgit2 lacks, and for transport);
        its error becomes a FlexgitError."""
        done, detail = self.try_git(args)
        if not done:
            raise FlexgitError(f"git {args[0]}: {last_lines(detail)}")
        return detail

    def try_git(self, args: list[str], stdin: str | None = None, timeout: float | None = None,
                env: Mapping[str, str | None] | None = None) -> tuple[bool, str]:
        """Run the git command in this repository: (succeeded, its stdout, or all it printed). `env`: variables
        to set (None: to unset) for it."""
        import subprocess

        place = self.common_dir if self.is_bare else self.workdir
        environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        try:
            done = subprocess.run(["git", "-C", str(place), *args], capture_output=True, text=True, check=False,
                                  env=environment, input=stdin, timeout=timeout)
        except FileNotFoundError:
            raise FlexgitError("the 'git' command is not installed; install git and try again") from None
        except subprocess.TimeoutExpired:
            return False, f"no answer within {timeout} s"
        if done.returncode != 0:
            return False, (done.stdout + done.stderr).strip() or "failed"
        return True, done.stdout

    def fetch_aside(self, remote: str, refspecs: list[str], stops: list[str]) -> bool:
        """Fetch `refspecs` (`+SOURCE:DESTINATION`) from `remote` through a repository made for it,
        whose only refs are the destinations and `stops` (refs here that what arrives builds on) and
        whose objects are this repository's; then set the destinations here. git so walks none of the
        other refs here: a plain fetch marks every ref's commit as present and checks what arrived
        against all of them (100,000 run names: half of a pull's time, 0.26 s of 0.52 s).

        Returns False, having fetched nothing, where that repository might read its config otherwise
        (a shallow or partial clone, repository extensions, conditional includes): fetch here then.
        Raises FlexgitError as `run_git` does. Nothing is written where it is not kept: git's own
        housekeeping (gc, commit-graph, pruning) is off in it, and it is removed afterwards.
        """
        import shutil
        import tempfile

        names = self.config_names()
        if ((self.common_dir / "shallow").exists() or any(n.startswith(("extensions.", "includeif.")) for n in names)
                or self.config_value("core.repositoryformatversion") not in (None, "0")
                or any(name in os.environ for name in _REPOSITORY_VARIABLES)):
            return False
        base = self.flexgit_dir()
        for stale in base.glob("fetch-*"):  # left by a fetch killed midway (an hour is plenty for any fetch)
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > 3600:
                    shutil.rmtree(stale, ignore_errors=True)
        aside = Path(tempfile.mkdtemp(prefix=f"fetch-{os.getpid()}-", dir=base))
        try:
            destinations = [spec.split(":", 1)[1] for spec in refspecs]
            (aside / "refs").mkdir()  # with HEAD, what makes git take a folder for a repository
            for ref in destinations + stops:
                tip = self.ref_target(ref)
                if tip is not None:
                    (aside / ref).parent.mkdir(parents=True, exist_ok=True)
                    (aside / ref).write_text(tip + "\n")
            (aside / "HEAD").write_text("ref: refs/heads/flexgit-fetch\n")
            (aside / "config").write_text(  # this repository's config first: what follows overrides it
                f"[include]\n\tpath = {_quoted(str(self.common_dir / 'config'))}\n"
                "[core]\n\trepositoryformatversion = 0\n\tbare = true\n"
                "[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n"
                "[fetch]\n\twriteCommitGraph = false\n\tprune = false\n\tpruneTags = false\n")
            env = {"GIT_DIR": str(aside), "GIT_OBJECT_DIRECTORY": str(self.common_dir / "objects")}
            done, detail = self.try_git(["fetch", "--quiet", "--no-tags", "--no-auto-maintenance",
                                         "--no-write-fetch-head", "--no-recurse-submodules", "--refmap=", remote,
                                         *refspecs], env=env)
            if not done:
                raise FlexgitError(f"git fetch: {last_lines(detail)}")
            for ref in destinations:  # as `+` makes git set them: whatever they held (a tracking ref)
                fetched = (aside / ref).read_text().strip() if (aside / ref).is_file() else None
                for _ in range(3):
                    old = self.ref_target(ref)
                    if not fetched or fetched == old:
                        break
                    with contextlib.suppress(RefMoved):
                        self.set_ref(ref, fetched, old, "flexgit: fetch")
                        break
        finally:
            shutil.rmtree(aside, ignore_errors=True)
        return True

    def cat_blobs(self, oids: list[str]) -> Iterator[bytes]:
        """The contents of many blobs, in order, from one `git cat-file --batch`.

        git's delta base cache reads a packed history several times faster than libgit2 does
        one object at a time (notes deltified against each other by `git gc`: 1.1 s against
        5 s for 100,000 here). Raises FileNotFoundError when git is not installed, and
        FlexgitError when git does not give every blob.
        """
        with self._cat_file(oids) as answers:
            for oid in oids:
                header, content = next(answers, (b"", None))
                kind = header.split()
                if content is None or len(kind) != 3 or kind[0].decode() != oid or kind[1] != b"blob":
                    raise FlexgitError(f"git cat-file could not read note {oid[:10]}: "
                                       f"{header.decode(errors='replace') or 'no answer'}")
                yield content

    def cat_objects(self, names: list[str]) -> Iterator[tuple[str, bytes] | None]:
        """(type, stored bytes) of the object each of `names` names (an id, `REV^{tree}`, `REV:PATH`),
        in order, from one `git cat-file --batch`; None for a name that names nothing here. git
        reads packed trees and blobs several times faster than libgit2 one at a time, and runs
        ahead while the caller uses what came before. Raises FileNotFoundError when git is not
        installed, and FlexgitError when git stops answering (a repository it refuses, say)."""
        if not names:
            return
        with self._cat_file(names) as answers:
            for name in names:
                header, content = next(answers, (b"", None))
                kind = header.split()
                if content is None and len(kind) == 2 and kind[1] in (b"missing", b"ambiguous"):
                    yield None
                    continue
                if content is None or len(kind) != 3:
                    raise FlexgitError(f"git cat-file could not read {name}: "
                                       f"{header.decode(errors='replace') or 'no answer'}")
                yield kind[1].decode(), content

    def tree_contents(self, tree: str) -> Iterator[tuple[str, bytes]]:
        """(path, content) of every blob below `tree`, from `git ls-tree -r` piped straight into
        `git cat-file --batch`: git walks the tree beside the caller (100,000 notes: 0.15 s of this
        process's time otherwise). Raises LookupError, before or after giving some, when git cannot
        list the tree so (git older than 2.36, a path it quotes, an entry that is not a blob here):
        the caller then walks the tree itself, and whatever came before is to be dropped."""
        import subprocess

        place = self.common_dir if self.is_bare else self.workdir
        lister = subprocess.Popen(["git", "-C", str(place), "ls-tree", "-r", "--full-tree",
                                   "--format=%(objectname) %(objecttype) %(path)", tree],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            with self._cat_file(source=lister.stdout, answer="%(rest) %(objectsize)") as answers:
                lister.stdout.close()  # git cat-file holds it now: git ls-tree sees a reader that stops
                for header, content in answers:
                    if content is None or not header.startswith(b"blob ") or header[5:6] == b'"':
                        raise LookupError(header.decode(errors="replace"))
                    yield header[5:header.rindex(b" ")].decode("utf-8", "surrogateescape"), content
        finally:
            if lister.poll() is None:
                lister.kill()
            lister.wait()
        if lister.returncode != 0:
            raise LookupError(f"git ls-tree exited with {lister.returncode}")

    @contextlib.contextmanager
    def _cat_file(self, names: list[str] | None = None, source=None,
                  answer: str = "") -> Iterator[Iterator[tuple[bytes, bytes | None]]]:
        """A `git cat-file --batch` (answers headed by `answer`, a --batch format, else git's own) given
        `names` from one thread, or fed by `source` (another git's output), and read into memory by
        another thread, so that git runs ahead of the caller by up to AHEAD bytes (by a pipe's size, it
        waited while the caller worked: a third of a cold table's time at 100,000 runs): its answers,
        (header, content) each."""
        import queue
        import subprocess

        place = self.common_dir if self.is_bare else self.workdir
        proc = subprocess.Popen(["git", "-C", str(place), "cat-file", f"--batch={answer}" if answer else "--batch"],
                                stdin=subprocess.PIPE if source is None else source, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        chunks: queue.Queue[bytes] = queue.Queue(AHEAD // READ_SIZE)  # git runs ahead by AHEAD bytes at most

        def feed() -> None:
            with contextlib.suppress(OSError):  # git exited early: what it gave is checked by the reader
                for start in range(0, len(names), 4096):
                    proc.stdin.write("".join(name + "\n" for name in names[start:start + 4096]).encode())
                proc.stdin.close()

        def drain() -> None:
            try:
                with contextlib.suppress(OSError):
                    while chunk := os.read(proc.stdout.fileno(), READ_SIZE):
                        chunks.put(chunk)
            finally:
                chunks.put(b"")

        if fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: fewer, larger reads
            with contextlib.suppress(OSError):
                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        threads = [threading.Thread(target=drain, daemon=True)]
        if source is None:
            threads.append(threading.Thread(target=feed, daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield _answers(iter(chunks.get, b""))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for thread in threads:
                while thread.is_alive():  # the drain may wait to hand over a chunk nobody will read
                    with contextlib.suppress(queue.Empty):
                        while True:
                            chunks.get_nowait()
                    thread.join(0.05)
            proc.stdout.close()


# Variables that make git read another repository than the one this process opened.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                         "GIT_NAMESPACE", "GIT_WORK_TREE", "GIT_INDEX_FILE")


def _quoted(value: str) -> str:
    """`value` as a git config file quotes a string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


READ_SIZE = 1 << 18  # bytes read from git at once
AHEAD = 8 << 20  # the most of git's answers held before the caller reads them (100,000 notes: 30 MB)


def _answers(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bytes | None]]:
    """(header line, content) of each answer in the output of `git cat-file --batch`, given in chunks;
    content is None for an answer without (`NAME missing`, `NAME ambiguous`). Ends where the output
    ends, also in the middle of an answer (the caller finds one missing)."""
    buf, pos = b"", 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            more = next(chunks, b"")
            if not more:
                return
            buf, pos = buf[pos:] + more, 0
            continue
        header = buf[pos:nl]
        size = header.rpartition(b" ")[2]
        if not size.isdigit():
            yield header, None
            pos = nl + 1
            continue
        stop = nl + 1 + int(size)  # where the newline after the content is
        if stop >= len(buf):  # not all here yet: gather chunks up to it, joined once (a large blob)
            parts, have = [buf[pos:]], len(buf) - pos
            while have <= stop - pos:
                more = next(chunks, b"")
                if not more:
                    return
                parts.append(more)
                have += len(more)
            buf, pos = b"".join(parts), 0
            continue
        yield header, buf[nl + 1:stop]
        pos = stop + 1


def _pack(objects: Iterable[tuple[int, bytes]], count: int) -> Iterator[bytes]:
    """A pack file (version 2, no deltas) holding the `count` `objects`, (type, data) each, in parts
    of about a megabyte: its header, the objects compressed, its checksum."""
    import hashlib

    digest = hashlib.sha1()
    parts = [b"PACK" + (2).to_bytes(4, "big") + count.to_bytes(4, "big")]
    held = 0
    for kind, data in objects:
        size = len(data)
        header = bytearray([(kind << 4) | (size & 15)])
        size >>= 4
        while size:
            header[-1] |= 0x80
            header.append(size & 0x7F)
            size >>= 7
        parts.append(bytes(header))
        parts.append(zlib.compress(data, 1))
        held += len(parts[-1]) + len(header)
        count -= 1
        if held >= 1 << 20:
            chunk = b"".join(parts)
            digest.update(chunk)
            yield chunk
            parts, held = [], 0
    if count != 0:
        raise ValueError("a pack's header must count its objects")
    chunk = b"".join(parts)
    digest.update(chunk)
    yield chunk + digest.digest()


def _parse_packed_refs(text: str) -> tuple[str, dict[str, list[str]]]:
    """(header line, ref name -> its lines, a peeled `^` line kept with its ref) of a packed-refs file."""
    header, entries, last = "", {}, None
    for line in text.splitlines(keepends=True):
        if line.startswith("#"):
            header = line.strip()
        elif line.startswith("^") and last is not None:
            entries[last].append(line)
        elif line.strip():
            last = line.split(" ", 1)[1].strip()
            entries[last] = [line]
    return header, entries


def last_lines(text: str, count: int = 3) -> str:
    """The end of a command's output, on one line."""
    return " ".join(line.strip() for line in text.strip().splitlines()[-count:] if line.strip())
