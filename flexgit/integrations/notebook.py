"""Jupyter notebooks: `flexgit.record()` called from a notebook knows which notebook it runs in.

The run's snapshot holds the notebook file as it is saved on disk (outputs included; comparisons
of runs look at its cells' code only, see `project/notebooks.py`). The kernel cannot see the
editor's unsaved changes, but it knows the code it ran: when a cell it ran is not in the saved
file (edited and not saved, or changed since it ran), recording warns, since the snapshot would
not hold the code that produced the results. The notebook is found as Jupyter names it to its
kernel: `JPY_SESSION_NAME` (Jupyter server, nbclient), or VS Code's `__vsc_ipynb_file__`.
Nothing here imports IPython: it is asked only when a kernel already loaded it.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from .._context import open_store
from ..project.notebooks import code_sources
from ..storage.run import Run
from ..verbs.record import record as record_working_tree


class NotebookWarning(UserWarning):
    """The notebook on disk is not the code the kernel ran, or is not in the run's snapshot."""


@functools.wraps(record_working_tree)
def record(*args: Any, **kwargs: Any) -> Run:
    notebook = current_notebook()
    if notebook is None:
        return record_working_tree(*args, **kwargs)
    unsaved = unsaved_cells(notebook)
    if unsaved:
        first = unsaved[-1].strip().splitlines()[0][:60]
        warnings.warn(f"{notebook.name} on disk does not hold {len(unsaved)} cell(s) this kernel ran (the latest "
                      f"begins {first!r}): the notebook has unsaved changes, or cells changed since they ran. Save "
                      "it, and run it again, so that the run keeps the code that produced its results",
                      NotebookWarning, stacklevel=2)
    store = open_store(kwargs.get("repo"))
    relative = _inside(notebook, store.repo.workdir)
    if relative is not None:
        kwargs["meta"] = {"notebook": relative, **(kwargs.get("meta") or {})}
    run = record_working_tree(*args, **kwargs)
    if relative is None or store.repo.tree_entry(store.repo.commit(run.id)[0], relative) is None:
        warnings.warn(f"{notebook} is not in run {run.name}'s snapshot (outside the working tree, ignored by git, "
                      "or over max_file_size); keep the notebook in the project to record its code",
                      NotebookWarning, stacklevel=2)
    return run


def current_notebook() -> Path | None:
    """The notebook file the running Jupyter kernel executes, when the kernel was told it."""
    shell = _kernel_shell()
    if shell is None:
        return None
    names = [shell.user_ns.get("__vsc_ipynb_file__"), shell.user_ns.get("__session__"),
             os.environ.get("JPY_SESSION_NAME")]
    for name in names:
        if isinstance(name, str) and name.lower().endswith(".ipynb"):
            path = Path(name)
            for candidate in (path, Path.cwd() / path.name):  # a server may give it relative to its root
                if candidate.is_file():
                    return candidate.resolve()
    return None


def unsaved_cells(notebook: Path) -> list[str]:
    """The cells the kernel ran (oldest first) whose source is not a code cell of the saved file."""
    shell = _kernel_shell()
    if shell is None:
        return []
    try:
        saved = code_sources(notebook.read_bytes())
    except OSError:
        return []
    ran = [str(source) for source in shell.history_manager.input_hist_raw if str(source).strip()]
    missing = []
    for source in ran:
        if source.rstrip() not in saved and source not in missing:
            missing.append(source)
    return missing


def _kernel_shell() -> Any:
    """The IPython shell of a running Jupyter kernel, or None outside one."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return None
    shell = sys.modules["IPython"].get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _inside(path: Path, workdir: Path) -> str | None:
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return None
