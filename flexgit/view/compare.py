"""Runs side by side: which keys differ, by how much, with the runs as columns. Pure, no I/O.

A run comes in as a plain mapping (see `storage.snapshots.comparable`): name, id, date, message,
status, group, tags, params, metrics, meta and the text of its environment file (None when it
has none). Keys are grouped in sections, in this order: `run` (id, date, message, ...),
`params`, `metrics`, `env` (meta keys `env.*`), `packages` (the environment file's
`name==version` lines) and `meta` (the rest of the meta).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..project.values import is_number

if TYPE_CHECKING:
    import pandas

    from .query import Table

SECTIONS = ("run", "params", "metrics", "env", "packages", "meta")
RUN_KEYS = ("id", "date", "message", "status", "group", "tags")
ENV_PREFIX = "env."
SHORT_ID = 10


@dataclass(frozen=True)
class RunLabel:
    """Which run a column is."""

    name: str
    id: str

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID]


@dataclass(frozen=True)
class ComparedKey:
    """One key across the runs: its value in each (None where a run lacks it), whether they differ,
    and for two runs, the change from the first to the second."""

    section: str
    key: str
    values: tuple[Any, ...]
    differs: bool
    delta: float | None = None  # the second number minus the first, when both are numbers
    change: str = ""  # for two runs: the delta as text (`+0.02 (+2.2%)`), or `added`, `removed`, `changed`


@dataclass(frozen=True)
class Comparison:
    """Runs as columns, keys as rows: those that differ, or all of them (`everything`)."""

    runs: tuple[RunLabel, ...]
    keys: tuple[ComparedKey, ...]
    everything: bool = False
    same: int = 0  # keys with one value in every run (left out unless `everything`)

    def to_dataframe(self) -> "pandas.DataFrame":
        """The comparison as a DataFrame indexed by (section, key), a column per run (and `delta` for two)."""
        import pandas as pd

        columns = column_labels(self.runs)
        records = [[key.section, key.key, *key.values, *([key.delta] if len(self.runs) == 2 else [])]
                   for key in self.keys]
        frame = pd.DataFrame(records, columns=["section", "key", *columns, *(["delta"] * (len(self.runs) == 2))])
        return frame.set_index(["section", "key"])

    def table(self) -> "Table":
        """The comparison as a table for csv, json and markdown: section, key, a column per run (and
        `delta` for two runs); a run that lacks a key has no value there."""
        from .query import Table

        two = len(self.runs) == 2
        columns = ["section", "key", *column_labels(self.runs), *(["delta"] * two)]
        rows = [{column: value for column, value in zip(columns, [key.section, key.key, *key.values,
                                                                  *([key.delta] * two)], strict=True)
                 if value is not None} for key in self.keys]
        return Table(tuple(columns), rows, chosen=True)

    def text(self, width: int = 80) -> str:
        """The comparison as aligned text, a section heading above its keys."""
        from .comparetext import comparison_text

        return comparison_text(self, width)

    def _repr_html_(self) -> str:
        from .comparetext import comparison_html

        return comparison_html(self)

    def __repr__(self) -> str:
        return self.text(100)


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared: their differing keys (`comparison`), the files whose code differs
    (`files`: status, path, old_path, added, deleted, binary) and, when asked, the unified diff
    of the code (`patch`; flexgit's own `.flexgit/` left out). `uncompared` says why the code
    was not compared, when it was not (a run imported from a CSV has no snapshot of code)."""

    comparison: Comparison
    files: tuple[Any, ...] = ()
    patch: str | None = None
    uncompared: str = ""

    @property
    def a(self) -> RunLabel:
        return self.comparison.runs[0]

    @property
    def b(self) -> RunLabel:
        return self.comparison.runs[1]

    @property
    def keys(self) -> tuple[ComparedKey, ...]:
        return self.comparison.keys

    def to_dataframe(self) -> "pandas.DataFrame":
        return self.comparison.to_dataframe()

    def text(self, width: int = 80) -> str:
        from .comparetext import diff_text

        return diff_text(self, width)

    def _repr_html_(self) -> str:
        from .comparetext import diff_html

        return diff_html(self)

    def __repr__(self) -> str:
        return self.text(100)


def compare(runs: Sequence[Mapping[str, Any]], everything: bool = False) -> Comparison:
    """The keys of `runs` side by side: those whose values differ (all with `everything`)."""
    columns = [sections(run) for run in runs]
    keys, same = [], 0
    for section in SECTIONS:
        names = list(dict.fromkeys(key for column in columns for key in column.get(section, {})))
        if section != "run":
            names.sort()
        for name in names:
            values = tuple(column.get(section, {}).get(name) for column in columns)
            differs = len({_identity(value) for value in values}) > 1
            if not differs and not everything:
                same += 1
                continue
            delta, change = _change(section, values) if len(values) == 2 and differs else (None, "")
            keys.append(ComparedKey(section, name, values, differs, delta, change))
    labels = tuple(RunLabel(str(run.get("name", "")), str(run.get("id", ""))) for run in runs)
    return Comparison(labels, tuple(keys), everything, 0 if everything else same)


def sections(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's keys by section (see the module's docstring); empty values are left out of `run`."""
    meta = dict(run.get("meta") or {})
    found = {
        "run": {key: (str(run[key])[:SHORT_ID] if key == "id" else run[key])
                for key in RUN_KEYS if run.get(key) not in (None, "", [], ())},
        "params": dict(run.get("params") or {}),
        "metrics": dict(run.get("metrics") or {}),
        "env": {key[len(ENV_PREFIX):]: value for key, value in meta.items() if key.startswith(ENV_PREFIX)},
        "meta": {key: value for key, value in meta.items() if not key.startswith(ENV_PREFIX)},
    }
    if run.get("environment") is not None:
        found["packages"] = packages(run["environment"])
    return found


_SEPARATORS = re.compile(r"[-_.]+")


def packages(text: str) -> dict[str, str]:
    """The packages of an environment file: `name==version` lines (names as pip compares them:
    lower case, `-` for runs of `-_.`); `name @ URL` keeps the URL, any other line stands alone."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for separator in ("==", " @ "):
            name, sep, version = line.partition(separator)
            if sep:
                found[_SEPARATORS.sub("-", name.strip()).lower()] = version.strip()
                break
        else:
            found[line] = ""
    return found


def column_labels(runs: Iterable[RunLabel]) -> list[str]:
    """A column name per run: its name, with its short id where two names would clash (or clash with
    the columns beside them)."""
    runs = list(runs)
    taken = {"section", "key", "delta"}
    names = [run.name for run in runs]
    return [f"{run.name} ({run.short_id})" if run.name in taken or names.count(run.name) > 1 else run.name
            for run in runs]


def _identity(value: Any) -> Any:
    """What makes two values the same: NaN equals NaN, 1 is not 1.0 or true, lists by content."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, list):
        return ("list", tuple(_identity(v) for v in value))
    return (type(value).__name__, value)


def _change(section: str, values: tuple[Any, ...]) -> tuple[float | None, str]:
    """(delta, its text) from the first of two values to the second."""
    old, new = values
    if section == "packages":
        return None, "added" if old is None else "removed" if new is None else "changed"
    if not (is_number(old) and is_number(new)) or not all(map(math.isfinite, (old, new))):
        return None, ""
    delta = new - old
    text = f"{delta:+d}" if isinstance(delta, int) else format(delta, "+.6g")
    if old:
        text += f" ({delta / abs(old):+.1%})"
    return delta, text

