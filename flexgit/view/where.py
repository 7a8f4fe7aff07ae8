"""`--where`: comparisons joined by `and`, read and applied to table rows. Pure functions, no I/O.

Never a silent wrong answer: a condition that cannot be read, or a comparison between values
of different kinds (a number with text, a date with a number), is an InputError that says
why. Text in ISO 8601 form (the `date` column, `2024-06-01`, `"2024-01-01T10:00"`) compares
as a date, in UTC; a date without a time compares by day.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import InputError
from ..project.values import format_value, parse_moment, parse_scalar

EXAMPLE = 'metrics.acc > 0.9 and params.model = "mlp"'
ORDERING = ("<", "<=", ">", ">=")

_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_UNSUPPORTED = re.compile(r"(?<!\S)(?:or|not)(?!\S)|[()]", re.IGNORECASE)  # words alone: `params.or` is a column
_CLAUSE = re.compile(r"(?P<column>[^\s=<>!]+)\s*(?P<op>==|=|!=|<=|>=|<|>)\s*(?P<value>.*)", re.DOTALL)
_BARE_VALUE_STOP = re.compile(r"[\s=<>!\"']")
_KINDS = {"number": "a number", "bool": "a bool", "text": "text", "date": "a date", "list": "a list"}
_PLURALS = {"number": "numbers", "bool": "bools", "text": "text", "date": "dates", "list": "lists"}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Comparison:
    """One `COLUMN OP VALUE`: the column as written (the caller resolves it), the typed value."""

    column: str
    op: str
    value: Any
    raw: str  # the value as written, without quotes
    clause: str
    kind: str  # kind_of(value), once

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether `row` passes; a run without the column never does."""
        if self.column not in row:
            return False
        cell = row[self.column]
        kind = kind_of(cell)
        if kind == self.kind:
            return _same_kind(kind, cell, self.op, self.value)
        if self.op in ORDERING:
            raise InputError(
                f"cannot compare {self.column} {self.op} {self.raw}: run '{row.get('name')}' has {self.column} = "
                f"{format_value(cell, precise=True)}, {_KINDS[kind]}, not {_KINDS[self.kind]}; add a condition "
                "before it that leaves such runs out")
        equal = isinstance(cell, str) and cell == self.raw  # `name = 123`, `lr = auto` beside numbers
        return equal if self.op == "=" else not equal


def parse_where(text: str) -> list[Comparison]:
    """The comparisons of `COLUMN OP VALUE [and ...]`; OP is one of = == != < <= > >=.

    Values are read as TOML scalars (`0.9`, `3`, `true`, `nan`, `"mlp"`); a bare word is text.
    """
    masked = _QUOTED.sub(lambda m: "\0" * len(m.group()), text)  # what lies outside quotes
    if re.search(r"[\"']", masked):
        raise InputError(f"cannot read the condition '{text.strip()}': a quote is not closed")
    unsupported = _UNSUPPORTED.search(masked)
    if unsupported:
        word = unsupported.group()
        raise InputError(f"--where supports only 'and' between comparisons for now, not '{word}'; "
                         f"write e.g. {EXAMPLE} (quote a value that holds '{word}')")
    comparisons, start = [], 0
    for separator in [*_AND.finditer(masked), None]:
        end = separator.start() if separator else len(text)
        comparisons.append(_comparison(text[start:end].strip()))
        start = separator.end() if separator else end
    return comparisons


def row_test(comparisons: Sequence[Comparison], rows: Sequence[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """A test that a row passes every comparison; refuses comparisons no run's value could answer."""
    for comparison in comparisons:
        _check_column(comparison, rows)

    def test(row: dict[str, Any]) -> bool:
        return all(comparison.matches(row) for comparison in comparisons)

    return test


def kind_of(value: Any) -> str:
    """number, bool, text, date (ISO 8601 text) or list."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str) and parse_moment(value) is not None:
        return "date"
    return "text"


def _comparison(clause: str) -> Comparison:
    match = _CLAUSE.fullmatch(clause)
    if not match or not match["value"]:
        raise _unreadable(clause, "write COLUMN OP VALUE")
    raw = match["value"]
    if raw[0] in "\"'":
        value = parse_scalar(raw)
        if not isinstance(value, str) or value == raw:  # not one whole quoted string
            raise _unreadable(clause, "put the whole value in quotes")
        raw = value
    elif _BARE_VALUE_STOP.search(raw):
        raise _unreadable(clause, "join comparisons with 'and', and put text with spaces in quotes")
    else:
        value = parse_scalar(raw)
    op = "=" if match["op"] == "==" else match["op"]
    return Comparison(match["column"], op, value, raw, clause, kind_of(value))


def _unreadable(clause: str, advice: str) -> InputError:
    return InputError(f"cannot read the condition '{clause}'; {advice}, e.g. {EXAMPLE}")


def _check_column(comparison: Comparison, rows: Sequence[dict[str, Any]]) -> None:
    """Refuse a comparison that no value of its column could answer (`acc > 0.9x`, `date < 2024`)."""
    kinds = {kind_of(row[comparison.column]) for row in rows if comparison.column in row}
    kind = comparison.kind
    if kind == "number" and math.isnan(comparison.value) and comparison.op in ORDERING:
        raise InputError(f"cannot compare {comparison.column} {comparison.op} nan: nan has no order; "
                         f"use = nan or != nan")
    if not kinds or kind in kinds or (comparison.op not in ORDERING and "text" in kinds):
        return
    held = " and ".join(_PLURALS[k] for k in sorted(kinds))
    wanted = " or ".join(_KINDS[k] for k in sorted(kinds) if k != "list") or "nothing: --where cannot compare lists"
    example = " (e.g. 2024-06-01 or \"2024-06-01T10:00\")" if "date" in kinds else ""
    raise InputError(f"cannot compare {comparison.column} {comparison.op} {comparison.raw}: {comparison.column} "
                     f"holds {held}, and {comparison.raw} is {_KINDS[kind]}; compare it with {wanted}{example}")


def _same_kind(kind: str, cell: Any, op: str, value: Any) -> bool:
    if kind == "number" and (math.isnan(cell) or math.isnan(value)):
        both = math.isnan(cell) and math.isnan(value)  # `loss = nan` finds the runs whose loss is NaN
        return {"=": both, "!=": not both}.get(op, False)
    if kind == "date":
        cell_moment, moment = parse_moment(cell), parse_moment(value)
        if len(value) == 10:  # a day: `date = 2024-06-01` is any time that day
            return _OPS[op](cell_moment.date(), moment.date())
        return _OPS[op](cell_moment, moment)
    return _OPS[op](cell, value)
