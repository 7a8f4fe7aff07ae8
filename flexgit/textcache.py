"""A derived cache of rendered tables: the same query on the same tips prints the same text.

One file per query (named by a hash of the query), whose first line holds the notes and
branch tips it was rendered from; a hit requires both tips unchanged, so a record, a fetch
or any other move of either ref makes it miss. Never the only copy of anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

KEEP = 16  # queries remembered; the oldest file goes first


def _path(directory: Path, query: Any) -> Path:
    digest = hashlib.sha1(json.dumps(query, sort_keys=True).encode()).hexdigest()
    return directory / "tables" / digest


def get(directory: Path, query: Any, tips: str) -> str | None:
    """The text rendered for `query` from `tips`, or None."""
    try:
        with open(_path(directory, query), encoding="utf-8") as handle:
            if handle.readline() == tips + "\n":
                return handle.read()
    except OSError:
        pass
    return None


def put(directory: Path, query: Any, tips: str, text: str) -> None:
    """Remember `text` for `query` at `tips` (atomically); failures are ignored."""
    path = _path(directory, query)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(tips + "\n" + text)
        os.replace(temp, path)
        files = sorted(path.parent.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in files[:-KEEP]:
            old.unlink()
    except OSError:
        pass
