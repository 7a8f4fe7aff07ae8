"""A derived cache of rendered tables: the same query on the same tips prints the same text.

One file per query, whose first line holds the notes and branch tips and the query it was
rendered from; a hit requires all of them unchanged, so a record, a fetch or any other move
of either ref makes it miss. The file carries a checksum: a corrupt one is a miss, never
printed. Never the only copy of anything.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from ..project.files import read_sealed, write_sealed

KEEP = 16  # queries remembered; the oldest file goes first


def _key(query: Any, tips: str) -> tuple[Path, str]:
    text = json.dumps(query, sort_keys=True)
    # crc32 only spreads queries over files; the header line is what must match.
    return Path("tables") / f"{zlib.crc32(text.encode()):08x}", f"{tips} {text}\n"


def get(directory: Path, query: Any, tips: str) -> str | None:
    """The text rendered for `query` from `tips`, or None."""
    name, header = _key(query, tips)
    data = read_sealed(directory / name)
    if data is None or not data.startswith(header.encode()):
        return None
    try:
        return data[len(header.encode()):].decode("utf-8")
    except UnicodeDecodeError:
        return None


def put(directory: Path, query: Any, tips: str, text: str) -> None:
    """Remember `text` for `query` at `tips`; failures are ignored."""
    name, header = _key(query, tips)
    path = directory / name
    try:
        write_sealed(path, (header + text).encode())
        files = sorted(path.parent.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in files[:-KEEP]:
            old.unlink()
    except OSError:
        pass
