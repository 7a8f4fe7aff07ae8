"""A step history as the report carries it: rows of numbers as text, thinned, read without
parsing every line.

The report reads the history of every run it shows (10,000 in `make bench`), so turning each
JSON line into objects would cost most of its time. Lines flexgit writes share one shape per
kind (`{"step": N, "t": "...", "metrics": {...}, "proc": "..."}`, and the `"step": null` lines
of system metrics), so a group of lines of one shape becomes rows by replacing, in the whole
group at once, the text between its values (keys, punctuation, the values every line shares)
with a field or row separator. What makes that sound is checked on the whole group at C speed:
no quote is left (every key and string was where the first line has it) and each line gave
as many fields as the first. A history that fails is parsed line by line with `json`, into the
same rows. The page splits the rows only when it draws a chart.

A block: `{"step": i, "t": j, "metrics": {"loss": k, ...}, "prefix": "2026-01-01T00:", "rows":
"0,00:00.000000Z,1.0;1,..."}`: the field number of the step, of the time (-1 where the lines
have none) and of each metric; a time is `prefix` + its field. Numbers travel as JSON wrote
them, cut after six decimals (JSON writes numbers below 1e-4 with an exponent, which keeps
seven digits): more than a chart shows; `nan`, `inf` and `-inf` as such; anything else (text,
booleans, null) as an empty field.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

# Steps per run (a longer history is thinned evenly, its last step kept) and bytes of output per
# run: the most that fits the budget over all runs, so that one more run rarely changes them.
HISTORY_POINTS = (400, 200, 100, 50)
HISTORY_BUDGET = 1_000_000
LOG_TAIL_BYTES = (32 << 10, 8 << 10, 2 << 10, 512)
LOG_BUDGET = 4 << 20
LOG_TAIL_LINES = 200

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Digits past the sixth decimal are removed by splitting around them and joining what is left (the
# six decimals are the group split keeps): C all the way, where `sub` with a template calls Python per
# match, and a pattern that starts with a look-behind is tried at every byte.
_LONG = re.compile(rb"(\.\d{6})\d+")
# JSON's other values as fields, each looked for by a letter only it has among the fields (memchr is cheap)
_LITERALS = ((b"N", b"NaN", b"nan"), (b"I", b"Infinity", b"inf"), (b"u", b"null", b""), (b"u", b"true", b""),
             (b"f", b"false", b""))
_FIELD, _ROW = b"\x01", b"\x02"
_SEPARATORS = bytes.maketrans(_FIELD + _ROW, b",;")
_NUMBER_END = re.compile(rb"[,}\] ]|$")
_STEP_LINE = b'{"step": '
_SYSTEM_LINE = b'{"step": null'
_STAMP_CHARS = re.compile(r"[0-9T:.Z+-]*")
_DIGITS = b"0123456789"
_SHAPES: dict[bytes, tuple[list[bytes], list[str]]] = {}  # a first line without its digits -> its shape
_SHAPES_KEPT = 256


class _Irregular(Exception):
    """Lines that are not all of one shape: parse the history line by line."""


def curves(data: bytes, points: int = HISTORY_POINTS[0]) -> list[dict[str, Any]] | None:
    """The history `data` (JSON lines) as blocks of rows (see the module), None when no line has
    metrics: at most `points` lines in all (evenly thinned, the last kept); the step lines and the
    system metrics' lines (`"step": null`) each a block."""
    try:
        return _fast(data, points)
    except _Irregular:
        return _slow(data, points)


def _thin(lines: list, points: int) -> list:
    if len(lines) <= points:
        return lines
    stride = len(lines) / points
    return [lines[int(i * stride)] for i in range(points - 1)] + [lines[-1]]


def _fast(data: bytes, points: int) -> list[dict[str, Any]] | None:
    if b"\\" in data or b"\r" in data or _FIELD in data or _ROW in data:
        raise _Irregular  # escapes, odd line ends or our separators: quotes may not split cleanly
    if not data.endswith(b"\n"):
        data += b"\n"
    count = data.count(b"\n")
    steps = data.count(b'\n{"step": ') + data.startswith(_STEP_LINE)
    if steps == count and count <= points and _SYSTEM_LINE not in data:
        # the common case: step lines only, none to thin out: the history is the block's text as it is
        return [_rows(data[:-1], data[:data.index(b"\n")], data[data.rfind(b"\n", 0, -1) + 1:-1], count)]
    lines = data.split(b"\n")
    lines.pop()
    if steps != count:
        stepped = [line for line in lines if line.startswith(_STEP_LINE)]
        others = b"\n".join(line for line in lines if not line.startswith(_STEP_LINE))
        if b'"metrics"' in others or (not stepped and others.strip()):
            raise _Irregular  # lines with metrics in another shape, or not a history flexgit wrote
        lines = stepped
    if not lines:
        return None
    lines = _thin(lines, points)
    if _SYSTEM_LINE not in data:
        return [_rows_of_lines(lines)]
    groups = ([line for line in lines if not line.startswith(_SYSTEM_LINE)],
              [line for line in lines if line.startswith(_SYSTEM_LINE)])
    return [_rows_of_lines(group) for group in groups if group]


def _rows_of_lines(lines: list[bytes]) -> dict[str, Any]:
    return _rows(b"\n".join(lines), lines[0], lines[-1], len(lines))


def _rows(text: bytes, first: bytes, last: bytes, count: int) -> dict[str, Any]:
    """The block of the `count` lines `text` (`first` to `last`) of one shape (that of the first);
    _Irregular when they are not."""
    key = first.translate(None, _DIGITS)
    known = _SHAPES.get(key)
    if known is not None:  # a sweep's histories share their shape: try the one met before first
        try:
            return _rows_as(text, first, last, count, known)
        except _Irregular:
            pass  # the same skeleton but other text between the values: this line's own shape decides
    shape = _shape(first)
    if len(_SHAPES) < _SHAPES_KEPT:
        _SHAPES[key] = shape
    return _rows_as(text, first, last, count, shape)


def _rows_as(text: bytes, first: bytes, last: bytes, count: int, shape: tuple[list[bytes], list[str]]
             ) -> dict[str, Any]:
    separators, slots = list(shape[0]), shape[1]
    prefix = ""
    if "t" in slots:  # the times' shared start goes into the separator before them
        at = slots.index("t")
        prefix = _shared_start(_string_after(first, separators[at]), _string_after(last, separators[at]))
        separators[at] += prefix.encode()
    start, end = separators[0], separators[-1]
    if not text.startswith(start) or not end:
        raise _Irregular
    text = (text[len(start):] + b"\n" + start).replace(end + b"\n" + start, _ROW)
    for separator in sorted(set(separators[1:-1]), key=len, reverse=True):  # a separator inside a longer one
        text = text.replace(separator, _FIELD)
    if b'"' in text or b"," in text or b";" in text or text.count(_ROW) != count \
            or text.count(_FIELD) != (len(slots) - 1) * count:
        raise _Irregular
    for letter, literal, replacement in _LITERALS:
        if letter in text:
            text = text.replace(literal, replacement)
    return _block(slots, prefix, b"".join(_LONG.split(text[:-1].translate(_SEPARATORS))).decode())


def _shape(line: bytes) -> tuple[list[bytes], list[str]]:
    """The text between the values of a line (n + 1 separators) and what each of the n values is:
    `step`, `t`, `m:KEY` (a metric) or `` (another number). Strings other than the time are taken
    to be the same in every line (a process's name): part of a separator."""
    parts = line.split(b'"')
    if len(parts) % 2 == 0:
        raise _Irregular
    separators: list[bytes] = []
    slots: list[str] = []
    text, depth, inside, key = b"", 0, None, b""
    for i, part in enumerate(parts):
        if i % 2:
            value = parts[i - 1].endswith(b": ")
            if value and depth == 0 and key == b"t":
                separators.append(text + b'"')
                slots.append("t")
                text = b'"'
                continue
            text += b'"' + part + b'"'
            if not value:
                key = part
            continue
        if i and part.startswith(b": ") and len(part) > 2 and part[2:3] not in b'{["':
            end = _NUMBER_END.search(part, 2).start()
            separators.append(text + part[:2])
            slots.append("step" if depth == 0 and key == b"step" else
                         "m:" + key.decode() if depth == 1 and inside == b"metrics" else "")
            text, part = b"", part[end:]
        text += part
        depth += part.count(b"{") - part.count(b"}") - (1 if i == 0 else 0)
        if depth == 1 and part.endswith(b"{"):
            inside = key
        if depth > 1 or depth < -1 or b"[" in part:
            raise _Irregular  # values nested deeper than the metrics, or lists: json decides
    if not any(slot.startswith("m:") for slot in slots) or depth != -1:
        raise _Irregular
    return separators + [text], slots


def _string_after(line: bytes, separator: bytes) -> str:
    at = line.find(separator)
    if at < 0:
        raise _Irregular
    start = at + len(separator)
    return line[start:line.index(b'"', start)].decode("utf-8", "replace")


def _shared_start(first: str, last: str) -> str:
    """The start two times share, never the whole of one (a time is never an empty field)."""
    low, high = 0, max(0, min(len(first), len(last)) - 1)  # its length lies in [low, high]
    while low < high:  # halving: a few comparisons of slices, not one per character
        middle = (low + high + 1) // 2
        if first[:middle] == last[:middle]:
            low = middle
        else:
            high = middle - 1
    return first[:low]


def _block(slots: list[str], prefix: str, rows: str) -> dict[str, Any]:
    return {"step": slots.index("step") if "step" in slots else -1, "t": slots.index("t") if "t" in slots else -1,
            "metrics": {slot[2:]: i for i, slot in enumerate(slots) if slot.startswith("m:")},
            "prefix": prefix, "rows": rows}


def _slow(data: bytes, points: int) -> list[dict[str, Any]] | None:
    lines = [line for line in _json_lines(data) if type(line) is dict and type(line.get("metrics")) is dict]
    if not lines:
        return None
    lines = _thin(lines, points)
    groups = [[line for line in lines if line.get("step") is not None],
              [line for line in lines if line.get("step") is None]]  # as the fast path groups them
    return [_group(group) for group in groups if group]


def _group(lines: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [str(key) for key in dict.fromkeys(chain.from_iterable(line["metrics"] for line in lines))  # text: no curve
            if any(key in line["metrics"] and type(line["metrics"][key]) is not str for line in lines)]
    stamps = [line.get("t") if type(line.get("t")) is str and _STAMP_CHARS.fullmatch(line["t"]) else ""
              for line in lines]
    readable = [stamp for stamp in stamps if stamp]
    timed = type(lines[0].get("t")) is str
    prefix = _shared_start(readable[0], readable[-1]) if timed and readable else ""
    if any(stamp and not stamp.startswith(prefix) for stamp in stamps):
        prefix = ""
    rows = ";".join(",".join([_token(line.get("step")), *([stamp[len(prefix):]] if timed else []),
                              *(_token(line["metrics"].get(key)) for key in keys)])
                    for line, stamp in zip(lines, stamps, strict=True))
    slots = ["step", *(["t"] if timed else []), *("m:" + key for key in keys)]
    return _block(slots, prefix, b"".join(_LONG.split(rows.encode())).decode())


def _token(value: Any) -> str:
    """A value as its field: a number as JSON writes it (nan, inf and -inf as such), else empty."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf")
                                             else repr(value))
    return ""


def _json_lines(data: bytes) -> list[Any]:
    lines = [raw for raw in data.splitlines() if raw.strip()]
    try:
        return json.loads(b"[" + b",".join(lines) + b"]")  # one parse for the whole history: the common case
    except (ValueError, RecursionError):
        pass
    parsed = []
    for raw in lines:  # a line cut by a crash: the others still count
        try:
            parsed.append(json.loads(raw))
        except (ValueError, RecursionError):
            continue
    return parsed


def log_tail(data: bytes, size: int = LOG_TAIL_BYTES[0]) -> str:
    """The last lines of a command's output as text: at most LOG_TAIL_LINES lines and `size` bytes,
    terminal colour codes removed."""
    tail = data[-size:]
    text = _ANSI.sub("", tail.decode("utf-8", "replace"))
    lines = text.splitlines()
    cut = len(data) > size or len(lines) > LOG_TAIL_LINES
    return ("…\n" if cut else "") + "\n".join(lines[-LOG_TAIL_LINES:])
