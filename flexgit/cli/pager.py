"""Long output through a pager on a terminal, the way git does it (FLEXGIT_PAGER, PAGER, `less -FRX`)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from typing import Mapping

import click

DEFAULT_PAGER = "less -FRX"  # F: quit if one screen, R: keep colours, X: leave the text on screen
PAGER_VARIABLES = ("FLEXGIT_PAGER", "PAGER")


def pager_command(environ: Mapping[str, str]) -> list[str] | None:
    """The pager to run, as argv: the first of PAGER_VARIABLES that is set, else DEFAULT_PAGER.

    None where it is set to "" or `cat`, git's ways of saying no pager, or cannot be read.
    """
    value = next((environ[name] for name in PAGER_VARIABLES if name in environ), DEFAULT_PAGER)
    try:
        argv = shlex.split(value)
    except ValueError:  # unbalanced quotes: printing the text beats failing the command
        return None
    return argv if argv and argv != ["cat"] else None


def echo_paged(text: str, paging: bool = True) -> None:
    """Print `text`; through the pager when `paging`, stdout is a terminal and the text is taller
    than the screen. A pager that cannot start (not installed) means printing directly."""
    stdout = sys.stdout
    argv = pager_command(os.environ) if paging and stdout.isatty() and _taller_than_screen(text) else None
    if argv is None or not _through_pager(argv, text, stdout.encoding or "utf-8"):
        click.echo(text, nl=False)


def _taller_than_screen(text: str) -> bool:
    return text.count("\n") >= shutil.get_terminal_size((80, 24)).lines  # one line is the prompt's


def _through_pager(argv: list[str], text: str, encoding: str) -> bool:
    try:
        pager = subprocess.Popen(argv, stdin=subprocess.PIPE)
    except OSError:
        return False
    assert pager.stdin is not None
    try:
        pager.stdin.write(text.encode(encoding, errors="replace"))
        pager.stdin.close()
    except BrokenPipeError:  # the reader quit the pager before the end
        pass
    while True:
        try:
            pager.wait()
            return True
        except KeyboardInterrupt:  # Ctrl-C is the pager's to handle (less stops a search), as under git
            continue
