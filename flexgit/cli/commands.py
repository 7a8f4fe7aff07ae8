"""The commands on runs: init, record, table, show, update, rename, checkout, import.

Each imports its verb when it runs: start-up time is paid by every command.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..project.values import format_value, one_line
from ..view.render import FORMATS
from .options import branch_option, metric_option, param_option, repo_of


@click.command()
@branch_option
@click.pass_context
def init(ctx: click.Context, branch: str | None) -> None:
    """Create the experiments branch (an orphan root commit) and a commented .flexgit.toml; safe to run again.

    \b
    Example:
      flexgit init --branch experiments
    """
    from ..verbs.init import init as init_verb

    done = init_verb(branch=branch, repo=repo_of(ctx))
    click.echo(f"experiments branch ready at {done.tip[:10]}")
    if done.settings_written is not None:
        click.echo(f"wrote {done.settings_written.name} with the default settings; "
                   "edit it to name your config and results files")


@click.command()
@click.option("--name", "-n", metavar="NAME", help="Run name (default: generated, e.g. run-1a2b3c).")
@click.option("--message", metavar="TEXT", help="What this run tried.")
@branch_option
@click.option("-c", "--config", "config_files", multiple=True, metavar="FILE",
              help="Config file (.toml/.json/.yaml) whose values are the run's params. Repeatable.")
@param_option("A param, read as a TOML scalar (0.1, 3, true, text). Repeatable; wins over files.")
@click.option("-r", "--results", "results_files", multiple=True, metavar="FILE",
              help="Results file (.toml/.json/.yaml) whose values are the run's metrics. Repeatable.")
@metric_option("A metric, read as a TOML scalar (nan and inf allowed). Repeatable; wins over files.")
@click.pass_context
def record(ctx: click.Context, name, message, branch, config_files, params, results_files, metrics) -> None:
    """Record a run: snapshot the code (uncommitted and untracked files too), params, metrics.

    Your working tree, index, HEAD and branches are not touched.

    \b
    Example:
      flexgit record --name lr-0.1 -c params.toml -r metrics.json -p seed=3 -m acc=0.93
    """
    from ..verbs.record import record as record_verb

    run = record_verb(name=name, message=message, params=params, metrics=metrics,
                      config_files=config_files or None, results_files=results_files or None, branch=branch,
                      repo=repo_of(ctx))
    click.echo(f"recorded {run.name} ({run.short_id}) on {run.branch}")
    for path in run.meta.get("left_out", []):
        click.echo(f"warning: left out of the snapshot, larger than max_file_size: {one_line(path)}", err=True)
    warn_secrets(run.meta)


def warn_secrets(meta) -> None:
    """One warning line for the files a snapshot left out as secrets, one for tracked ones it holds."""
    if meta.get("secrets_left_out"):
        click.echo("warning: left out of the snapshot, as they look like secrets: "
                   f"{one_line(', '.join(meta['secrets_left_out']))} (include_secrets in .flexgit.toml keeps them)",
                   err=True)
    if meta.get("secrets_tracked"):
        click.echo("warning: tracked by git, so in the snapshot, though they look like secrets: "
                   f"{one_line(', '.join(meta['secrets_tracked']))} (already in your history; 'flexgit push' "
                   "would share them)", err=True)


@click.command()
@branch_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--sort-by", metavar="COL", help="Sort by a column (params.lr, metrics.acc, or just acc).")
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--columns", metavar="A,B", help="Show only these columns, in this order (meta.* allowed).")
@click.option("--where", metavar="EXPR",
              help='Keep rows matching, e.g. \'metrics.acc > 0.9 and params.model = "mlp"\'.')
@click.option("--only-changed", is_flag=True, help="Hide columns whose value is the same in every row.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Show the first N rows.")
@click.option("--remote", metavar="REMOTE", help="Fetch REMOTE's runs and show them with yours (nothing local moves).")
@click.pass_context
def table(ctx: click.Context, branch, fmt, sort_by, desc, columns, where, only_changed, limit, remote) -> None:
    """Every recorded run as one table: name, id, date, message, params.*, metrics.*.

    \b
    Example:
      flexgit table --where 'metrics.acc > 0.9' --sort-by acc --desc --limit 5
      flexgit table --format csv > runs.csv
    """
    from .._context import branch_ref
    from ..verbs.table import table_text
    from ..view.query import TableQuery

    query = TableQuery(branch=branch, sort_by=sort_by, desc=desc, columns=columns or (), where=where,
                       only_changed=only_changed, limit=limit, remote=remote)
    text = table_text(query, fmt, width=shutil.get_terminal_size((80, 24)).columns, repo=repo_of(ctx))
    if not text:
        click.echo(f"no runs on branch '{branch_ref(branch).name}'; record one with 'flexgit record'", err=True)
    click.echo(text, nl=False)


@click.command()
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Everything about one run: meta, params, metrics, source commit, changed files.

    \b
    Example:
      flexgit show lr-0.1
    """
    from ..verbs.show import show as show_verb

    details = show_verb(name, repo=repo_of(ctx))
    run = details.run
    lines = [f"run      {run.name}", f"id       {run.id}", f"date     {run.date}", f"branch   {run.branch}"]
    if run.message:
        lines.append(f"message  {run.message}")
    source = run.source
    if source:
        where = run.meta.get("source_branch") or "detached HEAD"
        dirty = ", with uncommitted changes" if run.meta.get("dirty") else ""
        lines.append(f"source   {source} ({where}{dirty})" + ("" if details.source_known else " [not in this clone]"))
    for title, values in (("params", run.params), ("metrics", run.metrics), ("meta", run.meta)):
        lines.append(f"{title}:")
        lines += [f"  {key} = {format_value(value, precise=True)}" for key, value in values.items()] or ["  (none)"]
    if run.data:
        lines.append("data:")
        lines += [f"  {key} = {d['path']} ({d['kind']}, {d['size']} bytes, sha256 {d['sha256'][:12]})"
                  for key, d in run.data.items()]
    if not run.meta.get("imported"):
        against = "source commit" if source else "an empty tree (no commit yet)"
        lines.append(f"files changed from the {against}: {len(details.changes)}")
        lines += [f"  {status} {path}" for status, path in details.changes]
    click.echo("\n".join(lines))


@click.command()
@click.argument("name")
@metric_option("A metric to add or change. Repeatable.")
@param_option("A param to add or change. Repeatable.")
@click.pass_context
def update(ctx: click.Context, name: str, metrics, params) -> None:
    """Add values to a recorded run after the fact; the newest value of a key wins.

    \b
    Example:
      flexgit update lr-0.1 -m test_acc=0.91
    """
    from ..verbs.update import update as update_verb

    run = update_verb(name, metrics=metrics, params=params, repo=repo_of(ctx))
    click.echo(f"updated {run.name} ({run.short_id})")


@click.command()
@click.argument("name")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, name: str, new_name: str) -> None:
    """Give a run another name; NAME may also be a commit id prefix.

    \b
    Example:
      flexgit rename baseline baseline-laptop
    """
    from ..verbs.rename import rename as rename_verb

    run = rename_verb(name, new_name, repo=repo_of(ctx))
    click.echo(f"renamed {name} to {run.name} ({run.short_id})")


@click.command()
@click.argument("name")
@click.option("--branch", "-b", "new_branch", metavar="NEW", help="Make a new branch whose tip is the run's code.")
@click.option("--worktree", "-w", metavar="DIR", type=click.Path(path_type=Path),
              help="Put the run's code in a new git worktree at DIR.")
@click.option("--force", is_flag=True, help="On a dirty working tree, stash your changes first (git stash -u).")
@click.pass_context
def checkout(ctx: click.Context, name: str, new_branch: str | None, worktree: Path | None, force: bool) -> None:
    """Get back exactly the code that produced a run.

    Without options the working tree is made to match the run (only when it is clean;
    HEAD and the index stay). --branch and --worktree never touch your working tree.

    \b
    Example:
      flexgit checkout lr-0.1 --worktree ../lr-0.1
      flexgit checkout lr-0.1 --branch try-lr-0.1
    """
    from ..verbs.checkout import checkout as checkout_verb

    result = checkout_verb(name, branch=new_branch, worktree=worktree, force=force, repo=repo_of(ctx))
    run = result.run
    for warning in result.data_warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.stash:
        click.echo(f"your uncommitted work is in the stash ({result.stash[:10]}); 'git stash pop' brings it back")
    if result.worktree:
        click.echo(f"run {run.name} checked out in {result.worktree}")
    if result.branch:
        click.echo(f"branch '{result.branch}' holds the code of run {run.name}; "
                   f"switch with: git switch {result.branch}")
    if not result.worktree and not result.branch:
        click.echo(f"working tree now holds the code of run {run.name} ({run.short_id}); "
                   "HEAD and the index are unchanged")


@click.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--metrics", metavar="A,B", help="Columns that are metrics (default: names like acc, loss, f1, val_*).")
@branch_option
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, metrics: str | None, branch: str | None) -> None:
    """Turn a CSV of past results (one row per run, any columns) into runs without code.

    \b
    Example:
      flexgit import results_old.csv --metrics val_acc,F1
    """
    from ..verbs.import_csv import import_csv

    chosen = [c.strip() for c in metrics.split(",") if c.strip()] if metrics is not None else None
    runs = import_csv(file, metrics=chosen, branch=branch, repo=repo_of(ctx))
    click.echo(f"imported {len(runs)} runs from {file}")
