"""Data management: fingerprints (content hash and size) of the data files a config names.

Hashes are remembered in a derived cache keyed by path, size, modification time and inode
(git's stat-cache idea), so an unchanged multi-gigabyte data set is not read again on every
record or checkout.

A param names data when its key ends in `_path` or sits in a `[data]` table (`data.train`),
and its value is a path to an existing file or folder (relative paths are looked up from
the current directory, then from the top of the working tree). A folder's fingerprint hashes its
files' relative paths and contents, in sorted order.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .files import read_sealed, write_sealed

CHUNK = 1 << 20
DIGEST_CACHE = "data-hashes.json"  # in .git/flexgit.d/
UNCHECKED_SHOWN = 3  # paths named in the line that says which were not checked


def data_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The params that name data: key -> path as written."""
    return {key: value for key, value in params.items()
            if isinstance(value, str) and value and (key.endswith("_path") or key.startswith("data."))}


class DigestCache:
    """sha256 of files, remembered by (size, mtime, inode) in a JSON file that may vanish at any time.

    The file carries a checksum: a corrupt one, or an entry of the wrong shape, is a miss and
    the file is hashed again (a wrong digest would be recorded as the data's fingerprint).
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.known: dict[str, list] = {}
        self.changed = False
        data = read_sealed(path) if path is not None else None
        if data is not None:
            try:
                loaded = json.loads(data)
                self.known = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                pass

    def digest(self, file: Path) -> tuple[str, int]:
        stat = file.stat()
        key, signature = str(file), [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self.known.get(key)
        if isinstance(entry, list) and len(entry) == 4 and entry[:3] == signature and _is_sha256(entry[3]):
            return entry[3], stat.st_size
        digest, size = _file_digest(file)
        self.known[key] = signature + [digest]
        self.changed = True
        return digest, size

    def save(self) -> None:
        if self.path is not None and self.changed:
            with contextlib.suppress(OSError):
                write_sealed(self.path, json.dumps(self.known).encode())


def fingerprints(params: Mapping[str, Any], workdir: Path, cwd: Path,
                 cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """Fingerprints of the existing data a run's params name; paths relative to `workdir` where possible.

    Relative paths are read from `cwd`, where the training ran, else from `workdir`.
    """
    digests = DigestCache(cache)
    found = {}
    for key, value in data_params(params).items():
        path = next((p.resolve() for p in (cwd / value, workdir / value) if p.exists()), None)
        if path is not None:
            found[key] = {"path": _stored_path(path, workdir), **fingerprint(path, digests)}
    digests.save()
    return found


def fingerprint(path: Path, digests: DigestCache | None = None) -> dict[str, Any]:
    """{"sha256", "size", "kind"} of a file, or of a folder's files taken together."""
    digests = digests or DigestCache(None)
    if path.is_file():
        digest, size = digests.digest(path)
        return {"kind": "file", "sha256": digest, "size": size}
    import hashlib  # here: a record whose params name no data file never needs it

    total, combined = 0, hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest, size = digests.digest(file)
        combined.update(f"{file.relative_to(path).as_posix()}\0{digest}\n".encode())
        total += size
    return {"kind": "folder", "sha256": combined.hexdigest(), "size": total}


def named_paths(params: Mapping[str, Any], workdir: Path, cwd: Path) -> set[Path]:
    """The existing paths (resolved) the data params of `params` name, found as `fingerprints` finds them."""
    found = set()
    for value in data_params(params).values():
        path = next((p.resolve() for p in (cwd / value, workdir / value) if p.exists()), None)
        if path is not None:
            found.add(path)
    return found


def changed_data(recorded: Mapping[str, Mapping[str, Any]], workdir: Path, cache: Path | None = None,
                 elsewhere: Path | None = None, allowed: Iterable[Path] = ()) -> list[str]:
    """One line per recorded data path that is missing or differs on disk under `workdir`.

    A relative path missing under `workdir` but present under `elsewhere` (the working tree a
    new worktree was made from) is reported as such, with whether it is what the run used.
    The recorded paths come from a note, which a remote may have written: only paths that land
    (links followed) inside `workdir` or `elsewhere`, or at or below one of `allowed` (resolved
    paths the user's own config names), are read; the others (`/usr`, `../../..`) are listed in
    one line as not checked, never hashed.
    """
    digests = DigestCache(cache)
    roots = {workdir.resolve(), *([elsewhere.resolve()] if elsewhere is not None else []), *allowed}
    warnings, unchecked = [], []
    for key, was in (recorded.items() if isinstance(recorded, Mapping) else ()):
        if not _well_formed(was):
            unchecked.append(f"{key} (not a fingerprint)")
            continue
        path = _readable(was["path"], workdir, roots)
        if path is None:
            unchecked.append(f"'{was['path']}' ({key})")
            continue
        relative = not os.path.isabs(was["path"])
        used = f"sha256 {was['sha256'][:12]}, {was['size']} bytes"
        there = _readable(was["path"], elsewhere, roots) if relative and elsewhere is not None else None
        if not path.exists() and there is not None and there.exists():
            same = fingerprint(there, digests)["sha256"] == was["sha256"]
            warnings.append(f"data '{was['path']}' ({key}) is not in {workdir}; {there} "
                            + ("is what the run used: link or copy it" if same
                               else f"exists but differs from what the run used ({used})"))
        elif not path.exists():
            warnings.append(f"data '{was['path']}' ({key}) is missing; the run used {was['size']} bytes "
                            f"with sha256 {was['sha256'][:12]}")
        elif fingerprint(path, digests)["sha256"] != was["sha256"]:
            warnings.append(f"data '{was['path']}' ({key}) differs from what the run used ({used})")
    digests.save()
    if unchecked:
        more = f" and {len(unchecked) - UNCHECKED_SHOWN} more" if len(unchecked) > UNCHECKED_SHOWN else ""
        warnings.append(f"data not checked (only data inside the working tree or named by your config is read): "
                        f"{', '.join(unchecked[:UNCHECKED_SHOWN])}{more}")
    return warnings


def _is_sha256(text: Any) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _well_formed(was: Any) -> bool:
    return isinstance(was, Mapping) and isinstance(was.get("path"), str) and bool(was["path"]) \
        and isinstance(was.get("sha256"), str) and isinstance(was.get("size"), int)


def _readable(stored: str, base: Path, roots: Iterable[Path]) -> Path | None:
    """Where to read the recorded path `stored` (relative ones from `base`), or None when it must not be
    read: a relative path leaving the tree or entering .git, or a path that (links followed) lands
    outside every one of `roots` (the working trees, what the user's config names)."""
    normal = Path(os.path.normpath(stored))
    if not normal.is_absolute() and (not normal.parts or normal.parts[0] in ("..", ".git")):
        return None
    path = base / normal
    landed = path.resolve()
    return path if any(root == landed or root in landed.parents for root in roots) else None


def _stored_path(path: Path, workdir: Path) -> str:
    try:
        return path.relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return str(path)


def _file_digest(path: Path) -> tuple[str, int]:
    import hashlib

    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
