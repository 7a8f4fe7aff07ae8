"""Parameter and metric values: parsing `KEY=VALUE`, flattening nested tables, checking types.

A value is a scalar (str, int, float, bool) or a list of scalars. Nested tables flatten to
dotted keys (`optimizer.lr`). Anything else is refused with an error naming the key.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any, Mapping, Union

from ..errors import InputError
from .formats import INT64_MAX, INT64_MIN, IntegerRangeError, is_int64, loads_toml

Scalar = Union[str, int, float, bool]
Value = Union[Scalar, list]
Flat = dict[str, Value]


# Characters that must not reach a commit message: C0 and C1 controls but newline and tab, DEL,
# and lone surrogates (not text at all; they cannot be written as UTF-8). A NUL in particular
# ends a commit message for libgit2, cutting off the trailers that make a commit flexgit's.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# ... and, in a one-line error, anything that starts a new line or rewrites the terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def check_text(text: str, where: str) -> str:
    """`text` checked for a commit message: refused if it holds a control character other than newline
    and tab (Windows line ends become newlines)."""
    text = text.replace("\r\n", "\n")
    bad = _UNSAFE.search(text)
    if bad:
        raise InputError(f"{where} holds the character {ascii(bad.group())}, which flexgit does not store in a "
                         "commit message; remove it (newlines and tabs are fine)")
    return text


def is_safe_text(text: str) -> bool:
    """True when `text` holds no character `check_text` refuses (for text read back, not typed)."""
    return _UNSAFE.search(text.replace("\r\n", "\n")) is None


def escape_control(text: str) -> str:
    """`text` with the characters `check_text` refuses written as escapes (`\\x00`): for messages that
    flexgit builds from text it did not check (a command line, a commit subject, a pulled note)."""
    return _UNSAFE.sub(lambda found: ascii(found.group())[1:-1], text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """`text` on one printable line: line breaks and other control characters written as escapes."""
    return _UNPRINTABLE.sub(lambda found: ascii(found.group())[1:-1], text)


# The plain decimals TOML reads as Python reads them (no `_`, exponent, sign or leading zero): the
# cells of an imported CSV, read without a TOML parse each (50 s of a 100,000-row import's 60 were
# spent in tomllib before).
@functools.cache
def _plain_numbers() -> tuple[re.Pattern, re.Pattern]:
    """(float, int) patterns, compiled on first use: a record reads no cell."""
    return re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+"), re.compile(r"-?(?:0|[1-9][0-9]{0,17})")  # within 64 bits


def parse_scalar(text: str) -> Scalar:
    """Read `text` as a TOML scalar: `0.1` float, `3` int, `true` bool, `nan`; else the text itself,
    whole (`1\nb = 2` is that text, not 1)."""
    plain_float, plain_int = _plain_numbers()
    if plain_float.fullmatch(text):
        return float(text)
    if plain_int.fullmatch(text):
        return int(text)
    try:
        parsed = loads_toml("v = " + text)
    except IntegerRangeError:
        raise InputError(f"{text} is an integer beyond 64 bits, which flexgit cannot store (TOML allows 64-bit "
                         f"integers); write it as a float ({text}.0) or as quoted text") from None
    except ValueError:
        return text
    except RecursionError:
        raise InputError(f"the value {_excerpt(text)} nests brackets too deeply; give a number, text or bool") from None
    value = parsed["v"]
    if len(parsed) == 1 and isinstance(value, (str, int, float, bool)):
        return value
    return text


def _excerpt(text: str, size: int = 40) -> str:
    return repr(text[:size]) + ("..." if len(text) > size else "")


def parse_assignment(text: str, option: str) -> tuple[str, Scalar]:
    """Split `KEY=VALUE` into a checked key and a scalar value."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise InputError(f"{option} {text!r} has no value; write {option} KEY=VALUE")
    check_key(key, option)
    try:
        return key, parse_scalar(raw.strip())
    except InputError as exc:
        raise InputError(f"{option} {key}: {exc}") from None


def check_key(key: str, where: str) -> None:
    """Refuse keys that cannot be a column name."""
    if not key or key != key.strip() or any(ord(c) < 32 for c in key) or not _is_unicode(key):
        raise InputError(f"bad key {_excerpt(key, 80)} in {where}: keys are non-empty text without control "
                         "characters")


def _is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate, which no UTF-8 file or note can hold."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def flatten(data: Mapping[str, Any], where: str) -> Flat:
    """Flatten nested mappings into dotted keys, checking every value.

    Two keys that flatten to the same dotted key (`"a.b"` beside `a = {b = ...}`) are refused:
    keeping either value would lose the other. Refused too beyond MAX_VALUES values, MAX_TEXT
    characters or MAX_DEPTH levels, counted as the values are reached: a few hundred bytes of
    YAML aliases can expand to millions of values, and each would be stored in the run's note
    and read by every `table`.
    """
    flat: Flat = {}
    _flatten_into(flat, {}, data, where, (), _Budget(where))
    return flat


MAX_VALUES = 100_000
MAX_TEXT = 4 * 1024 * 1024  # characters of keys and text values together
MAX_DEPTH = 64


class _Budget:
    def __init__(self, where: str):
        self.where, self.values, self.text = where, 0, 0

    def spend(self, values: int, text: int) -> None:
        self.values += values
        self.text += text
        if self.values > MAX_VALUES or self.text > MAX_TEXT:
            raise InputError(
                f"{self.where} holds more than {MAX_VALUES:,} values or {MAX_TEXT // 1024 // 1024} MB of text "
                "(YAML aliases included); flexgit keeps summary values, so keep large data in a file of the snapshot")


def _flatten_into(flat: Flat, paths: dict[str, tuple[str, ...]], data: Mapping[str, Any], where: str,
                  path: tuple[str, ...], budget: _Budget) -> None:
    if len(path) >= MAX_DEPTH:
        raise InputError(f"{where} nests tables more than {MAX_DEPTH} levels deep (or a YAML alias refers to "
                         "itself); flatten it")
    for key, value in data.items():
        key = str(key)
        check_key(key, where)
        here = (*path, key)
        if isinstance(value, Mapping):
            budget.spend(0, len(".".join(here)))
            _flatten_into(flat, paths, value, where, here, budget)
            continue
        full = ".".join(here)
        if full in paths:
            raise InputError(f"{_spelled(paths[full])} and {_spelled(here)} in {where} both flatten to '{full}'; "
                             "rename or remove one of them")
        paths[full] = here
        value = check_value(value, full, where)
        items = value if isinstance(value, list) else [value]
        budget.spend(max(1, len(items)), len(full) + sum(len(item) for item in items if isinstance(item, str)))
        flat[full] = value


def _spelled(path: tuple[str, ...]) -> str:
    """A key as it was written: `key 'a.b'`, or `key 'b' of table 'a'` when nested."""
    if len(path) == 1:
        return f"key '{path[0]}'"
    return f"key '{path[-1]}' of table '{'.'.join(path[:-1])}'"


def check_values(values: Mapping[str, Any], where: str) -> dict[str, Value]:
    """`check_value` of each value; plain floats and 64-bit ints (a training loop's) pass without a call."""
    checked = {}
    for key, value in values.items():
        kind = type(value)
        fast = kind is float or (kind is int and INT64_MIN <= value <= INT64_MAX)
        checked[key] = value if fast else check_value(value, key, where)
    return checked


def check_value(value: Any, key: str, where: str) -> Value:
    """Return `value` as a storable value, or refuse it with a message naming `key`."""
    if isinstance(value, int) and not is_int64(value):
        raise InputError(f"key {key!r} in {where} is an integer beyond 64 bits ({value}), which flexgit cannot "
                         "store (TOML allows 64-bit integers); write it as a float or as text")
    if isinstance(value, str):
        if not _is_unicode(value):
            raise InputError(f"key {key!r} in {where} holds text that is not valid Unicode (a lone surrogate, "
                             f"{_excerpt(value)}); fix the value")
        return value
    if isinstance(value, (int, float)):  # bool is an int
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value is None:
        raise InputError(f"key {key!r} in {where} has no value (null); give it a value or leave the key out")
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) or item is None:
                raise InputError(
                    f"key {key!r} in {where} holds a nested list or table; flexgit stores scalars and "
                    "lists of scalars, so flatten it or keep it in a file of the snapshot"
                )
            items.append(check_value(item, key, where))
        return items
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return check_value(value.item(), key, where)
    raise InputError(f"key {key!r} in {where} has a value of type {type(value).__name__}; use a number, text or bool")


def unflatten(flat: Mapping[str, Value]) -> dict[str, Any]:
    """Nest dotted keys back into tables, for readable TOML; keys that clash stay flat."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        if not all(parts) or not _insert(nested, parts, value):
            return dict(flat)
    return nested


def _insert(table: dict, parts: list[str], value: Value) -> bool:
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            return False
    if parts[-1] in table:
        return False
    table[parts[-1]] = value
    return True


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?")


def parse_moment(text: str) -> dt.datetime | None:
    """ISO 8601 text (`2024-06-01`, `2024-06-01T10:00:00Z`) as a UTC datetime, else None.

    Text without a zone is UTC, as flexgit writes dates. Words like `today` are not dates.
    """
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def is_number(value: Any) -> bool:
    """True for int and float values, bools excluded."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: Any, precise: bool = False) -> str:
    """Text for one cell: floats short (6 significant digits) unless `precise`, NaN as `nan`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value) if precise else format(value, ".6g")
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v, precise) for v in value) + "]"
    return str(value)
