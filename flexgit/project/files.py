"""File-system helpers shared by flexgit's derived caches."""

from __future__ import annotations

import contextlib
import os
import zlib
from pathlib import Path
from typing import Iterable


def write_atomic(path: Path, data: bytes | Iterable[bytes], durable: bool = False) -> None:
    """Replace `path` with `data` (bytes, or parts written one after the other) so that readers see
    the old file or the new one, never a mix; `durable` also waits until the data is on disk.

    Raises OSError; callers that only keep caches ignore it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as out:
            for part in (data,) if isinstance(data, bytes) else data:
                out.write(part)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:  # a full disk, an interrupted write: the old file stays, and no half of a new one
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


# A cache file starts with the crc32 of the rest, as 8 hex digits and a newline: a flipped bit,
# a torn or foreign file reads as a miss and is rebuilt from git, never served.
_SEAL = 9


def write_sealed(path: Path, data: bytes) -> None:
    """`write_atomic` of `data` behind its checksum; read it back with `read_sealed`."""
    write_atomic(path, [b"%08x\n" % zlib.crc32(data), data])  # not concatenated: a cache may be 30 MB


def read_sealed(path: Path) -> bytes | None:
    """What `write_sealed` wrote to `path`, or None when the file is missing, unreadable or corrupt."""
    try:
        with open(path, "rb") as sealed:  # the seal, then the rest: no copy of a 30 MB cache
            seal, data = sealed.read(_SEAL), sealed.read()
    except OSError:
        return None
    if seal[8:] != b"\n" or seal[:8] != b"%08x" % zlib.crc32(data):
        return None
    return data
