"""The flexgit command line: parse, call one API function, print. The only place that exits."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from . import __version__, api
from .errors import FlexgitError, InputError
from .render import FORMATS
from .values import format_value, parse_assignment

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _assignments(option: str):
    """A click callback turning repeated KEY=VALUE options into a dict (usage error if malformed)."""

    def convert(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
        pairs = {}
        for text in values:
            try:
                key, value = parse_assignment(text, option)
            except InputError as exc:
                raise click.BadParameter(str(exc)) from None
            pairs[key] = value
        return pairs

    return convert


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="flexgit")
@click.option("-C", "repo", metavar="PATH", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Run as if flexgit was started in PATH (like git -C).")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None) -> None:
    """flexgit: git-native experiment tracking.

    Each run is a commit on the orphan branch 'experiments' (code snapshot, config,
    results), its metric row a git note, its name a tag exp/NAME.

    \b
    Example:
      python train.py                     # writes metrics.json
      flexgit record -c params.toml -r metrics.json -m note=baseline
      flexgit table --sort-by metrics.acc --desc
      flexgit checkout run-1a2b3c --worktree ../baseline
    """
    ctx.obj = repo



def _repo(ctx: click.Context) -> Path | None:
    return ctx.find_root().obj


@cli.command()
@click.option("--branch", "-b", metavar="B", help="Experiments branch (default: experiments).")
@click.pass_context
def init(ctx: click.Context, branch: str | None) -> None:
    """Create the experiments branch (an orphan root commit) and a commented .flexgit.toml; safe to run again.

    \b
    Example:
      flexgit init --branch experiments
    """
    done = api.init(branch=branch, repo=_repo(ctx))
    click.echo(f"experiments branch ready at {done.tip[:10]}")
    if done.settings_written is not None:
        click.echo(f"wrote {done.settings_written.name} with the default settings; "
                   "edit it to name your config and results files")


@cli.command()
@click.option("--name", "-n", metavar="NAME", help="Run name (default: generated, e.g. run-1a2b3c).")
@click.option("--message", metavar="TEXT", help="What this run tried.")
@click.option("--branch", "-b", metavar="B", help="Experiments branch (default: experiments).")
@click.option("-c", "--config", "config_files", multiple=True, metavar="FILE",
              help="Config file (.toml/.json/.yaml) whose values are the run's params. Repeatable.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", callback=_assignments("--param"),
              help="A param, read as a TOML scalar (0.1, 3, true, text). Repeatable; wins over files.")
@click.option("-r", "--results", "results_files", multiple=True, metavar="FILE",
              help="Results file (.toml/.json/.yaml) whose values are the run's metrics. Repeatable.")
@click.option("-m", "--metric", "metrics", multiple=True, metavar="KEY=VALUE", callback=_assignments("--metric"),
              help="A metric, read as a TOML scalar (nan and inf allowed). Repeatable; wins over files.")
@click.pass_context
def record(ctx: click.Context, name, message, branch, config_files, params, results_files, metrics) -> None:
    """Record a run: snapshot the code (uncommitted and untracked files too), params, metrics.

    Your working tree, index, HEAD and branches are not touched.

    \b
    Example:
      flexgit record --name lr-0.1 -c params.toml -r metrics.json -p seed=3 -m acc=0.93
    """
    run = api.record(name=name, message=message, params=params, metrics=metrics, config_files=config_files or None,
                     results_files=results_files or None, branch=branch, repo=_repo(ctx))
    click.echo(f"recorded {run.name} ({run.short_id}) on {run.branch}")
    for path in run.meta.get("left_out", []):
        click.echo(f"warning: left out of the snapshot, larger than max_file_size: {path}", err=True)


@cli.command()
@click.option("--branch", "-b", metavar="B", help="Experiments branch (default: experiments).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--sort-by", metavar="COL", help="Sort by a column (params.lr, metrics.acc, or just acc).")
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--columns", metavar="A,B", help="Show only these columns, in this order (meta.* allowed).")
@click.option("--where", metavar="EXPR", help='Keep rows matching, e.g. \'metrics.acc > 0.9 and params.model = "mlp"\'.')
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
    text = api.table_text(fmt, width=shutil.get_terminal_size((80, 24)).columns, repo=_repo(ctx), branch=branch,
                          sort_by=sort_by, desc=desc, columns=columns, where=where, only_changed=only_changed,
                          limit=limit, remote=remote)
    if not text:
        click.echo(f"no runs on branch '{api.branch_ref(branch).name}'; record one with 'flexgit record'", err=True)
    click.echo(text, nl=False)


@cli.command()
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Everything about one run: meta, params, metrics, source commit, changed files.

    \b
    Example:
      flexgit show lr-0.1
    """
    details = api.show(name, repo=_repo(ctx))
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


@cli.command()
@click.argument("name")
@click.option("-m", "--metric", "metrics", multiple=True, metavar="KEY=VALUE", callback=_assignments("--metric"),
              help="A metric to add or change. Repeatable.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", callback=_assignments("--param"),
              help="A param to add or change. Repeatable.")
@click.pass_context
def update(ctx: click.Context, name: str, metrics, params) -> None:
    """Add values to a recorded run after the fact; the newest value of a key wins.

    \b
    Example:
      flexgit update lr-0.1 -m test_acc=0.91
    """
    run = api.update(name, metrics=metrics, params=params, repo=_repo(ctx))
    click.echo(f"updated {run.name} ({run.short_id})")


@cli.command()
@click.argument("name")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, name: str, new_name: str) -> None:
    """Give a run another name; NAME may also be a commit id prefix.

    \b
    Example:
      flexgit rename baseline baseline-laptop
    """
    run = api.rename(name, new_name, repo=_repo(ctx))
    click.echo(f"renamed {name} to {run.name} ({run.short_id})")


@cli.command(name="checkout")
@click.argument("name")
@click.option("--branch", "-b", "new_branch", metavar="NEW", help="Make a new branch whose tip is the run's code.")
@click.option("--worktree", "-w", metavar="DIR", type=click.Path(path_type=Path),
              help="Put the run's code in a new git worktree at DIR.")
@click.option("--force", is_flag=True, help="On a dirty working tree, stash your changes first (git stash -u).")
@click.pass_context
def checkout_cmd(ctx: click.Context, name: str, new_branch: str | None, worktree: Path | None, force: bool) -> None:
    """Get back exactly the code that produced a run.

    Without options the working tree is made to match the run (only when it is clean;
    HEAD and the index stay). --branch and --worktree never touch your working tree.

    \b
    Example:
      flexgit checkout lr-0.1 --worktree ../lr-0.1
      flexgit checkout lr-0.1 --branch try-lr-0.1
    """
    from .restore import checkout  # imported per command: start-up time is paid by every command

    result = checkout(name, branch=new_branch, worktree=worktree, force=force, repo=_repo(ctx))
    run = result.run
    for warning in result.data_warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.stash:
        click.echo(f"your uncommitted work is in the stash ({result.stash[:10]}); 'git stash pop' brings it back")
    if result.worktree:
        click.echo(f"run {run.name} checked out in {result.worktree}")
    if result.branch:
        click.echo(f"branch '{result.branch}' holds the code of run {run.name}; switch with: git switch {result.branch}")
    if not result.worktree and not result.branch:
        click.echo(f"working tree now holds the code of run {run.name} ({run.short_id}); HEAD and the index are unchanged")


@cli.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--metrics", metavar="A,B", help="Columns that are metrics (default: names like acc, loss, f1, val_*).")
@click.option("--branch", "-b", metavar="B", help="Experiments branch (default: experiments).")
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, metrics: str | None, branch: str | None) -> None:
    """Turn a CSV of past results (one row per run, any columns) into runs without code.

    \b
    Example:
      flexgit import results_old.csv --metrics val_acc,F1
    """
    from .importcsv import import_csv

    chosen = [c.strip() for c in metrics.split(",") if c.strip()] if metrics is not None else None
    runs = import_csv(file, metrics=chosen, branch=branch, repo=_repo(ctx))
    click.echo(f"imported {len(runs)} runs from {file}")


@cli.command(name="run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", "-n", metavar="NAME", help="Run name (NAME-1, NAME-2, ... for a grid).")
@click.option("-S", "sets", multiple=True, metavar="KEY=V1[,V2...]",
              help="Override a key of the config file for this run; several values make a grid. Repeatable.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Runs at once.")
@click.option("--branch", "-b", metavar="B", help="Experiments branch (default: from settings, or experiments).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx: click.Context, name, sets, jobs, branch, command) -> None:
    """Run a training command and record it: output, duration, exit status, config, results.

    Each run works in a temporary checkout of your working tree (git-ignored top-level
    folders such as data/ are linked in), so -S never touches your files. The config and
    results files are those of .flexgit.toml.

    \b
    Example:
      flexgit run -- python train.py
      flexgit run -S lr=0.1,0.01 -S depth=3,5 -j 2 -- python train.py
    """
    import threading

    from .sweep import Sweep, expand_grid

    grid = expand_grid(sets)
    single = len(grid) == 1
    lock = threading.Lock()

    def show_output(label: str, line: str) -> None:
        with lock:
            click.echo(line if single else f"[{label}] {line}")

    def show_progress(progress) -> None:
        if not single:
            with lock:
                click.echo(f"flexgit: {progress.done}/{progress.total} done, {progress.running} running, "
                           f"{progress.failed} failed", err=True)

    sweep = Sweep(command, grid, name=name, branch=branch, repo=_repo(ctx), on_output=show_output,
                  on_progress=show_progress)
    try:
        outcomes = sweep.run(jobs)
    except KeyboardInterrupt:
        _report_runs(sweep.outcomes)
        click.echo("interrupted: finished runs are recorded, the running ones as interrupted", err=True)
        sys.exit(130)
    _report_runs(outcomes)
    if any(outcome.status != "ok" for outcome in outcomes):
        sys.exit(1)


def _report_runs(outcomes) -> None:
    for outcome in outcomes:
        setting = " ".join(f"{k}={format_value(v)}" for k, v in outcome.overrides.items())
        if outcome.run is not None:
            code = "" if outcome.exit_code == 0 else f", exit {outcome.exit_code}"
            click.echo(f"recorded {outcome.run.name} ({outcome.run.short_id}): {outcome.status}{code}"
                       + (f"  {setting}" if setting else ""), err=True)
        else:
            click.echo(f"not recorded: {outcome.status}" + (f" ({outcome.error})" if outcome.error else "")
                       + (f"  {setting}" if setting else ""), err=True)


def _sync_command(verb: str, summary: str, example: str):
    @cli.command(name=verb, help=f"{summary}\n\n\b\nExample:\n  {example}")
    @click.argument("remote", default="origin")
    @click.option("--branch", "-b", metavar="B", help="Experiments branch (default: from settings, or experiments).")
    @click.pass_context
    def command(ctx: click.Context, remote: str, branch: str | None) -> None:
        from . import sync

        report = getattr(sync, verb)(remote, branch=branch, repo=_repo(ctx))
        if verb != "push":
            joined = ", joined with a merge commit" if report.merged else ""
            click.echo(f"pulled from {remote}: {report.fetched_runs} new runs{joined}")
        if report.pushed:
            click.echo(f"pushed to {remote}")
        for name in report.conflicts:
            click.echo(f"warning: run name '{name}' means different runs here and on {remote}; both runs are "
                       f"kept: 'flexgit rename {name} NEW' renames yours, then pull again", err=True)

    return command


_sync_command("pull", "Fetch the runs of REMOTE (default origin) and join them with yours.", "flexgit pull origin")
_sync_command("push", "Send your runs to REMOTE (default origin); retried after a pull if it moved.",
              "flexgit push origin")
_sync_command("sync", "Pull, then push: everyone's runs, here and on REMOTE.", "flexgit sync")


@cli.group()
def hook() -> None:
    """Record a run on every commit that changed your results (the post-commit hook).

    The results files are those of .flexgit.toml (results = ["metrics.json"]).

    \b
    Example:
      flexgit hook install && flexgit hook status
    """


@hook.command(name="install")
@click.pass_context
def hook_install(ctx: click.Context) -> None:
    """Install the post-commit hook (an existing post-commit hook keeps running first)."""
    from .hook import install

    done = install(_repo(ctx))
    click.echo(f"installed {done.path}" + (f"; your hook runs first from {done.chained.name}" if done.chained else ""))


@hook.command(name="uninstall")
@click.pass_context
def hook_uninstall(ctx: click.Context) -> None:
    """Remove the hook and put back the post-commit hook it had kept."""
    from .hook import uninstall

    done = uninstall(_repo(ctx))
    click.echo(f"removed flexgit's hook from {done.path.parent}" + ("; your own hook is back" if done.path.exists() else ""))


@hook.command(name="status")
@click.pass_context
def hook_status(ctx: click.Context) -> None:
    """Whether the hook is installed, and what the last commit's auto-record did."""
    from .hook import status

    state = status(_repo(ctx))
    click.echo(f"{'installed' if state.installed else 'not installed'}: {state.path}")
    if state.chained:
        click.echo(f"chained: {state.chained}")
    click.echo(f"last: {state.last or 'nothing yet'}")


@hook.command(name="post-commit")
@click.pass_context
def hook_post_commit(ctx: click.Context) -> None:
    """What git runs after each commit; never fails the commit."""
    from .hook import log, post_commit

    try:
        outcome = post_commit(_repo(ctx))
    except Exception as exc:  # noqa: BLE001 - a hook must never fail the commit
        where = log(_repo(ctx), f"error: {exc}")
        click.echo(f"flexgit: warning: no run recorded for this commit: {exc}"
                   + (f" (see {where})" if where else ""), err=True)
        return
    log(_repo(ctx), outcome)
    if outcome.startswith("recorded"):
        click.echo(f"flexgit: {outcome}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning flexgit errors into one line and exit code 1."""
    try:
        cli.main(args=argv, prog_name="flexgit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except FlexgitError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`flexgit table | head`); nothing to report
        sys.exit(0)
    except Exception as exc:  # a bug: still one line, unless FLEXGIT_DEBUG asks for the traceback
        if os.environ.get("FLEXGIT_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); please report it, "
                   "with the traceback that FLEXGIT_DEBUG=1 shows", err=True)
        sys.exit(1)
