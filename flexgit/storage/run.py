"""A run as a record, and its pure conversions to and from stored bytes.

Note format (version 1): one JSON object per line. Every line has `"v"` (format version)
and `"t"` (UTC time it was written, microseconds). The line that carries `"name"` holds
the whole row; other lines add or change keys later (values, a rename, tags, a note, a
removal). Reading applies lines in `t` order, so the newest value of a key wins whatever
order the lines were merged in.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, repeat
from operator import is_not, itemgetter
from typing import Any, Iterable, Mapping

from ..project.formats import dumps_toml
from ..project.values import Value, is_safe_text, unflatten
from .refs import (
    CONFIG_FILE,
    DATA_FILE,
    FORMAT_VERSION,
    KIND_RUN,
    META_FILE,
    NOTE_VERSION,
    RESULTS_FILE,
    TRAILER_KIND,
    TRAILER_NAME,
    TRAILER_SOURCE,
    all_known_run_names,
    commit_message,
    is_known_run_name,
    is_valid_label,
)

SHORT_ID = 10
FACT_KEYS = ("tags", "note", "removed")  # later lines only: tags, a dated comment, a tombstone
MAX_NOTE_TEXT = 10_000  # characters of one `flexgit note` comment


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds (`t` of a note line)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Run:
    """One recorded run: its row (name, params, metrics, meta) and, once written, its commit id."""

    name: str
    params: Mapping[str, Value] = field(default_factory=dict)
    metrics: Mapping[str, Value] = field(default_factory=dict)
    meta: Mapping[str, Value] = field(default_factory=dict)
    message: str = ""
    date: str = ""
    branch: str = ""
    time: str = ""
    id: str = ""
    data: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    status: str = ""  # of a run made by `flexgit run`: ok, failed, interrupted
    tags: tuple[str, ...] = ()  # sorted labels (`flexgit tag`)
    notes: tuple[tuple[str, str], ...] = ()  # (t, text) of each `flexgit note`, oldest first
    removed: bool = False  # `flexgit rm`: hidden from the table until `rm --undo`
    group: str = ""  # the `flexgit run` invocation it was one run of (a sweep), shared by all its runs
    parent: str = ""  # the commit id of the run it continues or belongs to (`flexgit run --parent`)

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID]

    @property
    def source(self) -> str | None:
        source = self.meta.get("source")
        return str(source) if source else None

    def with_id(self, commit_id: str) -> "Run":
        return replace(self, id=commit_id)

    # -- the note ---------------------------------------------------------------------

    def to_note_line(self) -> bytes:
        """The note's first line: the whole row."""
        row = {"v": NOTE_VERSION, "t": self.time, "name": self.name, "message": self.message,
               "date": self.date, "branch": self.branch, "meta": dict(self.meta),
               "params": dict(self.params), "metrics": dict(self.metrics)}
        if self.data:
            row["data"] = {key: dict(value) for key, value in self.data.items()}
        if self.status:
            row["status"] = self.status
        if self.group:
            row["group"] = self.group
        if self.parent:
            row["parent"] = self.parent
        return _json_line(row)

    @classmethod
    def from_note(cls, commit_id: str, data: bytes) -> "Run | None":
        """The run a note describes, or None when the note holds no flexgit row."""
        row = note_row(data)
        return cls.from_row(commit_id, row) if row is not None else None

    @classmethod
    def from_row(cls, commit_id: str, row: Mapping[str, Any]) -> "Run":
        """The run of one whole note line (or of lines merged into one)."""
        return cls(name=str(row["name"]), params=row.get("params") or {}, metrics=row.get("metrics") or {},
                   meta=row.get("meta") or {}, message=str(row.get("message", "")), date=str(row.get("date", "")),
                   branch=str(row.get("branch", "")), time=str(row.get("t", "")), id=commit_id,
                   data=row.get("data") or {}, status=str(row.get("status", "")), tags=tuple(row_tags(row)),
                   notes=tuple((str(t), str(text)) for t, text in row.get("notes") or ()),
                   removed=bool(row.get("removed")), group=str(row.get("group", "")),
                   parent=str(row.get("parent", "")))

    # -- the table row -------------------------------------------------------------

    def table_row(self) -> dict[str, Any]:
        """The run's row in the table: name, id (short), date, message, params.*, metrics.*."""
        return table_row(self.id, {"name": self.name, "date": self.date, "message": self.message,
                                   "status": self.status, "group": self.group, "parent": self.parent,
                                   "params": self.params, "metrics": self.metrics})

    @classmethod
    def from_table_row(cls, commit_id: str, row: Mapping[str, Any], time: str, branch: str,
                       meta: Mapping[str, Value], notes: Iterable[Iterable[str]] = (),
                       removed: bool = False) -> "Run":
        """The inverse of `table_row`, given what the row does not hold."""
        params = {k[7:]: v for k, v in row.items() if k.startswith("params.")}
        metrics = {k[8:]: v for k, v in row.items() if k.startswith("metrics.")}
        return cls(name=row["name"], params=params, metrics=metrics, meta=dict(meta), message=row["message"],
                   date=row["date"], branch=branch, time=time, id=commit_id, status=row.get("status", ""),
                   tags=tuple(row.get("tags", ())), notes=tuple(tuple(note) for note in notes), removed=removed,
                   group=row.get("group", ""), parent=row.get("parent", ""))

    # -- the commit -------------------------------------------------------------------

    def commit_message(self) -> str:
        """Subject names the run; trailers carry what plain git users may want to grep."""
        subject, _, body = self.message.strip().partition("\n")
        found = [(TRAILER_KIND, KIND_RUN), (TRAILER_NAME, self.name)]
        if self.source:
            found.append((TRAILER_SOURCE, self.source))
        return commit_message(f"run {self.name}" + (f": {subject}" if subject else ""), found, body)

    def flexgit_files(self) -> dict[str, bytes]:
        """The files of the run's `.flexgit/` directory."""
        meta = {"format": FORMAT_VERSION, "name": self.name, "message": self.message, "date": self.date,
                "branch": self.branch, **self.meta}
        files = {
            META_FILE: _toml_bytes(meta),
            CONFIG_FILE: _toml_bytes(unflatten(self.params)),
            RESULTS_FILE: _toml_bytes(unflatten(self.metrics)),
        }
        if self.data:
            files[DATA_FILE] = _toml_bytes({key: dict(value) for key, value in self.data.items()})
        return files


def note_row(data: bytes, problems: list[str] | None = None) -> dict[str, Any] | None:
    """A note's lines merged into one row (newest value of each key wins), or None.

    Only lines `valid_line` accepts count; each other line is skipped (and described in
    `problems`), never the whole note. The name and branch come from the first full row and
    change only through `rename` lines: a later line cannot take a run's identity.
    """
    latest = latest_time()
    lines = [line for line in (_parse_line(raw, latest, problems) for raw in data.splitlines()) if line is not None]
    # The full row first among equal times, so an update at the same instant still applies.
    lines.sort(key=lambda line: (line["t"], "name" not in line))
    base = next((line for line in lines if "name" in line), None)
    if base is None:
        return None
    row: dict[str, Any] = {"params": {}, "metrics": {}, "meta": {}, "t": base["t"], "name": base["name"],
                           "branch": base.get("branch", "")}
    for line in lines:
        for key in ("message", "date", "data", "status", "group", "parent"):  # not name or branch: see above
            if key in line:
                row[key] = line[key]
        if "rename" in line:  # `flexgit rename`: a later line, not a second full row
            row["name"] = line["rename"]
        if "tags" in line:  # per label, the newest line wins: added on one machine, removed on another
            row.setdefault("tags", {}).update(line["tags"])
        if "note" in line:
            row.setdefault("notes", []).append([line["t"], line["note"]])
        if "removed" in line:
            row["removed"] = line["removed"]
        for table in ("params", "metrics", "meta"):
            if table in line:
                row[table].update(line[table])
    return row


def rows_from_notes(notes: Iterable[tuple[str, bytes]],
                    problems: list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(commit id, row) of many notes; notes of one line, the common case, parse in one go.

    A line that is not a valid row is skipped and described in `problems` (the note's commit first).
    """
    notes = list(notes)
    datas = list(map(itemgetter(1), notes))
    # The common case, tested on all notes at once: each one line `{...}` and a newline, as flexgit writes.
    if (all(map(bytes.startswith, datas, repeat(b"{"))) and all(map(bytes.endswith, datas, repeat(b"\n")))
            and sum(map(bytes.count, datas, repeat(b"\n"))) == len(datas)):
        single, rows = notes, []
    else:
        single, rows = [], []
        for commit_id, data in notes:
            data = data.strip()
            if b"\n" in data or not data.startswith(b"{"):
                found: list[str] = []
                row = note_row(data, found)
                if row is not None:
                    rows.append((commit_id, row))
                if problems is not None:
                    problems += [f"{commit_id}: {problem}" for problem in found]
            else:
                single.append((commit_id, data))
        datas = list(map(itemgetter(1), single))
    del notes
    try:
        parsed = json.loads(b"[" + b",".join(datas) + b"]")
    except (ValueError, RecursionError):
        parsed = None
    if parsed is None or len(parsed) != len(datas):  # some note is not JSON, or more than one value
        parsed = list(map(_loads, datas))
    del datas
    latest = latest_time()
    if _all_plain_rows(parsed, latest):
        return rows + list(zip(map(itemgetter(0), single), parsed, strict=True))
    for (commit_id, raw), row in zip(single, parsed, strict=True):
        problem = line_problem(row, latest)
        if problem is None and "name" in row:
            # a full row that also carries facts (not what flexgit writes): read as note_row would
            rows.append((commit_id, row if not any(key in row for key in FACT_KEYS) else note_row(raw) or row))
        elif problems is not None:
            problems.append(f"{commit_id}: {problem or 'no row (a line without a name alone)'}")
    return rows


class _Prefixed(dict):
    """`prefix + key`, made once per key and shared by every row that has it: 100,000 rows hold one
    `params.lr`, not 100,000 equal strings (the cache keeps the sharing, marshal writes references)."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key: str) -> str:
        if len(self) > 100_000:  # keys come from notes: a long-lived process keeps a bounded number
            self.clear()
        value = self[key] = sys.intern(self.prefix + key)
        return value


_PARAM_COLUMNS, _METRIC_COLUMNS = _Prefixed("params."), _Prefixed("metrics.")


def table_row(commit_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row (name, id, date, message, params.*, metrics.*) from a note row (checked by
    `line_problem`: its text values are text). The hot loop of a cold table: 100,000 rows."""
    get = row.get
    flat: dict[str, Any] = {"name": row["name"], "id": commit_id[:SHORT_ID], "date": get("date", ""),
                            "message": get("message", "")}
    if get("status") or get("group") or get("parent"):  # parent: the full commit id, so a cached run is whole
        for key in ("status", "group", "parent"):
            if get(key):
                flat[key] = row[key]
    if get("tags"):
        tags = row_tags(row)
        if tags:
            flat["tags"] = tags
    params, metrics = get("params"), get("metrics")
    if params:
        flat.update(zip(map(_PARAM_COLUMNS.__getitem__, params), params.values(), strict=True))
    if metrics:
        flat.update(zip(map(_METRIC_COLUMNS.__getitem__, metrics), metrics.values(), strict=True))
    return flat


def row_tags(row: Mapping[str, Any]) -> list[str]:
    """The labels a note row's `tags` holds (newest line per label applied), sorted."""
    return sorted(label for label, on in (row.get("tags") or {}).items() if on)


def fact_line(key: str, value: Any, time: str | None = None) -> bytes:
    """A later note line with one fact about a run: `tags` ({label: bool}), `note` (text) or
    `removed` (bool)."""
    assert key in FACT_KEYS, key
    return _json_line({"v": NOTE_VERSION, "t": time or utc_now(), key: value})


def update_line(metrics: Mapping[str, Value] | None = None, params: Mapping[str, Value] | None = None,
                time: str | None = None, name: str | None = None) -> bytes:
    """A later note line that adds or changes metrics or params of a run, or renames it."""
    line: dict[str, Any] = {"v": NOTE_VERSION, "t": time or utc_now()}
    if name:
        line["rename"] = name
    if metrics:
        line["metrics"] = dict(metrics)
    if params:
        line["params"] = dict(params)
    return _json_line(line)


def _json_line(obj: Mapping[str, Any]) -> bytes:
    # NaN and infinity are written as JSON's common extension (NaN, Infinity), which Python,
    # JavaScript's JSON5 and jq read; they are real results, not errors.
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _parse_line(raw: bytes, latest: str, problems: list[str] | None) -> dict | None:
    raw = raw.strip()
    if not raw:
        return None
    line = _loads(raw) if raw.startswith(b"{") else None
    problem = line_problem(line, latest)
    if problem is not None:
        if problems is not None:
            problems.append(problem)
        return None
    return line


FUTURE_SLACK = dt.timedelta(days=1)  # clocks differ; a line written further ahead is not believed


def latest_time() -> str:
    """The latest `t` a line may have: now, plus a day of clock skew."""
    return (dt.datetime.now(dt.timezone.utc) + FUTURE_SLACK).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TEXT_KEYS = ("message", "date", "branch", "status", "group")


_COMMIT_ID = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")


def line_problem(line: Any, latest: str) -> str | None:
    """Why a parsed note line is not one flexgit accepts, or None when it is.

    Lines come from other clones too: a line of a newer format, a `t` far in the future
    (which would win over every later value), a name flexgit would not give, or values of
    the wrong shape are each refused here, alone.
    """
    if not isinstance(line, dict):
        return "not a JSON object"
    version = line.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "no format version"
    if version > NOTE_VERSION:
        return f"written by a newer flexgit (note format {version})"
    written = line.get("t")
    if not isinstance(written, str) or not written:
        return "no time"
    if written > latest:
        return f"its time {written[:30]!r} is in the future"
    for key in ("name", "rename"):
        if key in line and not (isinstance(line[key], str) and is_known_run_name(line[key])):
            return f"{key} {str(line[key])[:40]!r} is not a run name"
    for key in _TEXT_KEYS:
        if key in line and not isinstance(line[key], str):
            return f"{key} is not text"
    if "parent" in line and not (isinstance(line["parent"], str) and _COMMIT_ID.match(line["parent"])):
        return "parent is not a commit id"
    for table in ("params", "metrics", "meta"):
        if table in line and not _is_table(line[table]):
            return f"{table} is not a table of values"
    problem = _fact_problem(line)
    if problem is not None:
        return problem
    data = line.get("data")
    if data is not None and not (isinstance(data, dict) and all(isinstance(d, dict) and all(map(_is_value, d.values()))
                                                                for d in data.values())):
        return "data is not a table of fingerprints"
    return None


def _fact_problem(line: dict) -> str | None:
    """Why the tags, note or removal of a line is not of its shape, or None."""
    tags = line.get("tags")
    if tags is not None and not (isinstance(tags, dict) and tags and all(
            isinstance(label, str) and is_valid_label(label) and isinstance(on, bool) for label, on in tags.items())):
        return "tags is not a table of labels to true or false"
    note = line.get("note")
    if note is not None and not (isinstance(note, str) and len(note) <= MAX_NOTE_TEXT and is_safe_text(note)):
        return f"note is not text of at most {MAX_NOTE_TEXT} characters without control characters"
    if "removed" in line and not isinstance(line["removed"], bool):
        return "removed is not true or false"
    return None


_SCALARS = frozenset({str, int, float, bool})  # what JSON gives for a scalar (bool: an int, as before)


def _is_table(table: Any) -> bool:
    """A table of stored values; the common case (scalars only) checked in one pass of C."""
    return isinstance(table, dict) and (set(map(type, table.values())) <= _SCALARS or
                                        all(map(_is_value, table.values())))


_NOT_PLAIN = ("rename", *FACT_KEYS)  # keys of lines that only the line-by-line check reads
_EMPTY: dict = {}
_is_set = partial(is_not, None)


def _all_plain_rows(lines: list[Any], latest: str) -> bool:
    """True when every parsed line is a full row (`name`) that `line_problem` accepts and that
    carries no facts or rename: what flexgit writes. The same tests as `line_problem`, made a key
    at a time over all lines in C (100,000 rows in about 0.05 s, against 0.35 s line by line);
    False says only that some line needs the line-by-line check."""
    if not lines:
        return True
    if set(map(type, lines)) != {dict}:
        return False
    column = partial(map, dict.get, lines)
    if any(any(map(dict.__contains__, lines, repeat(key))) for key in _NOT_PLAIN):
        return False
    versions, times, names = list(column(repeat("v"))), list(column(repeat("t"))), list(column(repeat("name")))
    if (set(map(type, versions)) != {int} or min(versions) < 1 or max(versions) > NOTE_VERSION
            or set(map(type, times)) != {str} or not min(times) or max(times) > latest
            or set(map(type, names)) != {str} or not all_known_run_names(names)):
        return False
    if any(set(map(type, column(repeat(key), repeat("")))) != {str} for key in _TEXT_KEYS):
        return False
    parents = [parent for parent in column(repeat("parent"), repeat(_EMPTY)) if parent is not _EMPTY]
    if not set(map(type, parents)) <= {str} or not all(map(_COMMIT_ID.match, parents)):
        return False
    for table in ("params", "metrics", "meta"):
        tables = list(column(repeat(table), repeat(_EMPTY)))
        if set(map(type, tables)) != {dict} or not _all_values(chain.from_iterable(map(dict.values, tables))):
            return False
    data = list(filter(_is_set, column(repeat("data"))))
    if data:
        if set(map(type, data)) != {dict}:
            return False
        fingerprints = list(chain.from_iterable(map(dict.values, data)))
        if set(map(type, fingerprints)) != {dict} or not _all_values(chain.from_iterable(
                map(dict.values, fingerprints))):
            return False
    return True


def _all_values(values: Iterable[Any]) -> bool:
    """True when each of `values` is a stored value (see `_is_value`)."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        return True
    if not kinds <= _SCALARS | {list}:
        return False
    return set(map(type, chain.from_iterable(v for v in values if type(v) is list))) <= _SCALARS


def _is_value(value: Any) -> bool:
    """A stored value: a scalar, or a list of scalars."""
    if isinstance(value, list):
        return all(isinstance(item, (str, int, float)) for item in value)
    return isinstance(value, (str, int, float))


def _toml_bytes(data: Mapping[str, Any]) -> bytes:
    return dumps_toml({k: v for k, v in data.items() if v is not None}).encode()
