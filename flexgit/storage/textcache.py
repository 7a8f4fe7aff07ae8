"""A derived cache of rendered tables: the same query on the same tips prints the same text.

One file per query, whose first line holds the notes and branch tips and the query it was
rendered from, and whose second line holds what the renderer needs to extend the text (JSON,
`{}` when it cannot be extended); a hit requires the tips and the query unchanged, so a record,
a fetch or any other move of either ref makes it miss. A miss may still find the text rendered
for the same query at other tips (`get_stale`), which the caller may extend when the notes
changed only by notes added. The file carries a checksum: a corrupt one is a miss, never
printed. Never the only copy of anything.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from ..project.files import read_sealed, write_sealed

KEEP = 16  # queries remembered; the oldest file goes first


def _key(query: Any) -> tuple[Path, str]:
    text = json.dumps(query, sort_keys=True)
    # crc32 only spreads queries over files; the header line is what must match.
    return Path("tables") / f"{zlib.crc32(text.encode()):08x}", text


def _read(directory: Path, query: Any) -> tuple[str, dict[str, Any], bytes] | None:
    """(tips, state, text as bytes) of the file of `query`, or None."""
    name, text = _key(query)
    data = read_sealed(directory / name)
    if data is None:
        return None
    first, _, rest = data.partition(b"\n")
    second, _, body = rest.partition(b"\n")
    try:
        tips, sep, stored = first.decode("utf-8").rpartition(" " + text)
        state = json.loads(second)
    except (UnicodeDecodeError, ValueError):
        return None
    if not sep or stored or not isinstance(state, dict):
        return None
    return tips, state, body


def get(directory: Path, query: Any, tips: str) -> str | None:
    """The text rendered for `query` from `tips`, or None."""
    found = _read(directory, query)
    if found is None or found[0] != tips:
        return None
    try:
        return found[2].decode("utf-8")
    except UnicodeDecodeError:
        return None


def get_stale(directory: Path, query: Any) -> tuple[str, dict[str, Any], str] | None:
    """(tips, state, text) last rendered for `query`, whatever the tips were then; None if none."""
    found = _read(directory, query)
    if found is None:
        return None
    try:
        return found[0], found[1], found[2].decode("utf-8")
    except UnicodeDecodeError:
        return None


def put(directory: Path, query: Any, tips: str, text: str, state: dict[str, Any] | None = None) -> None:
    """Remember `text` for `query` at `tips`, with the `state` that lets it be extended; failures are ignored."""
    name, key = _key(query)
    path = directory / name
    header = f"{tips} {key}\n{json.dumps(state or {}, separators=(',', ':'))}\n"
    try:
        write_sealed(path, (header + text).encode())
        files = sorted(path.parent.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in files[:-KEEP]:
            old.unlink()
    except OSError:
        pass
