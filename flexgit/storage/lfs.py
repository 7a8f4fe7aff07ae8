"""git-lfs's own format: pointer blobs, the local object store, and moving objects with the `git lfs` command.

A large file is a pointer blob in a tree (three lines, exactly as git-lfs's clean filter writes
them) and its content at `<git dir>/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`, the oid being the
sha256 of the content. flexgit writes both itself (a subprocess per file would cost more than
the hashing), so `git lfs` reads, fetches and pushes them as its own; moving objects between
clones is always the `git lfs` command's (its transfer agents, credentials and URLs).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .gitrepo import GitRepo, last_lines

SPEC = "https://git-lfs.github.com/spec/v1"
MAX_POINTER_SIZE = 1024  # git-lfs reads no larger blob as a pointer
CHUNK = 1 << 20
BATCH = 500  # object ids per `git lfs push` (a command line stays short)
INSTALL_HINT = ("install git-lfs (Debian/Ubuntu: apt install git-lfs; macOS: brew install git-lfs; "
                "others: https://git-lfs.com)")
_POINTER = re.compile(rb"version (\S+)\noid sha256:([0-9a-f]{64})\nsize (0|[1-9][0-9]{0,18})\n\Z")


@dataclass(frozen=True)
class Pointer:
    """A git-lfs pointer: the sha256 and size of the content it stands for."""

    oid: str
    size: int

    def to_bytes(self) -> bytes:
        """The pointer blob, byte for byte as `git lfs clean` writes it."""
        return f"version {SPEC}\noid sha256:{self.oid}\nsize {self.size}\n".encode()

    @classmethod
    def parse(cls, data: bytes) -> "Pointer | None":
        """The pointer `data` holds, or None when it is not one (ordinary content)."""
        if len(data) > MAX_POINTER_SIZE:
            return None
        found = _POINTER.match(data)
        if not found or found[1].decode() != SPEC:
            return None
        return cls(found[2].decode(), int(found[3]))


def installed() -> bool:
    """True when the `git lfs` command is there (git finds `git-lfs` on the PATH)."""
    return shutil.which("git-lfs") is not None


def storage_dir(git: GitRepo) -> Path:
    """git-lfs's local storage (`lfs.storage` when set, relative to the git directory; else `.git/lfs`)."""
    configured = git.config_value("lfs.storage")
    if configured:
        place = Path(os.path.expanduser(configured))
        return place if place.is_absolute() else git.common_dir / place
    return git.common_dir / "lfs"


def object_path(git: GitRepo, oid: str) -> Path:
    """Where the content of object `oid` lives in this clone."""
    return storage_dir(git) / "objects" / oid[:2] / oid[2:4] / oid


def has_object(git: GitRepo, pointer: Pointer) -> bool:
    """True when this clone holds the content `pointer` stands for (of the right size)."""
    try:
        return object_path(git, pointer.oid).stat().st_size == pointer.size
    except OSError:
        return False


def store_file(git: GitRepo, source: Path) -> Pointer:
    """Copy `source` into the local LFS store, hashing it on the way (one read); its pointer.

    The copy goes to a temporary file first and is renamed into place, so a killed process never
    leaves a partial object under its final name. It replaces an object already there: that one is
    not checked, and may be damaged (a rename costs less than reading it again to tell).
    """
    import tempfile  # only when a file is this large: `record` of small runs never pays for it

    temp_dir = storage_dir(git) / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, temp = tempfile.mkstemp(dir=temp_dir, prefix="flexgit-")
    try:
        with open(source, "rb") as read, os.fdopen(handle, "wb") as write:
            while chunk := read.read(CHUNK):
                digest.update(chunk)
                write.write(chunk)
                size += len(chunk)
        pointer = Pointer(digest.hexdigest(), size)
        target = object_path(git, pointer.oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
        return pointer
    finally:
        Path(temp).unlink(missing_ok=True)


def lfs_remote(git: GitRepo, remote: str) -> str:
    """`remote` as `git lfs` takes it: a configured remote's name as is; a path (which git-lfs does
    not read as a remote) as a file:// URL, which git-lfs serves itself."""
    if git.config_value(f"remote.{remote}.url") is not None or "://" in remote:
        return remote
    place = Path(remote).expanduser()
    if not place.is_absolute():
        place = (git.workdir if not git.is_bare else git.common_dir) / place
    return place.resolve().as_uri() if place.exists() else remote


def upload(git: GitRepo, remote: str, oids: list[str]) -> tuple[bool, str]:
    """`git lfs push --object-id` the objects `oids` to `remote`: (all sent, git-lfs's message)."""
    target = lfs_remote(git, remote)
    for start in range(0, len(oids), BATCH):
        done, detail = git.try_git(["lfs", "push", "--object-id", target, *oids[start:start + BATCH]], stdin="")
        if not done:
            return False, _message(detail)
    return True, ""


def download(git: GitRepo, remote: str, commit: str, paths: list[str]) -> tuple[bool, str]:
    """`git lfs fetch` the objects of `paths` (in `commit`'s tree) from `remote`: (it ran, its message).

    Whether an object arrived is for the caller to check: git-lfs reports a missing one in a log.
    """
    plain = all(not any(c in path for c in ",*?[]\\!") for path in paths)
    include = ["--include=" + ",".join(paths)] if plain and paths else []
    done, detail = git.try_git(["lfs", "fetch", lfs_remote(git, remote), commit, *include], stdin="")
    return done, "" if done else _message(detail)


def _message(output: str) -> str:
    """git-lfs's error, on one line, without its progress lines."""
    lines = [line for line in output.splitlines() if not line.startswith(("Uploading LFS objects", "fetch: Fetching"))]
    return last_lines("\n".join(lines))
