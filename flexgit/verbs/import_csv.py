"""`flexgit import`: historical results (one CSV row per past run) turned into runs without a code snapshot."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from .._context import check_meta_keys, open_store, target_branch
from .._version import __version__
from ..errors import InputError
from ..project.dates import AmbiguousDates, check_order, column_order, read_date, reads_either_way
from ..project.values import check_key, check_text, parse_scalar
from ..storage.refs import BranchRef, is_valid_run_name
from ..storage.run import Run
from ..storage.store import PACK_FROM, Store, bad_name_message

META_COLUMNS = ("name", "date", "message")
ROW_KEY = "import_row"  # meta: the fingerprint of the CSV row a run was imported from
DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
SNIFF_CHARS = 64 * 1024
_INDEX_HEADER = re.compile(r"(Unnamed: \d+)?")  # pandas writes its index under '', reads it back as 'Unnamed: 0'
# Without --metrics, a column whose name looks like a score is a metric, the rest params.
_METRIC_NAME = re.compile(
    r"(^|[_\-. ])(acc|accuracy|loss|f1|auc|roc|precision|recall|score|error|err|mse|mae|rmse|r2|"
    r"bleu|rouge|perplexity|ppl|iou|map)([_\-. ]|$)|^(val|test|train|eval)[_\-.]", re.IGNORECASE)
# ... unless it names a setting: test_size, val_split, train_steps, eval_every, val_file.
_SETTING_NAME = re.compile(r"[_\-. ](size|split|ratio|frac|fraction|steps?|batch|epochs?|every|interval|freq|"
                           r"seed|samples|file|path|dir)$", re.IGNORECASE)


def is_metric_column(column: str) -> bool:
    """The default guess: does this column hold a result rather than a parameter?"""
    return bool(_METRIC_NAME.search(column)) and not _SETTING_NAME.search(column)


class Imported(list):
    """The runs an import recorded (a list of Run), and `notes`: what it decided on the way
    (the delimiter, a column left out, names numbered, dates kept as text)."""

    def __init__(self, runs: Iterable[Run] = (), notes: Iterable[str] = ()):
        super().__init__(runs)
        self.notes = list(notes)


@dataclass(frozen=True)
class Table:
    """A CSV file read: its path, header, rows (line number, cells: one per column) and what reading it
    noted. Cells stay lists, not a dict per row: a dict each took 60 MB more at 100,000 rows."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]
    notes: list[str]

    def row(self, cells: list[str]) -> dict[str, str]:
        return dict(zip(self.header, cells, strict=True))


def import_csv(file: str | os.PathLike, metrics: Sequence[str] | None = None, branch: str | None = None,
               repo: str | os.PathLike | None = None, again: bool = False,
               date_order: str | None = None) -> Imported:
    """Record each row of `file` as a run with no code snapshot; all rows land or none.

    Columns `name`, `date` and `message` fill those fields; `params.X` / `metrics.X` columns
    go where their prefix says; of the rest, those named in `metrics` (default: those whose
    names look like scores: acc, loss, f1, val_*, ...) are metrics and the others params.
    Empty cells are missing values. The delimiter (`,` `;` tab `|`) is detected; a leading
    unnamed column of row numbers (pandas' index) is left out. Dates are read as ISO 8601;
    `date_order` ("dmy" or "mdy") says how to read 05/04/2023 when the file does not. A name
    on several rows becomes name, name-2, name-3. Rows imported before are refused unless
    `again`; then a name already taken is numbered too. `.notes` of the result says what
    was decided on the way.
    """
    table = _read(Path(file))
    path = table.path
    check_order(date_order)
    chosen = set(metrics) if metrics is not None else None
    unknown = sorted((chosen or set()) - set(table.header))
    if unknown:
        raise InputError(f"--metrics names columns that '{path}' lacks: {', '.join(unknown)}")
    dates, notes = _dates(table, date_order)
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    start = dt.datetime.now(dt.timezone.utc)
    runs = [_run(table.row(cells), table, chosen, number, dates[i], start + dt.timedelta(microseconds=i))
            for i, (number, cells) in enumerate(table.rows)]
    numbers = [number for number, _ in table.rows]
    table.rows.clear()  # the cells are in the runs now: 100,000 rows are not held twice while they are written
    del dates
    if not again:
        _refuse_imported_before(store, target, runs, path)
    runs, renamed = _names(store, runs, numbers, table.path, again)
    if not runs:
        return Imported([], table.notes)
    written = store.write(runs, [None] * len(runs), target)
    return Imported(written, table.notes + renamed + notes)


def _read(path: Path) -> Table:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"'{path}' does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read '{path}' as CSV: {exc}") from None
    delimiter = _delimiter(text)
    numbered = []  # (the line a record starts on, its cells), blank lines skipped
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        last = 0
        for cells in reader:
            if cells:
                numbered.append((last + 1, cells))
            last = reader.line_num
    except csv.Error as exc:
        raise InputError(f"cannot read '{path}' as CSV: {exc}") from None
    notes = [] if delimiter == "," else [f"read as a {_DELIMITER_NAMES[delimiter]}-separated file"]
    if not numbered:
        raise InputError(f"'{path}' has no header row; the first line must name the columns")
    (_, header), body = numbered[0], numbered[1:]
    for number, cells in body:
        if len(cells) > len(header):
            raise InputError(f"line {number} of '{path}' has more cells than the header; fix that line")
    dropped = 0
    while header and _INDEX_HEADER.fullmatch(header[0]) and all(_is_row_number(c) for _, c in body):
        header, body, dropped = header[1:], [(n, c[1:]) for n, c in body], dropped + 1
    if dropped:
        which = "the first column" if dropped == 1 else f"the first {dropped} columns"
        notes.append(f"left out {which}: no name, row numbers (the index pandas writes)")
    if len(set(header)) != len(header):
        raise InputError(f"'{path}' has two columns of the same name; rename one")
    for column in header:
        check_key(column, f"the header of '{path}'")
    check_meta_keys([column[5:] for column in header if column.startswith("meta.")], f"the header of '{path}'")
    for _, cells in body:
        cells.extend([""] * (len(header) - len(cells)))
    return Table(path, header, body, notes)


def _delimiter(text: str) -> str:
    """The delimiter csv.Sniffer finds in the first lines; a comma when it finds none."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _is_row_number(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().isdigit()


def _dates(table: Table, order: str | None) -> tuple[list[str | None], list[str]]:
    """The `date` of each row as ISO 8601 (None when empty), and notes on how dates were read."""
    where = table.header.index("date") if "date" in table.header else None
    texts = [cells[where].strip() if where is not None else "" for _, cells in table.rows]
    try:
        found, shown_by = column_order(texts) if order is None else (order, None)
    except AmbiguousDates as exc:
        raise InputError(f"'{table.path}': {exc}; say which with --date-order dmy (day first) "
                         "or --date-order mdy (month first)") from None
    dates = [(read_date(text, found) or text) if text else None for text in texts]
    notes = []
    either = next((text for text in texts if reads_either_way(text)), None)
    if either:
        why = f"as --date-order {order} says" if order else f"as {shown_by} shows"
        notes.append(f"dates like {either} read {'day' if found == 'dmy' else 'month'}-first, {why}")
    kept: dict[str, list[int]] = {}  # text -> its lines
    for (number, _), text in zip(table.rows, texts, strict=True):
        if text and read_date(text, found) is None:
            kept.setdefault(text, []).append(number)
    if kept:
        shown = [f"'{text}' (line {lines[0]}{f' and {len(lines) - 1} more' if len(lines) > 1 else ''})"
                 for text, lines in list(kept.items())[:3]]
        notes.append(f"{sum(map(len, kept.values()))} date(s) kept as text, not a date flexgit reads: "
                     f"{', '.join(shown)}{', ...' if len(kept) > 3 else ''}")
    return dates, notes


def _run(row: dict[str, str], table: Table, metrics: set[str] | None, number: int, date: str | None,
         when: dt.datetime) -> Run:
    path = table.path
    params, results = {}, {}
    meta = {"imported": path.name, ROW_KEY: fingerprint(row), "flexgit": __version__}
    for column in table.header:
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
    message = check_text((row.get("message") or "").strip(), f"line {number} of '{table.path}': the message")
    return Run(name=name, params=params, metrics=results, meta=meta, message=message,
               date=date or when.strftime("%Y-%m-%dT%H:%M:%SZ"), time=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def fingerprint(row: dict[str, str]) -> str:
    """What identifies a CSV row whatever the column order: a hash of its non-empty cells."""
    cells = {column: text.strip() for column, text in row.items() if text.strip()}
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()[:16]


def _refuse_imported_before(store: Store, target: BranchRef, runs: list[Run], path: Path) -> None:
    """Refuse rows that an earlier import recorded on this branch: importing twice would duplicate them."""
    before: dict[str, str] = {}
    for run in store.runs(target):
        if run.meta.get(ROW_KEY):
            before.setdefault(str(run.meta[ROW_KEY]), run.name)
    again = [before[run.meta[ROW_KEY]] for run in runs if run.meta[ROW_KEY] in before]
    if again:
        names = list(dict.fromkeys(again))  # identical rows were imported as one run's row
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise InputError(f"{len(again)} of the {len(runs)} rows of '{path}' were imported before (as {shown}); "
                         "nothing imported. To import them once more, add --again")


class _Avoid:
    """The names a row's run must not take: those given already, and those other rows ask for
    (a view, not a copy: copying them for each row made an import quadratic)."""

    def __init__(self, taken: set[str], asked: set[str], own: str):
        self.taken, self.asked, self.own = taken, asked, own

    def __contains__(self, name: object) -> bool:
        return name in self.taken or (name != self.own and name in self.asked)


def _names(store: Store, runs: list[Run], numbers: list[int], path: Path,
           again: bool) -> tuple[list[Run], list[str]]:
    """Runs with final names: a name on several rows numbered (name, name-2, ...), a name a run
    already has refused (numbered with `again`); and notes on what was numbered. `numbers`: the
    line each run's row started on."""
    asked = {run.name for run in runs if run.name}
    in_use = store.names_in_use() if len(runs) >= PACK_FROM else None  # one read, not a lookup per row
    taken: set[str] = set()
    given: dict[str, list[str]] = {}
    named = []
    for number, run in zip(numbers, runs, strict=True):
        if run.name:
            if not again:
                store.check_name_free(run.name, f"change the name on line {number} of '{path}', "
                                                "or add --again to import it under a numbered name", in_use)
            name = store.free_name(run.name, _Avoid(taken, asked, run.name), in_use)
            given.setdefault(run.name, []).append(name)
            taken.add(name)
            if name != run.name:  # a copy only when the name changes: an import holds no second set of runs
                run = replace(run, name=name)
        named.append(run)
    notes = [f"{len(names)} row(s) named '{name}' recorded as {', '.join(names)}"
             for name, names in given.items() if names != [name]]
    return named, notes
