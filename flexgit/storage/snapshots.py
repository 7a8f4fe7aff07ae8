"""What a run's tree holds beside its row, read for comparing runs: the code change between two
snapshots, the step history, the environment's packages.

flexgit's own folder `.flexgit/` is never part of a code change: it holds the run's records,
which `diff` compares as values, not as text.
"""

from __future__ import annotations

from typing import Any

from ..project.notebooks import is_notebook, same_code
from .gitrepo import FileChange, GitRepo
from .refs import FLEXGIT_DIR, HISTORY_FILE
from .run import Run

ENVIRONMENT_FILE = "environment.txt"  # `name==version` lines of the packages a run ran with, when recorded


def code_changes(repo: GitRepo, old: Run, new: Run, patch: bool = False) -> list[FileChange]:
    """The files whose code differs from run `old` to run `new` (`.flexgit/` left out), with their
    unified diffs when `patch`; a notebook whose cells hold the same code (saved again with other
    outputs) has not changed."""
    old_tree, new_tree = _tree(repo, old), _tree(repo, new)
    return [change for change in repo.tree_changes(old_tree, new_tree, leave_out=FLEXGIT_DIR, patch=patch)
            if not same_notebook(repo, old_tree, new_tree, change.status, change.path)]


def same_notebook(repo: GitRepo, old_tree: str | None, new_tree: str, status: str, path: str) -> bool:
    """True when `path`, modified from `old_tree` to `new_tree`, is a notebook whose code is unchanged."""
    if status != "M" or old_tree is None or not is_notebook(path):
        return False
    return same_code(repo.read_blob(repo.tree_entry(old_tree, path)), repo.read_blob(repo.tree_entry(new_tree, path)))


def run_file(repo: GitRepo, run: Run, name: str) -> bytes | None:
    """The bytes of `.flexgit/NAME` in the run's tree, or None when it has none (or it is not a file)."""
    oid = repo.tree_entry(_tree(repo, run), f"{FLEXGIT_DIR}/{name}")
    if oid is None or repo.is_tree(oid):
        return None
    return repo.read_blob(oid)


def history(repo: GitRepo, run: Run) -> bytes:
    """The run's step history (`flexgit.log` lines), empty when it logged none."""
    return run_file(repo, run, HISTORY_FILE) or b""


def environment(repo: GitRepo, run: Run) -> str | None:
    """The text of the run's environment file, or None when it was recorded without one."""
    data = run_file(repo, run, ENVIRONMENT_FILE)
    return data.decode("utf-8", "replace") if data is not None else None


def comparable(repo: GitRepo, run: Run) -> dict[str, Any]:
    """The run as `view.compare` takes it: its row, and the text of its environment file (or None)."""
    return {"name": run.name, "id": run.id, "date": run.date, "message": run.message, "status": run.status,
            "group": run.group, "tags": list(run.tags), "params": dict(run.params), "metrics": dict(run.metrics),
            "meta": dict(run.meta), "environment": environment(repo, run)}


def _tree(repo: GitRepo, run: Run) -> str:
    return repo.commit(run.id)[0]
