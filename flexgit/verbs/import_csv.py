"""`flexgit import`: historical results (one CSV row per past run) turned into runs without a code snapshot."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from pathlib import Path
from typing import Sequence

from .._context import check_meta_keys, open_store, target_branch
from .._version import __version__
from ..errors import InputError
from ..project.values import check_key, check_text, parse_scalar
from ..storage.refs import is_valid_run_name
from ..storage.run import Run
from ..storage.store import bad_name_message

META_COLUMNS = ("name", "date", "message")
# Without --metrics, a column whose name looks like a score is a metric, the rest params.
_METRIC_NAME = re.compile(
    r"(^|[_\-. ])(acc|accuracy|loss|f1|auc|roc|precision|recall|score|error|err|mse|mae|rmse|r2|"
    r"bleu|rouge|perplexity|ppl|iou|map)([_\-. ]|$)|^(val|test|train|eval)[_\-.]", re.IGNORECASE)


def is_metric_column(column: str) -> bool:
    """The default guess: does this column hold a result rather than a parameter?"""
    return bool(_METRIC_NAME.search(column))


def import_csv(file: str | os.PathLike, metrics: Sequence[str] | None = None, branch: str | None = None,
               repo: str | os.PathLike | None = None) -> list[Run]:
    """Record each row of `file` as a run with no code snapshot; all rows land or none.

    Columns `name`, `date` and `message` fill those fields; `params.X` / `metrics.X` columns
    go where their prefix says; of the rest, those named in `metrics` (default: those whose
    names look like scores: acc, loss, f1, val_*, ...) are metrics and the others params.
    Empty cells are missing values.
    """
    path = Path(file)
    header, rows = _read(path)
    chosen = set(metrics) if metrics is not None else None
    unknown = sorted((chosen or set()) - set(header))
    if unknown:
        raise InputError(f"--metrics names columns that '{path}' lacks: {', '.join(unknown)}")
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    start = dt.datetime.now(dt.timezone.utc)
    runs = []
    for number, row in enumerate(rows, start=2):
        runs.append(_run(row, header, chosen, path, number, start + dt.timedelta(microseconds=len(runs))))
    names = [r.name for r in runs if r.name]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"'{path}' names the same run twice: {', '.join(duplicates)}; make the names unique")
    for name in names:
        store.check_name_free(name)
    if not runs:
        return []
    return store.write(runs, [None] * len(runs), target)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except FileNotFoundError:
        raise InputError(f"'{path}' does not exist; check the path") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read '{path}' as CSV: {exc}") from None
    if not header:
        raise InputError(f"'{path}' has no header row; the first line must name the columns")
    if len(set(header)) != len(header):
        raise InputError(f"'{path}' has two columns of the same name; rename one")
    for column in header:
        check_key(column, f"the header of '{path}'")
    check_meta_keys([column[5:] for column in header if column.startswith("meta.")], f"the header of '{path}'")
    for number, row in enumerate(rows, start=2):
        if None in row:
            raise InputError(f"line {number} of '{path}' has more cells than the header; fix that line")
    return header, rows


def _run(row: dict[str, str], header: list[str], metrics: set[str] | None, path: Path, number: int,
         when: dt.datetime) -> Run:
    params, results, meta = {}, {}, {"imported": path.name, "flexgit": __version__}
    for column in header:
        text = (row.get(column) or "").strip()
        if not text or column in META_COLUMNS:
            continue
        prefix, dot, key = column.partition(".")
        try:
            value = parse_scalar(text)
        except InputError as exc:
            raise InputError(f"line {number} of '{path}', column {column!r}: {exc}") from None
        if dot and prefix in ("params", "metrics", "meta"):
            {"params": params, "metrics": results, "meta": meta}[prefix][key] = value
        elif (column in metrics) if metrics is not None else is_metric_column(column):
            results[column] = value
        else:
            params[column] = value
    name = (row.get("name") or "").strip()
    if name and not is_valid_run_name(name):
        raise InputError(f"line {number} of '{path}': {bad_name_message(name)}")
    date = (row.get("date") or "").strip() or when.strftime("%Y-%m-%dT%H:%M:%SZ")
    message = check_text((row.get("message") or "").strip(), f"line {number} of '{path}': the message")
    return Run(name=name, params=params, metrics=results, meta=meta, message=message,
               date=date, time=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
