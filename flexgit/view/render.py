"""A table as text: terminal view, CSV, JSON, Markdown. Pure functions, no pandas."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections import Counter
from typing import Any, Sequence

from ..project.values import format_value, is_number
from .query import ALWAYS_SHOWN, Table, reading_order

MAX_CELL = 24  # a wider cell is cut with an ellipsis in the terminal view
GAP = "  "


def render(table: Table, fmt: str, width: int = 80) -> str:
    """The table in format `fmt` (one of FORMATS); `width` bounds the terminal view."""
    if fmt == "csv":
        return to_csv(table)
    if fmt == "json":
        return to_json(table)
    if fmt == "markdown":
        return to_markdown(table)
    return to_text(table, width)


def to_csv(table: Table) -> str:
    return csv_lines(table.columns, table.rows, header=True)


def csv_lines(columns: Sequence[str], rows: Sequence[dict[str, Any]], header: bool = False) -> str:
    """`rows` as CSV lines under `columns` (the header line first with `header`).

    A cell's text depends on its value alone, so lines rendered for new rows extend a CSV text.
    """
    # The csv module already writes str, int and float (repr, nan, inf) as we want and None as
    # an empty cell; only bools and lists need our formatting. Written as it writes them, a bool
    # or a list shows as a cell that starts with True, False or [ (quoted when it holds a comma):
    # only a text with such a cell is written again, with the columns holding them found (a
    # pass over every value: a third of the time). This is the hot loop of `flexgit table --format csv`.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(map(row.get, columns) for row in rows)
    text = out.getvalue()
    if ("True" in text or "False" in text or "[" in text) and _MAYBE_SPECIAL.search(text):
        special = {c for c in columns if any(type(row.get(c)) in (bool, list) for row in rows)}
        if special:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerows([[format_value(row.get(c), precise=True) if c in special else row.get(c)
                               for c in columns] for row in rows])
            text = out.getvalue()
    if not header:
        return text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(columns)
    return out.getvalue() + text


_MAYBE_SPECIAL = re.compile(r'(?:^|,)(?:True|False|"?\[)', re.MULTILINE)  # a cell as csv writes a bool or a list


def to_json(table: Table) -> str:
    """A JSON array of objects; a missing value is null, and so are NaN and infinity.

    JSON has no NaN or infinity; null is what JSON.stringify, jq and pandas write for them,
    and what every strict parser reads (the CSV format keeps nan, inf, -inf).
    """
    records = [{c: row.get(c) for c in table.columns} for row in table.rows]
    try:
        text = json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:  # some value is not finite: the rare case, so only then walk every value
        records = [{c: _finite(v) for c, v in record.items()} for record in records]
        text = json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_markdown(table: Table) -> str:
    def cell(value: Any) -> str:
        return format_value(value, precise=True).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in table.columns) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def to_text(table: Table, width: int = 80) -> str:
    """Aligned columns in reading order (see `reading_order`), cut to MAX_CELL, under short
    headers; too wide a table is split into blocks that fit `width`.

    Every block repeats the name column so each line still says which run it is.
    """
    columns = list(table.columns) if table.chosen else reading_order(table.columns, table.rows)
    heads = headers(columns)
    cells = {c: [_short(_cell_text(row.get(c), c)) for row in table.rows] for c in columns}
    widths = {c: max([display_width(heads[c][1])] + [display_width(v) for v in cells[c]]) for c in columns}
    numeric = {c: all(_is_numeric_cell(row.get(c)) for row in table.rows) for c in columns}
    units = _units(columns, heads)
    for unit in units:  # a prefix shown once must fit above its columns
        label = display_width(heads[unit[0]][0])
        widths[unit[-1]] += max(0, label - _span(unit, widths))
    parts = []
    for block in _blocks(units, widths, width):
        lines = [_prefix_line(block, heads, widths)] if any(heads[c][0] for c in block) else []
        lines.append(GAP.join(_align(heads[c][1], widths[c], numeric[c]) for c in block).rstrip())
        for i in range(len(table.rows)):
            lines.append(GAP.join(_align(cells[c][i], widths[c], numeric[c]) for c in block).rstrip())
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def headers(columns: list[str]) -> dict[str, tuple[str, str]]:
    """Column -> (prefix shown once above it, or "", its own header).

    `params.` and `metrics.` are dropped where the rest names no other column; a common prefix
    of adjacent headers (`model.` of `model.depth`, `model.n_estimators`) becomes the prefix.
    """
    rests = {c: c.partition(".")[2] if c.partition(".")[0] in ("params", "metrics") else c for c in columns}
    counts = Counter(rests.values())
    short = {c: rests[c] if counts[rests[c]] == 1 else c for c in columns}
    heads = {c: ("", short[c]) for c in columns}
    for unit in _runs(columns, lambda c: short[c].split(".")[0] if "." in short[c] else None):
        if len(unit) > 1:
            prefix = _common_prefix([short[c] for c in unit])
            heads.update({c: (prefix, short[c][len(prefix):]) for c in unit})
    return heads


def _common_prefix(names: list[str]) -> str:
    """The longest start, ending at a dot, that all `names` share and none is whole."""
    parts = [name.split(".")[:-1] for name in names]
    common = []
    for level in zip(*parts, strict=False):  # up to the shortest
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return ".".join(common) + "."


def _runs(columns: list[str], key) -> list[list[str]]:
    """`columns` cut into runs of adjacent columns with one `key` (None: a run of its own)."""
    runs: list[list[str]] = []
    for column in columns:
        k = key(column)
        if runs and k is not None and key(runs[-1][0]) == k:
            runs[-1].append(column)
        else:
            runs.append([column])
    return runs


def _units(columns: list[str], heads: dict[str, tuple[str, str]]) -> list[list[str]]:
    """Columns that stay in one block where they can: those under one prefix, or one alone."""
    return _runs(columns, lambda c: heads[c][0] or None)


def _span(columns: list[str], widths: dict[str, int]) -> int:
    return sum(widths[c] for c in columns) + len(GAP) * (len(columns) - 1)


def _prefix_line(block: list[str], heads: dict[str, tuple[str, str]], widths: dict[str, int]) -> str:
    cells = []
    for run in _runs(block, lambda c: heads[c][0] or None):
        span = _span(run, widths)
        label = cut(heads[run[0]][0], span)  # cut only where a block split a prefix's columns
        cells.append(label + " " * (span - display_width(label)))
    return GAP.join(cells).rstrip()


def _blocks(units: list[list[str]], widths: dict[str, int], width: int) -> list[list[str]]:
    keys = [c for unit in units for c in unit if c in ALWAYS_SHOWN[:1]]
    rest = [unit for unit in units if unit != keys]
    keys_used = sum(widths[c] + len(GAP) for c in keys)
    # a unit wider than a block of its own is laid out column by column
    rest = [part for unit in rest for part in ([unit] if keys_used + _span(unit, widths) <= width else
                                               [[c] for c in unit])]
    blocks: list[list[str]] = []
    current, used = list(keys), keys_used
    for unit in rest:
        need = _span(unit, widths) + len(GAP)
        if used + need > width + len(GAP) and len(current) > len(keys):
            blocks.append(current)
            current, used = list(keys), keys_used
        current.extend(unit)
        used += need
    blocks.append(current)
    return blocks


def _cell_text(value: Any, column: str) -> str:
    if column == "date" and isinstance(value, str) and len(value) == 20 and value[10] == "T":
        return value[:10] + " " + value[11:16]  # to the minute: the full date is in csv/json/show
    if column == "message" and isinstance(value, str):
        return value.strip().split("\n", 1)[0]
    return format_value(value).replace("\n", " ")


def display_width(text: str) -> int:
    """The columns `text` takes in a terminal: East Asian wide and fullwidth characters (CJK,
    most emoji) take 2, combining marks and zero-width joiners 0."""
    if text.isascii():
        return len(text)
    return sum(map(_char_width, text))


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _short(text: str) -> str:
    return cut(text, MAX_CELL)


def cut(text: str, most: int) -> str:
    """`text`, cut with an ellipsis to at most `most` display columns."""
    if display_width(text) <= most:
        return text
    kept, used = [], 0
    for char in text:
        used += _char_width(char)
        if used > most - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _is_numeric_cell(value: Any) -> bool:
    return value is None or is_number(value)


def _align(text: str, width: int, right: bool) -> str:
    pad = " " * (width - display_width(text))
    return pad + text if right else text + pad
