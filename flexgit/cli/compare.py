"""The commands that look at runs side by side: diff, compare."""

from __future__ import annotations

import shutil
import sys

import click

from ..project.values import escape_control
from ..view import FORMATS
from .options import branch_option, repo_of
from .pager import echo_paged

no_pager_option = click.option("--no-pager", is_flag=True,
                               help="Print straight to the terminal, never through a pager.")


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--all", "show_all", is_flag=True, help="Show every key, the same ones too.")
@click.option("--stat", is_flag=True, help="List the files whose code differs, with the lines added and removed.")
@click.option("--code", is_flag=True,
              help="Show the unified diff of the two runs' code (.flexgit/ left out), coloured on a terminal.")
@no_pager_option
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, show_all: bool, stat: bool, code: bool, no_pager: bool) -> None:
    """Two runs side by side: the params, metrics, meta and environment that differ (with the change
    of each number), and how their code differs.

    A and B are run names or commit ids. Long values are cut to fit the terminal; the API
    (flexgit.diff) keeps them whole.

    \b
    Example:
      flexgit diff lr-0.1 lr-0.3
      flexgit diff lr-0.1 lr-0.3 --stat
      flexgit diff lr-0.1 lr-0.3 --code
      flexgit diff lr-0.1 lr-0.3 --all --no-pager
    """
    from ..verbs.diff import diff as diff_verb
    from ..view.comparetext import stat_text

    result = diff_verb(a, b, all=show_all, code=code, repo=repo_of(ctx))
    text = result.comparison.text(_width()) + "\n"
    if stat or code:
        text += stat_text(result.files)
    elif result.files:
        count = len(result.files)
        text += (f"code: {count} file{'s differ' if count != 1 else ' differs'} (+{sum(f.added for f in result.files)} "
                 f"-{sum(f.deleted for f in result.files)}); --stat lists them, --code shows the change\n")
    else:
        text += "code: no files differ\n"
    if result.patch:
        terminal = sys.stdout.isatty()
        text += "\n" + patch_text(result.patch, ctx.color if ctx.color is not None else terminal, terminal)
    echo_paged(text, paging=not no_pager)


def patch_text(patch: str, colour: bool, terminal: bool) -> str:
    """A unified diff for printing: coloured as git colours it, when `colour`; on a `terminal`, control
    characters in it (a file's own terminal escapes) written as escapes, so a snapshot never drives it."""
    lines = []
    header = False
    for line in patch.splitlines():
        if terminal:
            line = escape_control(line)
        if line.startswith("diff --git "):
            header = True
        elif line.startswith("@@"):
            header = False
        if colour:
            style = ({"bold": True} if header else {"fg": "cyan"} if line.startswith("@@") else
                     {"fg": "green"} if line.startswith("+") else {"fg": "red"} if line.startswith("-") else None)
            line = click.style(line, **style) if style else line
        lines.append(line)
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("runs", nargs=-1)
@click.option("--where", metavar="EXPR", help="Compare the runs that match, as 'flexgit table --where' chooses them.")
@click.option("--all", "show_all", is_flag=True, help="Show every key, the same ones too.")
@branch_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@no_pager_option
@click.pass_context
def compare(ctx: click.Context, runs: tuple[str, ...], where: str | None, show_all: bool, branch: str | None,
            fmt: str, no_pager: bool) -> None:
    """Runs as columns, the keys whose values differ as rows (params, metrics, env, packages, meta).

    RUNS are names or commit ids; --where chooses them instead (on --branch).

    \b
    Example:
      flexgit compare lr-0.1 lr-0.3 lr-1
      flexgit compare --where 'group = sweep-1a2b3c'
      flexgit compare --where 'acc > 0.9' --format csv > best.csv
    """
    from ..verbs.compare import compare as compare_verb
    from ..view.render import render

    result = compare_verb(runs, where=where, all=show_all, branch=branch, repo=repo_of(ctx))
    text = result.text(_width()) if fmt == "table" else render(result.table(), fmt)
    echo_paged(text, paging=not no_pager)


COMMANDS = (diff, compare)
