"""The commands that look at runs side by side: diff, compare, plot."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

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
    if result.uncompared:
        text += result.uncompared + "\n"
    elif stat or code:
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


@click.command()
@click.argument("metrics", nargs=-1)
@click.option("--runs", metavar="A,B", help="The runs to draw (names or commit ids, comma-separated).")
@click.option("--where", metavar="EXPR", help="Draw the runs that match, as 'flexgit table --where' chooses them.")
@branch_option
@click.option("--x", "x", metavar="AXIS",
              help="step (default) or time for step curves (time for system metrics); a column (params.lr) for "
                   "a metric against it; commit, with --along, for a metric along the commits of a branch.")
@click.option("--y", metavar="COLUMN", help="The metric (or any column) to draw against --x.")
@click.option("--along", metavar="BRANCH", help="With --x commit: the branch of your project (main) whose commits "
                                                "are the x axis; each run sits at its source commit.")
@click.option("--parallel", is_flag=True, help="Parallel coordinates over params and the metric --y.")
@click.option("--params", metavar="A,B", help="With --parallel: the params to draw (default: those that vary).")
@click.option("--logx", is_flag=True, help="A log scale on the x axis.")
@click.option("--logy", is_flag=True, help="A log scale on the y axis.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The picture to write: .png or .svg (required when stdout is a terminal).")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]),
              help="The picture's format when it goes to stdout (default png; with -o, the extension says it).")
@click.pass_context
def plot(ctx: click.Context, metrics: tuple[str, ...], runs: str | None, where: str | None, branch: str | None,
         x: str | None, y: str | None, along: str | None, parallel: bool, params: str | None, logx: bool,
         logy: bool, output: Path | None, fmt: str | None) -> None:
    """Draw runs as a picture (PNG or SVG): step curves of metrics, a metric against a param, a
    metric along the commits of your branch, or parallel coordinates. Needs matplotlib
    (pip install flexgit[plots]).

    \b
    Example:
      flexgit plot loss acc --runs lr-0.1,lr-0.3 -o curves.png
      flexgit plot loss --where 'group = sweep-1a2b3c' --x time -o loss.svg
      flexgit plot --x params.lr --y metrics.acc --logx -o lr.png
      flexgit plot --x commit --along main --y acc -o history.png
      flexgit plot --parallel --y acc --params lr,depth -o sweep.svg
      flexgit plot loss --runs lr-0.1 | display
    """
    from ..verbs.plot import plot as plot_verb

    if output is None and sys.stdout.isatty():
        raise click.UsageError("a picture is not for a terminal: name a file with -o plot.png (or .svg), "
                               "or pipe it to a program")
    data = plot_verb(metrics, runs=runs or (), where=where, x=x, y=y, along=along, parallel=parallel,
                     params=params or (), logx=logx, logy=logy, branch=branch, output=output, format=fmt,
                     repo=repo_of(ctx))
    if output is None:
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(f"wrote {output} ({len(data):,} bytes)")


COMMANDS = (diff, compare, plot)
