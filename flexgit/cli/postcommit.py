"""`flexgit hook post-commit`, what git runs after each commit: without click.

The hook's Python is started for every commit that may have changed the results, so its start-up
is most of what the hook adds to `git commit`. This path imports what recording needs and nothing
of the command line (`python -m flexgit hook post-commit` comes here first, see `flexgit.__main__`);
the click command of the same name calls `run` too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def run(repo: Path | None = None, color: bool | None = None) -> None:
    """Decide on the new commit (record a run, or say why not), log it; never fail the commit.
    `color`: colour the warning word (None: when stderr is a terminal and NO_COLOR is not set)."""
    from ..verbs.hook import log, post_commit

    try:
        outcome = post_commit(repo)
    except Exception as exc:  # noqa: BLE001 - a hook must never fail the commit
        where = log(repo, f"error: {exc}")
        _say(f"flexgit: {_warning(color)} no run recorded for this commit: {exc}"
             + (f" (see {where})" if where else ""))
        return
    log(repo, outcome)
    if outcome.startswith("recorded"):
        _say(f"flexgit: {outcome}")


def _warning(color: bool | None) -> str:
    if color is None:
        color = not os.environ.get("NO_COLOR") and sys.stderr.isatty()
    return "\x1b[33m\x1b[1mwarning:\x1b[0m" if color else "warning:"  # as click.style(fg="yellow", bold=True)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main() -> None:
    """`python -m flexgit hook post-commit`: the process ends once the commit is decided on, without
    Python's teardown (a tenth of what the hook adds to `git commit`; see `ending`)."""
    from . import ending

    ending.PROGRAM = True
    try:
        run()
    except KeyboardInterrupt:
        sys.stderr.write("Aborted.\n")
        sys.exit(130)
    ending.end_now()
