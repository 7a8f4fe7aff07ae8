"""`table --group-by COL`: one row per value of a column, the metrics of its runs summarised. Pure, no I/O."""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..project.values import is_number

STATS = ("mean", "std", "min", "max", "count")
RUNS = "runs"  # the column with the number of runs in each group


def group_rows(rows: Sequence[dict[str, Any]], column: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): per value of `column` (in order of first appearance; runs without it form a
    group of their own), the number of runs and, per metric, the mean, std, min, max and count of
    its numeric values (`metrics.acc.mean`, ...).

    std is the sample standard deviation (n - 1, as pandas and numpy's ddof=1 report results over
    seeds): NaN for a single value. NaN values and values that are not numbers are left out, as
    pandas' skipna does; a metric without any number in a group has count 0 and no other stat.
    """
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_key(row.get(column)), []).append(row)
    metrics = list(dict.fromkeys(c for row in rows for c in row if c.startswith("metrics.")))
    columns = [column, RUNS] + [f"{metric}.{stat}" for metric in metrics for stat in STATS]
    return columns, [_summary(column, members, metrics) for members in groups.values()]


def _summary(column: str, members: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    first = members[0]
    row: dict[str, Any] = {column: first[column]} if column in first else {}
    row[RUNS] = len(members)
    for metric in metrics:
        values = [v for v in (m.get(metric) for m in members) if is_number(v) and not math.isnan(v)]
        row[f"{metric}.count"] = len(values)
        if values:
            mean = math.fsum(values) / len(values)
            row[f"{metric}.mean"] = mean
            row[f"{metric}.std"] = (math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
                                    if len(values) > 1 else math.nan)
            row[f"{metric}.min"] = min(values)
            row[f"{metric}.max"] = max(values)
    return row


_MISSING = object()


def _key(value: Any) -> Any:
    """A dictionary key for a cell: lists as tuples, every NaN the same, a missing value its own."""
    if value is None:
        return _MISSING
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return tuple(value) if isinstance(value, list) else value
