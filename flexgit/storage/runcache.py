"""A derived cache of the runs read from the notes, keyed by the notes tree it was read from.

Never the source of truth and never the only copy of anything: a missing, unreadable or
foreign file is simply rebuilt from git. It lets `table` read only the notes that changed
since the last call (a tree diff) instead of every note, and hands over table rows ready
to use. Each entry is a list `[commit id, time, branch, table row, meta as marshal bytes,
removed, notes]`, read through the index constants below: meta stays unparsed bytes until
someone asks for it, which keeps loading fast; `removed` (a tombstone, `flexgit rm`) lets a
table hide removed runs, and `notes` (`[t, text]` lists) lets a run be whole, without reading
a note again.

The file is written with `marshal` (plain data only: it cannot build arbitrary objects the
way pickle can), which loads twice and dumps ten times as fast as JSON here; it lives in
`.git/flexgit.d/`, which git never transfers. The file carries a checksum, and what it holds
is checked for shape: a corrupt, torn or foreign file is a miss, never served, never an error.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

from ..project.files import read_sealed, write_sealed
from .run import Run, table_row

CACHE_FORMAT = 4  # 3: entries carry `removed` and `notes`. 4: rows carry `group` and `parent`
# An entry is a plain list (marshal writes lists, not named tuples); these name its fields.
Entry = list
ID, TIME, BRANCH, ROW, META, REMOVED, NOTES = range(7)


def entry_of(commit_id: str, row: dict[str, Any]) -> Entry:
    """The entry of one note row."""
    return [commit_id, str(row.get("t", "")), str(row.get("branch", "")), table_row(commit_id, row),
            marshal.dumps(row.get("meta") or {}), bool(row.get("removed")),
            [[str(t), str(text)] for t, text in row.get("notes") or ()]]


def run_of(entry: Entry) -> Run:
    """The run an entry describes."""
    return Run.from_table_row(entry[ID], entry[ROW], entry[TIME], entry[BRANCH], meta_of(entry), entry[NOTES],
                              entry[REMOVED])


def meta_of(entry: Entry) -> dict[str, Any]:
    """The run's meta, unpacked (empty if the bytes are not a marshalled table)."""
    try:
        meta = marshal.loads(entry[META])
    except (ValueError, EOFError, TypeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def order(entry: Entry) -> tuple[str, str]:
    """Where an entry goes among the others: by time written, then name."""
    return entry[TIME], entry[ROW]["name"]


def add_entries(entries: list[Entry], new: list[Entry]) -> None:
    """Add `new` to `entries`, keeping them oldest first (by time written, then name)."""
    new.sort(key=order)
    in_order = not entries or not new or order(entries[-1]) <= order(new[0])
    entries += new
    if not in_order:  # new runs are nearly always the newest: then no re-sort of the rest
        entries.sort(key=order)


def load(path: Path) -> tuple[str, list[Entry]] | None:
    """(notes tree id, entries) as last saved, or None."""
    payload = read_sealed(path)
    if payload is None:
        return None
    try:
        data = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return None
    tree, entries = data.get("tree"), data.get("entries")
    if not isinstance(tree, str) or not isinstance(entries, list) or not all(map(_well_formed, entries)):
        return None
    return tree, entries


def _well_formed(entry: Any) -> bool:
    return (type(entry) is list and len(entry) == 7 and type(entry[ID]) is str and type(entry[TIME]) is str
            and type(entry[BRANCH]) is str and type(entry[ROW]) is dict and type(entry[META]) is bytes
            and type(entry[ROW].get("name")) is str and type(entry[REMOVED]) is bool and type(entry[NOTES]) is list
            and (not entry[NOTES] or all(map(_is_note, entry[NOTES]))))


def _is_note(note: Any) -> bool:
    return type(note) is list and len(note) == 2 and type(note[0]) is str and type(note[1]) is str


def save(path: Path, tree: str, entries: list[Entry]) -> None:
    """Replace the cache atomically (readers see the old file or the new one); failures are ignored."""
    payload = {"format": CACHE_FORMAT, "tree": tree, "entries": entries}
    try:
        write_sealed(path, marshal.dumps(payload))
    except OSError:
        pass  # a read-only repository still gets its table, just without the cache
