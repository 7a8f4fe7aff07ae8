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
`.git/flexgit.d/`, which git never transfers. Each frame carries a checksum, and what it holds
is checked for shape: a corrupt, torn or foreign file is a miss, never served, never an error.
A file written by a cold read (`Writer`) holds the entries in the order the notes were read,
then their order oldest first as one more frame.
"""

from __future__ import annotations

import itertools
import marshal
import os
import struct
import sys
import zlib
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..project.files import write_atomic
from .run import Run, table_row

# 3: entries carry `removed` and `notes`. 4: rows carry `group` and `parent`. 5: frames. 6: frames in the
# order the notes were read, then the order of the entries, when the head says `order`.
CACHE_FORMAT = 6
FRAME_ENTRIES = 8192
_FRAME = struct.Struct("<II")  # a frame: its length and crc32, then a marshalled value
# An entry is a plain list (marshal writes lists, not named tuples); these name its fields.
Entry = list
ID, TIME, BRANCH, ROW, META, REMOVED, NOTES = range(7)


_NO_NOTES: list = []  # shared by every entry without notes (nothing ever changes an entry's lists)


def entry_of(commit_id: str, row: dict[str, Any]) -> Entry:
    """The entry of one note row."""
    notes = row.get("notes")
    return [commit_id, str(row.get("t", "")), sys.intern(str(row.get("branch", ""))), table_row(commit_id, row),
            marshal.dumps(row.get("meta") or {}), bool(row.get("removed")),
            [[str(t), str(text)] for t, text in notes] if notes else _NO_NOTES]


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
    _sort(new)
    in_order = not entries or not new or order(entries[-1]) <= order(new[0])
    entries += new
    if not in_order:  # new runs are nearly always the newest: then no re-sort of the rest
        _sort(entries)


def _sort(entries: list[Entry]) -> None:
    """Sort by `order`: by time alone first (no tuple made per entry: 100,000 took 0.1 s), then the
    runs of one time, rare, by name."""
    entries.sort(key=itemgetter(TIME))
    times = list(map(itemgetter(TIME), entries))
    if len(set(times)) != len(times):
        entries.sort(key=order)


def load(path: Path) -> tuple[str, list[Entry]] | None:
    """(notes tree id, entries) as last saved, or None."""
    try:
        with open(path, "rb") as cache:
            head = _read_frame(cache)
            if not isinstance(head, dict) or head.get("format") != CACHE_FORMAT:
                return None
            tree, count, ordered = head.get("tree"), head.get("frames"), head.get("order", False)
            if not isinstance(tree, str) or type(count) is not int or type(ordered) is not bool:
                return None
            entries: list[Entry] = []
            for _ in range(count):
                part = _read_frame(cache)
                if not isinstance(part, list) or not all(map(_well_formed, part)):
                    return None
                entries += part
            if ordered:
                order = _read_frame(cache)
                if not _is_order(order, len(entries)):
                    return None
                entries = list(map(entries.__getitem__, order))
            if cache.read(1):
                return None
    except OSError:
        return None
    return tree, entries


def _read_frame(cache: BinaryIO) -> Any:
    """One marshalled value behind its length and crc32, or None when torn, corrupt or not marshal."""
    header = cache.read(_FRAME.size)
    if len(header) != _FRAME.size:
        return None
    size, crc = _FRAME.unpack(header)
    payload = cache.read(size)
    if len(payload) != size or zlib.crc32(payload) != crc:
        return None
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None


def _well_formed(entry: Any) -> bool:
    return (type(entry) is list and len(entry) == 7 and type(entry[ID]) is str and type(entry[TIME]) is str
            and type(entry[BRANCH]) is str and type(entry[ROW]) is dict and type(entry[META]) is bytes
            and type(entry[ROW].get("name")) is str and type(entry[REMOVED]) is bool and type(entry[NOTES]) is list
            and (not entry[NOTES] or all(map(_is_note, entry[NOTES]))))


def _is_order(order: Any, size: int) -> bool:
    """True when `order` is a permutation of range(size)."""
    return (type(order) is list and len(order) == size and set(map(type, order)) <= {int}
            and len(set(order)) == size and (not order or (min(order) == 0 and max(order) == size - 1)))


def _is_note(note: Any) -> bool:
    return type(note) is list and len(note) == 2 and type(note[0]) is str and type(note[1]) is str


def save(path: Path, tree: str, entries: list[Entry]) -> None:
    """Replace the cache atomically (readers see the old file or the new one); failures are ignored.

    Written in frames of FRAME_ENTRIES entries, each marshalled alone behind its length and crc32:
    neither writing nor reading ever holds the whole file as bytes (30 MB at 100,000 runs).
    """
    starts = range(0, len(entries), FRAME_ENTRIES)
    values = itertools.chain([{"format": CACHE_FORMAT, "tree": tree, "frames": len(starts)}],
                             (entries[start:start + FRAME_ENTRIES] for start in starts))
    try:
        write_atomic(path, frames(values))
    except OSError:
        pass  # a read-only repository still gets its table, just without the cache


def frames(values: Iterable[Any]) -> Iterator[bytes]:
    """The bytes of the file holding `values`: each marshalled, behind its length and crc32."""
    for value in values:
        payload = marshal.dumps(value)
        yield _FRAME.pack(len(payload), zlib.crc32(payload))
        yield payload


class Writer:
    """A cache written while the notes are read (a cold read): each part is marshalled as soon as it
    is built, while its objects are still in the processor's caches (100,000 entries marshalled
    after the sort, scattered in memory, took three times as long), and the order of the whole
    comes last. Written to a temporary file renamed into place by `finish`, as `save` does: a read
    that fails, or a process killed, leaves the old file or none. Failures to write are ignored.
    """

    def __init__(self, path: Path, tree: str, parts: int):
        self.path, self.parts, self.written = path, parts, 0
        self.temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.out: BinaryIO | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.out = open(self.temp, "wb")
            self._write({"format": CACHE_FORMAT, "tree": tree, "frames": parts, "order": True})
        except OSError:
            self.abandon()

    def _write(self, value: Any) -> None:
        if self.out is not None:
            self.out.writelines(frames([value]))

    def add(self, part: list[Entry]) -> None:
        """Write the next part of the entries (one of `parts`)."""
        self.written += 1
        try:
            self._write(part)
        except OSError:
            self.abandon()

    def finish(self, entries: list[Entry]) -> None:
        """Sort `entries` (all that were added, in the order added) as `add_entries` does, write their
        order and put the file in place."""
        times = list(map(itemgetter(TIME), entries))
        places = sorted(range(len(entries)), key=times.__getitem__)  # as `_sort`, with the order kept
        if len(set(times)) != len(times):
            places.sort(key=lambda place: order(entries[place]))
        entries[:] = map(entries.__getitem__, places)
        if self.out is None or self.written != self.parts:
            self.abandon()
            return
        try:
            self._write(places)
            self.out.close()
            os.replace(self.temp, self.path)
        except OSError:
            self.abandon()

    def abandon(self) -> None:
        """Write nothing: the temporary file is removed, the old cache stays."""
        if self.out is not None:
            self.out.close()
            self.out = None
        try:
            self.temp.unlink(missing_ok=True)
        except OSError:
            pass
