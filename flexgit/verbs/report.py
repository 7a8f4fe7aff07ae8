"""`flexgit report`: the runs as one self-contained HTML file that works offline (a CI artifact, a mail).

The table (sortable, filterable, columns to choose), runs side by side with their code diff,
step curves, a metric against a param, and a page per run, all drawn by the page's own script.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._context import PathLike, open_store, report_document
from ..errors import InputError
from ..project.files import write_atomic
from ..view.query import TableQuery
from ..view.report import page


@dataclass(frozen=True)
class Report:
    """The file written and what it holds."""

    path: Path
    runs: int
    bytes: int


def report(output: PathLike = "report.html", branch: str | None = None, where: str | None = None,
           title: str | None = None, removed: bool = False, repo: PathLike | None = None) -> Report:
    """Write the report of the runs of `branch` (those `where` keeps) to `output`, replacing it whole."""
    path = Path(output)
    if path.is_dir():
        raise InputError(f"'{path}' is a folder; name the report's file, e.g. -o {path / 'report.html'}")
    if not path.parent.is_dir():
        raise InputError(f"folder '{path.parent}' does not exist; create it first or write the report elsewhere")
    store = open_store(repo)
    document = report_document(store, TableQuery(branch=branch, where=where, removed=removed), title)
    text = page(document, document["title"])
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write '{path}': {exc.strerror or exc}; write the report elsewhere") from exc
    return Report(path=Path(os.path.abspath(path)), runs=len(document["rows"]), bytes=len(text))
