"""The conditions `--where` is read into (see where.py), applied to table rows. Pure, no I/O.

Never a silent wrong answer: a comparison between values of different kinds (a number with
text, a date with a number) is an InputError that says why. Text in ISO 8601 form (the `date`
column, `2024-06-01`) compares as a date, in UTC; a date without a time compares by day. A run
that lacks a column fails every comparison on it (so `not` of one passes); `exists(KEY)` asks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Protocol, Sequence

from ..errors import InputError
from ..project.values import format_value, parse_moment

ORDERING = ("<", "<=", ">", ">=")
_KINDS = {"number": "a number", "bool": "a bool", "text": "text", "date": "a date", "list": "a list"}
_PLURALS = {"number": "numbers", "bool": "bools", "text": "text", "date": "dates", "list": "lists"}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}

# A column name as written -> the column, or None for one no run has (only when `optional`).
Resolver = Callable[[str, bool], Optional[str]]
Row = dict[str, Any]


class Condition(Protocol):
    """A node of a parsed condition."""

    def resolved(self, resolve: Resolver) -> Condition:
        """The same condition naming columns by their full names."""

    def check(self, rows: Sequence[Row]) -> None:
        """Refuse what no value of the rows' columns could answer (`acc > 0.9x`)."""

    def matches(self, row: Row) -> bool:
        """Whether `row` passes."""


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


def _kinds(rows: Sequence[Row], column: str | None) -> set[str]:
    return {kind_of(row[column]) for row in rows if column in row}


def _held(kinds: set[str]) -> str:
    return " and ".join(_PLURALS[k] for k in sorted(kinds))


@dataclass(frozen=True)
class Comparison:
    """`COLUMN OP VALUE`, OP one of = != < <= > >=: the typed value, and its text as written."""

    column: str
    op: str
    value: Any
    raw: str  # the value as written, without quotes
    kind: str = field(init=False)  # kind_of(value), once: asked for every row

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(self.value))

    def resolved(self, resolve: Resolver) -> Condition:
        return replace(self, column=resolve(self.column, False))

    def check(self, rows: Sequence[Row]) -> None:
        kinds, kind = _kinds(rows, self.column), self.kind
        if kind == "number" and math.isnan(self.value) and self.op in ORDERING:
            raise InputError(f"cannot compare {self.column} {self.op} nan: nan has no order; use = nan or != nan")
        if not kinds or kind in kinds or (self.op not in ORDERING and "text" in kinds):
            return
        wanted = " or ".join(_KINDS[k] for k in sorted(kinds) if k != "list") or \
            "nothing: --where cannot compare lists (ask whether one holds a value with has)"
        example = " (e.g. 2024-06-01 or \"2024-06-01T10:00\")" if "date" in kinds else ""
        raise InputError(f"cannot compare {self.column} {self.op} {self.raw}: {self.column} holds {_held(kinds)}, "
                         f"and {self.raw} is {_KINDS[kind]}; compare it with {wanted}{example}")

    def matches(self, row: Row) -> bool:
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


@dataclass(frozen=True)
class Match:
    """`COLUMN ~ "REGEX"`: text (or dates) where Python's re.search finds the pattern."""

    column: str
    pattern: re.Pattern[str]

    def resolved(self, resolve: Resolver) -> Condition:
        return replace(self, column=resolve(self.column, False))

    def check(self, rows: Sequence[Row]) -> None:
        kinds = _kinds(rows, self.column)
        if kinds and not kinds & {"text", "date"}:
            raise InputError(f"cannot match {self.column} ~ \"{self.pattern.pattern}\": {self.column} holds "
                             f"{_held(kinds)}, and ~ matches text; compare it with = < > or has instead")

    def matches(self, row: Row) -> bool:
        cell = row.get(self.column)
        return isinstance(cell, str) and self.pattern.search(cell) is not None


@dataclass(frozen=True)
class Has:
    """`COLUMN has VALUE`: a list-valued column (such as `tags`) that holds the value.

    A column no run has matches nothing: `tags has "best"` works before any run is tagged."""

    column: str | None
    value: Any
    raw: str

    def resolved(self, resolve: Resolver) -> Condition:
        return replace(self, column=resolve(self.column, True))

    def check(self, rows: Sequence[Row]) -> None:
        kinds = _kinds(rows, self.column)
        if kinds and "list" not in kinds:
            raise InputError(f"cannot ask whether {self.column} has {self.raw}: {self.column} holds {_held(kinds)}, "
                             f"not lists; compare it with = instead")

    def matches(self, row: Row) -> bool:
        cell = row.get(self.column)
        return isinstance(cell, list) and any(self._equal(item) for item in cell)

    def _equal(self, item: Any) -> bool:
        kind = kind_of(item)
        if kind == kind_of(self.value):
            return _same_kind(kind, item, "=", self.value)
        return isinstance(item, str) and item == self.raw


@dataclass(frozen=True)
class Exists:
    """`exists(COLUMN)`: the run has a value for the column (any value, NaN included)."""

    column: str | None

    def resolved(self, resolve: Resolver) -> Condition:
        return replace(self, column=resolve(self.column, True))

    def check(self, rows: Sequence[Row]) -> None:
        return None

    def matches(self, row: Row) -> bool:
        return self.column in row


@dataclass(frozen=True)
class Not:
    """`not A`: true where A is false, also for a run that lacks A's column."""

    part: Condition

    def resolved(self, resolve: Resolver) -> Condition:
        return Not(self.part.resolved(resolve))

    def check(self, rows: Sequence[Row]) -> None:
        self.part.check(rows)

    def matches(self, row: Row) -> bool:
        return not self.part.matches(row)


@dataclass(frozen=True)
class And:
    """`A and B ...`, read left to right: a part that would refuse a run can be guarded by one before it."""

    parts: tuple[Condition, ...]

    def resolved(self, resolve: Resolver) -> Condition:
        return And(tuple(part.resolved(resolve) for part in self.parts))

    def check(self, rows: Sequence[Row]) -> None:
        for part in self.parts:
            part.check(rows)

    def matches(self, row: Row) -> bool:
        return all(part.matches(row) for part in self.parts)


@dataclass(frozen=True)
class Or:
    """`A or B ...`, read left to right."""

    parts: tuple[Condition, ...]

    def resolved(self, resolve: Resolver) -> Condition:
        return Or(tuple(part.resolved(resolve) for part in self.parts))

    def check(self, rows: Sequence[Row]) -> None:
        for part in self.parts:
            part.check(rows)

    def matches(self, row: Row) -> bool:
        return any(part.matches(row) for part in self.parts)


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
