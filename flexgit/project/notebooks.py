"""Jupyter notebooks as code: the cells' sources without their outputs.

A run keeps a notebook file exactly as it was saved, outputs included. Comparing two versions of a
notebook compares their code only (each cell's type and source), so a run that re-executed the
same notebook has not changed its code.
"""

from __future__ import annotations

import json
from typing import Any

SUFFIX = ".ipynb"
MAX_BYTES = 64 << 20  # a notebook larger than this is compared as bytes, never parsed


def is_notebook(path: str) -> bool:
    return path.lower().endswith(SUFFIX)


def cells_of(data: bytes) -> list[tuple[str, str]] | None:
    """(cell type, source) of each cell of a notebook file, or None when `data` is not a notebook."""
    if len(data) > MAX_BYTES:
        return None
    try:
        notebook = json.loads(data)
    except (ValueError, RecursionError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    found = []
    for cell in cells:
        if not isinstance(cell, dict):
            return None
        found.append((str(cell.get("cell_type", "")), _source(cell.get("source", ""))))
    return found


def _source(source: Any) -> str:
    """A cell's source: nbformat writes it as a list of lines or as one text."""
    if isinstance(source, list):
        return "".join(str(line) for line in source)
    return str(source)


def same_code(old: bytes, new: bytes) -> bool:
    """True when two notebook files hold the same cells (type and source), whatever their outputs,
    execution counts and metadata; files that are not notebooks are the same only when equal."""
    if old == new:
        return True
    old_cells, new_cells = cells_of(old), cells_of(new)
    return old_cells is not None and old_cells == new_cells


def code_sources(data: bytes) -> set[str]:
    """The sources of a notebook's code cells, each without trailing whitespace."""
    return {source.rstrip() for kind, source in cells_of(data) or () if kind == "code"}
