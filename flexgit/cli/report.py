"""`flexgit report` and `flexgit ui`: the runs as a page, written to a file or served live."""

from __future__ import annotations

import click

from .options import branch_option, repo_of, warn

where_option = click.option("--where", metavar="EXPR",
                            help="Only the runs that match (the conditions of 'flexgit table --where').")


@click.command()
@click.option("-o", "--output", metavar="FILE", default="report.html", show_default=True,
              help="The HTML file to write (replaced whole).")
@branch_option
@where_option
@click.option("--title", metavar="TEXT", help="The page's title (default: flexgit runs of FOLDER).")
@click.pass_context
def report(ctx: click.Context, output, branch, where, title) -> None:
    """Write the runs as one self-contained HTML file: it works offline and from a CI artifact.

    The table (sort, filter, choose columns), runs compared side by side with their code diff,
    step curves, a metric against a param, and a page per run (params, metrics, environment,
    outputs, output log, files changed).

    \b
    Example:
      flexgit report -o report.html
      flexgit report -o best.html --where 'acc > 0.9' --title 'best runs'
    """
    from ..verbs.report import report as report_verb

    done = report_verb(output=output, branch=branch, where=where, title=title, repo=repo_of(ctx))
    click.echo(f"wrote {done.path} ({done.runs} runs, {done.bytes / 1024:,.0f} KiB)")


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port to listen on (0: any free one).")
@click.option("--host", metavar="H",
              help="Listen on this address instead of 127.0.0.1 (others can then read your runs).")
@branch_option
@where_option
@click.pass_context
def ui(ctx: click.Context, port, host, branch, where) -> None:
    """Serve the report's pages live on 127.0.0.1, read-only, refreshed as runs are recorded.

    Ctrl-C stops it.

    \b
    Example:
      flexgit ui
      flexgit ui --port 9000
    """
    from ..verbs.ui import LOOPBACK
    from ..verbs.ui import ui as ui_verb

    if host is not None and host not in LOOPBACK:
        warn(f"serving on {host}: anyone who can reach this machine there can read every run, code included")

    def ready(url: str) -> None:
        click.echo(f"flexgit ui: serving {url} (read-only; Ctrl-C stops it)")

    ui_verb(port=port, host=host or "127.0.0.1", branch=branch, where=where, repo=repo_of(ctx), on_ready=ready)
    click.echo("flexgit ui: stopped")
