"""Table rows -> one merged table: union of columns, filtering (see where.py), sorting. Pure, no I/O.

Kept free of pandas so that `flexgit table` does not pay pandas' import; the DataFrame
API builds its frame from these rows.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from itertools import chain
from typing import Any, Sequence

from ..errors import InputError
from ..project.values import is_number
from .groups import group_rows
from .where import parse_where, row_test

BASE_COLUMNS = ("name", "id", "date", "message")
ALWAYS_SHOWN = ("name", "id")
TABLES = ("params", "metrics", "meta")


@dataclass(frozen=True)
class TableQuery:
    """What a table asks for: which runs (branch, remote, where), their order, their columns, how many.

    A value: carried whole from the CLI to the renderer, and used whole as the text cache's
    key, so a new option cannot be forgotten on the way.
    """

    branch: str | None = None
    sort_by: str | None = None
    desc: bool = False
    columns: tuple[str, ...] = ()
    where: str | None = None
    only_changed: bool = False
    limit: int | None = None
    remote: str | None = None
    removed: bool = False  # only the runs `flexgit rm` removed
    group_by: str | None = None  # one row per value of this column, the metrics summarised (groups.py)
    running: bool = False  # only the live runs: not recorded yet (project/live.py)

    def __post_init__(self) -> None:
        if isinstance(self.columns, str):  # "a,b" as typed on the command line
            object.__setattr__(self, "columns", tuple(c.strip() for c in self.columns.split(",") if c.strip()))
        else:
            object.__setattr__(self, "columns", tuple(self.columns or ()))
        if self.limit is not None and self.limit < 0:
            raise InputError("--limit must be 0 or more")
        if self.running and (self.removed or self.remote is not None):
            raise InputError("--running lists the runs of this machine not recorded yet; it goes with neither "
                             "--removed nor --remote")

    def mentions_meta(self) -> bool:
        """True when the columns, sort key or condition refer to a meta.* column."""
        return any("meta." in part for part in (*self.columns, self.sort_by or "", self.where or "",
                                                 self.group_by or ""))


@dataclass(frozen=True)
class Table:
    """Rows (dicts; a missing key means the run lacks that value) under ordered columns.

    `chosen`: the columns are the ones `--columns` named, in its order, which no view changes.
    `known`: every key of the rows read, before any was left out (`known_columns`); empty when
    not worked out (a grouped table).
    """

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    chosen: bool = False
    known: tuple[str, ...] = ()


def default_columns(known: Sequence[str]) -> list[str]:
    """Base columns (and status, group and tags, when some run has them), then params.* and metrics.* in
    order of first appearance (meta.* on request only)."""
    status = [column for column in ("status", "group", "tags") if column in known]
    return list(BASE_COLUMNS) + status + [c for table in TABLES[:2] for c in known if c.startswith(table + ".")]


def reading_order(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    """The order people read a table in: name, the metrics, the params that vary, then the rest.

    Params that vary are kept together by their first key part (`model.*`), so that a common
    prefix can be shown once above them; everything else keeps its order.
    """
    first = [c for c in columns if c == "name"] + [c for c in columns if c.startswith("metrics.")]
    varying = [c for c in columns if c.startswith("params.") and _varies(rows, c)]
    parts = list(dict.fromkeys(c.split(".")[1] for c in varying))
    varying.sort(key=lambda c: parts.index(c.split(".")[1]))  # stable: first appearance within a part
    taken = set(first + varying)
    return first + varying + [c for c in columns if c not in taken]


def build_table(rows: Sequence[dict[str, Any]], query: TableQuery | None = None) -> Table:
    """The table `flexgit table` shows, from rows already read (see `Run.table_row`)."""
    query = query or TableQuery()
    known = known_columns(rows)
    if query.where:
        test = row_test(parse_where(query.where), rows, lambda name, optional: _where_column(name, known, optional))
        rows = [row for row in rows if test(row)]
    if query.group_by:
        return _grouped_table(rows, resolve_column(query.group_by, known), query)
    rows = _sorted_and_cut(rows, known, query)
    if query.columns:
        shown = [resolve_column(c, known) for c in query.columns]
    else:  # the columns of the rows shown: a filter may have removed every run with some key
        shown = default_columns(known_columns(rows) if query.where or query.limit is not None else known)
    if query.only_changed:
        shown = [c for c in shown if c in ALWAYS_SHOWN or _varies(rows, c)]
    return Table(tuple(shown), rows, chosen=bool(query.columns), known=tuple(known))


def _sorted_and_cut(rows: Sequence[dict[str, Any]], known: Sequence[str], query: TableQuery) -> list[dict[str, Any]]:
    """`rows` in the order `--sort-by` asks for, cut to `--limit`."""
    if query.sort_by:
        rows = sort_rows(rows, resolve_column(query.sort_by, known), query.desc)
    return list(rows[:query.limit] if query.limit is not None else rows)


def _grouped_table(rows: Sequence[dict[str, Any]], column: str, query: TableQuery) -> Table:
    """The table of `--group-by`: sorted, cut and its columns chosen among the summaries."""
    columns, grouped = group_rows(rows, column)
    grouped = _sorted_and_cut(grouped, columns, query)
    if query.columns:
        columns = [resolve_column(c, columns) for c in query.columns]
    if query.only_changed:
        columns = [c for c in columns if c == column or _varies(grouped, c)]
    return Table(tuple(columns), grouped, chosen=True)  # already in reading order: the group, then its numbers


def known_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The base columns, then every key of `rows` in order of first appearance."""
    return list(dict.fromkeys(chain(BASE_COLUMNS, chain.from_iterable(rows))))


def csv_extends(query: TableQuery) -> bool:
    """True when the table of `query` is its rows in the order written, cut by nothing, under columns
    that only a new key changes: then rows added after all others only add lines at its end."""
    return not (query.where or query.sort_by or query.limit is not None or query.only_changed or query.group_by
                or query.remote is not None)


def resolve_column(name: str, known: Sequence[str]) -> str:
    """A column by its full name, by the key of one params/metrics/meta column (`acc`), or by
    any unambiguous end of its key at a dot (`n_estimators` for `params.model.n_estimators`)."""
    name = name.strip()
    if name in known:
        return name
    keyed = [c for c in known if c.partition(".")[0] in TABLES and c.partition(".")[2] == name]
    for matches in (keyed, [c for c in known if c.endswith("." + name)]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(f"column '{name}' is ambiguous: say {' or '.join(matches)}")
    raise InputError(f"no column '{name}'; {_closest(name, known)}")


def _closest(name: str, known: Sequence[str]) -> str:
    """The columns whose full name or end at a dot is closest to `name`, as a hint."""
    by_name: dict[str, list[str]] = {}
    for column in known:
        parts = column.split(".")
        for i in range(len(parts)):
            by_name.setdefault(".".join(parts[i:]), []).append(column)
    close = difflib.get_close_matches(name, list(by_name), n=5, cutoff=0.6)
    columns = list(dict.fromkeys(c for match in close for c in by_name[match]))[:5]
    if not columns:
        return "list the columns with 'flexgit table --format csv | head -1'"
    return f"did you mean {' or '.join(columns)}?"


def _where_column(name: str, known: Sequence[str], optional: bool) -> str | None:
    """The column `--where` names; None for one no run has when the test allows it (`tags has x`, `exists(k)`)."""
    if optional and name not in known and not any(c.endswith("." + name) for c in known):
        return None
    return resolve_column(name, known)


def _varies(rows: Sequence[dict[str, Any]], column: str) -> bool:
    values = {_hashable(row.get(column, _MISSING)) for row in rows}
    return len(values) > 1


_MISSING = object()


def _hashable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return tuple(value) if isinstance(value, list) else value


# -- sorting -----------------------------------------------------------------------------


def sort_rows(rows: Sequence[dict[str, Any]], column: str, desc: bool = False) -> list[dict[str, Any]]:
    """Sort by `column`: numbers by value, then text; missing values and NaN always last."""
    present = [r for r in rows if _sortable(r.get(column))]
    absent = [r for r in rows if not _sortable(r.get(column))]
    present.sort(key=lambda r: _sort_key(r[column]), reverse=desc)
    return present + absent


def _sortable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _sort_key(value: Any) -> tuple:
    if is_number(value):
        return (0, value, "")
    return (1, 0, str(value))
