"""A derived cache of the runs read from the notes, keyed by the notes tree it was read from.

Never the source of truth and never the only copy of anything: a missing, unreadable or
foreign file is simply rebuilt from git. It lets `table` read only the notes that changed
since the last call (a tree diff) instead of every note, and hands over table rows ready
to use. Each entry is a list `[commit id, time, branch, table row, meta as marshal bytes]`, read
through the index constants below: meta stays unparsed bytes until someone asks for it, which
keeps loading fast.

The file is written with `marshal` (plain data only: it cannot build arbitrary objects the
way pickle can), which loads twice and dumps ten times as fast as JSON here; it lives in
`.git/flexgit.d/`, which git never transfers, and a file it cannot read is just a miss.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

from ..project.files import write_atomic
from .run import Run, table_row

CACHE_FORMAT = 1
# An entry is a plain list (marshal writes lists, not named tuples); these name its fields.
Entry = list
ID, TIME, BRANCH, ROW, META = range(5)


def entry_of(commit_id: str, row: dict[str, Any]) -> Entry:
    """The entry of one note row."""
    return [commit_id, str(row.get("t", "")), str(row.get("branch", "")), table_row(commit_id, row),
            marshal.dumps(row.get("meta") or {})]


def run_of(entry: Entry) -> Run:
    """The run an entry describes."""
    return Run.from_table_row(entry[ID], entry[ROW], entry[TIME], entry[BRANCH], meta_of(entry))


def meta_of(entry: Entry) -> dict[str, Any]:
    """The run's meta, unpacked."""
    return marshal.loads(entry[META])


def _order(entry: Entry) -> tuple[str, str]:
    return entry[TIME], entry[ROW]["name"]


def add_entries(entries: list[Entry], new: list[Entry]) -> None:
    """Add `new` to `entries`, keeping them oldest first (by time written, then name)."""
    new.sort(key=_order)
    in_order = not entries or not new or _order(entries[-1]) <= _order(new[0])
    entries += new
    if not in_order:  # new runs are nearly always the newest: then no re-sort of the rest
        entries.sort(key=_order)


def load(path: Path) -> tuple[str, list[Entry]] | None:
    """(notes tree id, entries) as last saved, or None."""
    try:
        data = marshal.loads(path.read_bytes())
        if data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), list):
            return None
        return str(data["tree"]), data["entries"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError):
        return None


def save(path: Path, tree: str, entries: list[Entry]) -> None:
    """Replace the cache atomically (readers see the old file or the new one); failures are ignored."""
    payload = {"format": CACHE_FORMAT, "tree": tree, "entries": entries}
    try:
        write_atomic(path, marshal.dumps(payload))
    except OSError:
        pass  # a read-only repository still gets its table, just without the cache
