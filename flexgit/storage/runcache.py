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
A file written by a cold read (`save_as_read`) holds the entries in the order the notes were
read, then their order oldest first as one more frame.
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


def save_as_read(path: Path, tree: str, entries: list[Entry]) -> list[Entry]:
    """`entries` (in the order the notes were read) sorted as `add_entries` sorts them; the cache
    holds them as read, then their order, so that it is written without a pass over the sorted
    entries, scattered in memory (three times as long).

    From WRITE_ASIDE_FROM entries it is written by a child process while this one goes on (the
    marshalling, 0.2 s at 100,000 runs, beside the rendering of the table); this process waits for
    the child before it exits. Failures to write are ignored, as in `save`.
    """
    times = list(map(itemgetter(TIME), entries))
    places = sorted(range(len(entries)), key=times.__getitem__)  # as `_sort`, with the order kept
    if len(set(times)) != len(times):
        places.sort(key=lambda place: order(entries[place]))
    starts = range(0, len(entries), FRAME_ENTRIES)
    values = itertools.chain([{"format": CACHE_FORMAT, "tree": tree, "frames": len(starts), "order": True}],
                             (_shared(entries[start:start + FRAME_ENTRIES]) for start in starts), [places])
    if len(entries) < WRITE_ASIDE_FROM or not _write_aside(path, values):
        _write(path, values)
    return list(map(entries.__getitem__, places))


WRITE_ASIDE_FROM = 20_000


def _shared(part: list[Entry]) -> list[Entry]:
    """`part` with the short text values of its params interned: they are mostly a few choices (a model,
    an optimizer), and marshal keeps interned text interned, so a table read from the cache holds each
    once (100,000 rows: megabytes). Done here, in the writer, not while the notes are read."""
    for entry in part:
        row = entry[ROW]
        for key, value in row.items():
            if type(value) is str and len(value) <= 64 and key.startswith("params."):
                row[key] = sys.intern(value)
    return part


def _write(path: Path, values: Iterable[Any]) -> None:
    try:
        write_atomic(path, frames(values))
    except OSError:
        pass


def _write_aside(path: Path, values: Iterable[Any]) -> bool:
    """Write `values` to `path` in a child process; False when this process cannot fork safely (not
    POSIX, or other Python threads, which might hold a lock the child would wait for)."""
    import signal  # only here: not paid by a record's start-up
    import threading

    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:  # the child: write, and leave without running anything of the parent's (atexit, buffers)
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C for the command: the write is short
            quiet = os.open(os.devnull, os.O_RDWR)  # hold none of the command's pipes (`| head` ends at once)
            for fd in (0, 1, 2):
                os.dup2(quiet, fd)
            _write(path, values)
        finally:
            os._exit(0)
    # Not a daemon: the interpreter waits for it, and so for the child, before it exits.
    threading.Thread(target=os.waitpid, args=(pid, 0), name="flexgit-run-cache").start()
    return True
