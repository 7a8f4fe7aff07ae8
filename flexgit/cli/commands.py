"""The commands on runs: init, record, table, show, update, rename, checkout, import.

Each imports its verb when it runs: start-up time is paid by every command.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from ..project.values import format_value
from ..view import FORMATS
from .options import (
    branch_option, metric_option, param_option, quiet_option, repo_of, warn, warn_left_out, warn_secrets, warn_snapshot,
)
from . import ending
from .files import file_lines, warn_outputs
from .pager import echo_paged


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
@metric_option("A metric, read as a TOML scalar (nan and inf allowed). Repeatable; wins over files.",
               no_value_hint="-m is --metric; for a message use --message TEXT")
@click.option("--output", "outputs", multiple=True, metavar="FILE",
              help="A file (or folder, or glob) the run produced, kept with it; git-lfs from lfs_threshold on. "
                   "Repeatable. Default: the settings' outputs.")
@click.pass_context
def record(ctx: click.Context, name, message, branch, config_files, params, results_files, metrics, outputs) -> None:
    """Record a run: snapshot the code (uncommitted and untracked files too), params, metrics.

    Your working tree, index, HEAD and branches are not touched.

    \b
    Example:
      flexgit record --name lr-0.1 -c params.toml -r metrics.json -p seed=3 -m acc=0.93
      flexgit record --output model.pkl --output 'plots/*.png'
    """
    from ..verbs.record import record as record_verb

    run = record_verb(name=name, message=message, params=params, metrics=metrics,
                      config_files=config_files or None, results_files=results_files or None, branch=branch,
                      repo=repo_of(ctx), outputs=outputs or None)
    click.echo(f"recorded {run.name} ({run.short_id}) on {run.branch}")
    if run.meta.get("history_steps"):
        click.echo(f"attached {run.meta['history_steps']} logged steps, the first at {run.meta.get('history_since')}")
    if run.meta.get("history_set_aside"):
        warn(f"set aside {run.meta['history_set_aside']} steps logged by an earlier process that no "
             "run took; they are kept in .git/flexgit.d/history-set-aside.jsonl")
    warn_left_out(run.meta.get("left_out", []))
    warn_secrets(run.meta)
    warn_snapshot(run.meta)
    warn_outputs(run.meta)


@click.command()
@branch_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--sort-by", metavar="COL", help="Sort by a column (params.lr, metrics.acc, or just acc).")
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--columns", metavar="A,B", help="Show only these columns, in this order (meta.* allowed).")
@click.option("--where", metavar="EXPR",
              help='Keep the runs that match: = != < <= > >=, in (A, B), ~ "REGEX", has (lists such as tags), '
                   'exists(KEY), joined by and / or / not and parentheses; quote keys with spaces; dates compare '
                   'as dates. E.g. \'acc > 0.9 and (model = "mlp" or date >= 2024-06-01)\'. See README, "table".')
@click.option("--only-changed", is_flag=True, help="Hide columns whose value is the same in every row.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Show the first N rows.")
@click.option("--remote", metavar="REMOTE", help="Fetch REMOTE's runs and show them with yours (nothing local moves).")
@click.option("--removed", is_flag=True, help="Show only the runs 'flexgit rm' removed.")
@click.option("--running", is_flag=True,
              help="Show only the runs of this clone not recorded yet: status running, lost (its process died) "
                   "or ended (exited without a record), with their latest logged metrics.")
@click.option("--group-by", metavar="COL",
              help="One row per value of COL (group, params.lr, ...): the number of runs and each metric's mean, "
                   "std, min, max and count (acc.mean, ...), which --sort-by and --columns can name.")
@click.option("--no-pager", is_flag=True,
              help="Print straight to the terminal (else a table taller than the screen goes through "
                   "$FLEXGIT_PAGER, $PAGER or 'less -FRX').")
@click.pass_context
def table(ctx: click.Context, branch, fmt, sort_by, desc, columns, where, only_changed, limit, remote,
          removed, running, group_by, no_pager) -> None:
    """Every recorded run as one table: name, the metrics, the params that vary, then the rest.

    A column may be named by its full name (params.model.depth) or any unambiguous end of it at
    a dot (model.depth, depth). The terminal view drops params./metrics. from headers where
    that is unambiguous; csv and json keep the full names and the order of record (with tags).

    \b
    Example:
      flexgit table --where 'metrics.acc > 0.9' --sort-by acc --desc --limit 5
      flexgit table --columns name,n_estimators,acc --no-pager
      flexgit table --format csv > runs.csv
      flexgit table --removed
      flexgit table --running
      flexgit table --group-by group --sort-by acc.mean --desc
    """
    from ..verbs.table import removed_count, remotes_to_pull, table_branch, table_text
    from ..view.query import TableQuery

    query = TableQuery(branch=branch, sort_by=sort_by, desc=desc, columns=columns or (), where=where,
                       only_changed=only_changed, limit=limit, remote=remote, removed=removed,
                       group_by=group_by, running=running)
    kept: list = []  # what the table was read from: never freed one by one (see the end)
    text = table_text(query, fmt, width=shutil.get_terminal_size((80, 24)).columns, repo=repo_of(ctx), keep=kept)
    if not text:
        name = table_branch(branch, repo=repo_of(ctx))
        if running:
            click.echo("no runs running here" + (f" match --where '{where}'" if where else "")
                       + "; 'flexgit run' and scripts that call flexgit.log show here until recorded", err=True)
        elif removed:
            click.echo(f"no removed runs on branch '{name}'" + (f" match --where '{where}'" if where else ""), err=True)
        elif where:
            click.echo(f"no runs on branch '{name}' match --where '{where}'", err=True)
        elif hidden := removed_count(branch, repo=repo_of(ctx)):
            click.echo(f"no runs on branch '{name}' but {hidden} removed; 'flexgit table --removed' lists them",
                       err=True)
        elif remote is None and (remotes := remotes_to_pull(branch, repo=repo_of(ctx))):
            click.echo(f"no runs on branch '{name}' here, but {remotes[0]} has some: "
                       f"get them with 'flexgit pull {remotes[0]}'", err=True)
        else:
            click.echo(f"no runs on branch '{name}'; record one with 'flexgit record'", err=True)
    echo_paged(text, paging=not no_pager)
    ending.end_now()


@click.command()
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Everything about one run: tags, notes, meta, params, metrics, source commit, changed files.

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
    if run.status:
        lines.append(f"status   {run.status}")
    if run.group:
        lines.append(f"group    {run.group}")
    if run.parent:
        lines.append(f"parent   {details.parent_name or '(not in this clone)'} ({run.parent[:len(run.short_id)]})")
    if run.meta.get("slurm_job"):
        node = run.meta.get("slurm_node")
        lines.append(f"job      Slurm job {run.meta['slurm_job']}" + (f" on {node}" if node else " (never started)"))
    if run.tags:
        lines.append(f"tags     {', '.join(run.tags)}")
    if run.removed:
        lines.append(f"removed  yes: hidden from the table; 'flexgit rm --undo {run.name}' brings it back")
    source = run.source
    if source:
        where = run.meta.get("source_branch") or "detached HEAD"
        dirty = ", with uncommitted changes" if run.meta.get("dirty") else ""
        lines.append(f"source   {source} ({where}{dirty})" + ("" if details.source_known else " [not in this clone]"))
    from ..project.environment import PREFIX, describe

    meta = {key: value for key, value in run.meta.items() if not key.startswith(PREFIX)}  # summarised below
    for title, values in (("params", run.params), ("metrics", run.metrics), ("meta", meta)):
        lines.append(f"{title}:")
        lines += [f"  {key} = {format_value(value, precise=True)}" for key, value in values.items()] or ["  (none)"]
    if environment := describe(run.meta):
        lines += ["environment:"] + [f"  {line}" for line in environment]
    if run.data:
        lines.append("data:")
        lines += [f"  {key} = {d['path']} ({d['kind']}, {d['size']} bytes, sha256 {d['sha256'][:12]})"
                  for key, d in run.data.items()]
    if run.notes:
        lines.append("notes:")
        lines += [f"  {when[:19].replace('T', ' ')}  {text.replace(chr(10), chr(10) + ' ' * 23)}"
                  for when, text in run.notes]
    lines += file_lines(details)
    if details.changes is None:
        lines.append("files changed from the source commit: unknown, the source commit is not in this clone; "
                     f"fetch the branch it was recorded on{_branch_hint(run)} to see them")
    elif not run.meta.get("imported"):
        against = "the source commit" if source else "an empty tree (recorded before the first commit)"
        lines.append(f"files changed from {against}: {len(details.changes)}")
        lines += [f"  {status} {path}" for status, path in details.changes]
    click.echo("\n".join(lines))


def _branch_hint(run) -> str:
    """' (feat)': the branch a run's source commit was on, where it was recorded, for fetch hints."""
    branch = run.meta.get("source_branch")
    return f" ('{branch}', by whoever recorded the run)" if branch else ""


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
@click.argument("name", required=False)
@click.option("--branch", "-b", "new_branch", metavar="NEW", help="Make a new branch whose tip is the run's code.")
@click.option("--worktree", "-w", metavar="DIR", type=click.Path(path_type=Path),
              help="Put the run's code in a new git worktree at DIR.")
@click.option("--force", is_flag=True, help="On a dirty working tree, stash your changes first (git stash -u).")
@click.option("--back", is_flag=True, help="Undo the last checkout into this working tree; stashed work comes back.")
@click.pass_context
def checkout(ctx: click.Context, name: str | None, new_branch: str | None, worktree: Path | None, force: bool,
             back: bool) -> None:
    """Get back exactly the code that produced a run.

    Without options the working tree is made to match the run (only when it is clean, or
    with --force after stashing your changes; HEAD and the index stay); --back undoes that.
    --branch and --worktree never touch your working tree.

    \b
    Example:
      flexgit checkout lr-0.1 --worktree ../lr-0.1
      flexgit checkout lr-0.1 --branch try-lr-0.1
      flexgit checkout lr-0.1 --force && flexgit checkout --back
    """
    from ..verbs.checkout import checkout as checkout_verb
    from ..verbs.checkout import checkout_back

    if back:
        if name or new_branch or worktree or force:
            raise click.UsageError("--back takes no NAME and no other option: it undoes the last checkout here")
        undone = checkout_back(repo=repo_of(ctx))
        brought = "; your uncommitted work is back from the stash" if undone.stash else ""
        click.echo(f"working tree back as it was before run {undone.run} was checked out{brought}")
        return
    if not name:
        raise click.UsageError("Missing argument 'NAME' (or --back to undo the last checkout here).")
    result = checkout_verb(name, branch=new_branch, worktree=worktree, force=force, repo=repo_of(ctx))
    run = result.run
    if result.source_missing:
        made = f"branch '{result.branch}'" if result.branch else "the worktree's commit"
        warn(f"the source commit {result.source_missing[:10]} of run {run.name} is not in this clone, "
             f"so {made} has no parent; fetch the branch it was recorded on{_branch_hint(run)}, "
             "then check the run out again")
    for warning in result.data_warnings:
        warn(warning)
    if result.outputs:
        click.echo(f"wrote the run's {len(result.outputs)} outputs ({', '.join(result.outputs[:3])}"
                   f"{', ...' if len(result.outputs) > 3 else ''})")
    if result.worktree:
        linked = f"; from your working tree (folders linked, files copied): {', '.join(result.linked)}" \
            if result.linked else ""
        click.echo(f"run {run.name} checked out in {result.worktree}{linked}")
    if result.branch:
        click.echo(f"branch '{result.branch}' holds the code of run {run.name}; "
                   f"switch with: git switch {result.branch}")
    if not result.worktree and not result.branch:
        click.echo(f"working tree now holds the code of run {run.name} ({run.short_id}); "
                   "HEAD and the index are unchanged")
        if result.stash:
            click.echo(f"your uncommitted work is in the stash ({result.stash[:10]}); "
                       "'flexgit checkout --back' brings it back and undoes this checkout")
        else:
            click.echo("'flexgit checkout --back' undoes this checkout")


@click.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--metrics", metavar="A,B", help="Columns that are metrics (default: names like acc, loss, f1, val_*).")
@click.option("--again", is_flag=True,
              help="Import rows that were imported before; a name a run has already gets a number (name-2).")
@click.option("--date-order", type=click.Choice(["dmy", "mdy"]),
              help="Read dates like 05/04/2023 day first (dmy) or month first (mdy).")
@branch_option
@quiet_option
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, metrics: str | None, again: bool, date_order: str | None,
               branch: str | None, quiet: bool) -> None:
    """Turn a CSV of past results (one row per run, any columns) into runs without code.

    The delimiter is detected; a first column of row numbers without a name (pandas'
    index) is left out; a name on several rows becomes name, name-2, ...; dates are read
    as ISO 8601 where they are dates. What was decided is printed after the count.

    \b
    Example:
      flexgit import results_old.csv --metrics val_acc,F1
    """
    from ..verbs.import_csv import import_csv

    chosen = [c.strip() for c in metrics.split(",") if c.strip()] if metrics is not None else None
    runs = import_csv(file, metrics=chosen, branch=branch, repo=repo_of(ctx), again=again, date_order=date_order)
    if quiet:
        return
    click.echo(f"imported {len(runs)} runs from {file}")
    for note in runs.notes:
        click.echo(f"note: {note}")


@click.command()
@click.option("--repair", is_flag=True,
              help="Fix what can be fixed without losing anything (never deletes a run or a note).")
@click.pass_context
def fsck(ctx: click.Context, repair: bool) -> None:
    """Check the runs of this clone: skipped note lines, missing or clashing run names, run
    commits their branch lost, an interrupted write's journal, stale ref locks, corrupt caches.

    --repair finishes the interrupted write, creates missing names where they are free, joins
    lost run commits onto their branch with a merge commit, and removes stale locks and bad
    caches. Exit code 0 when nothing is left to fix, 1 when a problem remains (without --repair:
    when any was found).

    \b
    Example:
      flexgit fsck && flexgit fsck --repair
    """
    from ..verbs.fsck import fsck as fsck_verb

    report = fsck_verb(repair=repair, repo=repo_of(ctx))
    for finding in report.findings:
        click.echo(("repaired: " if finding.repaired else "problem: ") + finding.text)
    left = sum(not finding.repaired for finding in report.findings)
    fixed = len(report.findings) - left
    if not report.findings:
        click.echo("no problems found")
    else:
        click.echo(f"{left} problem{'s' * (left != 1)} left, {fixed} repaired"
                   + ("" if repair else "; 'flexgit fsck --repair' fixes what it safely can"))
    if left:
        sys.exit(1)
