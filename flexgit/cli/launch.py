"""`flexgit run`: a training command, or a grid of them, recorded."""

from __future__ import annotations

import signal
import sys

import click

from ..project.values import format_value
from .cluster import check_options, cluster_options, run_on_cluster, slurm_settings
from .files import warn_outputs
from .options import branch_option, quiet_option, repo_of, warn_left_out, warn_secrets, warn_snapshot


@click.command(name="run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", "-n", metavar="NAME",
              help="Run name (NAME-1, NAME-2, ... for a grid), or a template of -S keys: 'lr{lr}-d{depth}'. "
                   "Default: the group id and the -S values that vary, e.g. g-1a2b3c-lr0.1-depth3.")
@click.option("--parent", metavar="RUN", help="The run these runs belong to or continue (a fold's sweep, a resume).")
@click.option("--resume", metavar="RUN",
              help="Start from RUN: its code, with its last checkpoints in place; the new run's meta names it.")
@click.option("-S", "sets", multiple=True, metavar="KEY=V1[,V2...]",
              help="Override a key of the config file for this run; several values make a grid. Repeatable.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Runs at once.")
@cluster_options
@branch_option
@quiet_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx: click.Context, name, parent, resume, sets, jobs, on, detach, gpus_per_run, branch, quiet, command,
            **slurm) -> None:
    """Run a training command and record it: output, duration, exit status, config, results.

    Each run works in a temporary checkout of your working tree (git-ignored top-level
    folders such as data/, and files the snapshot leaves out, are linked in; git-ignored
    top-level files are copied), so -S never touches your files. The config and results
    files are those of .flexgit.toml; its outputs are collected from the checkout when the
    command ends, failed or not. All runs of one call share a group id (the table's
    group column; 'flexgit table --group-by group' sums them up).

    \b
    Example:
      flexgit run -- python train.py
      flexgit run -S lr=0.1,0.01 -S depth=3,5 -j 2 -- python train.py
      flexgit run --name 'lr{lr}-s{seed}' -S lr=0.1,0.01 -S seed=1,2,3 -- python train.py
      flexgit run --resume g-1a2b3c -- python train.py --resume ckpt.pt
      flexgit run --on slurm --partition gpu --gpus 1 --time 4:00:00 -S seed=1,2,3 -j 3 -- python train.py
    """
    import threading

    from ..verbs.launch import Sweep, expand_grid

    check_options(on, detach, gpus_per_run, slurm)
    grid = expand_grid(sets)
    single = len(grid) == 1
    lock = threading.Lock()

    def show_output(label: str, line: str) -> None:
        with lock:
            click.echo(line if single else f"[{label}] {line}")

    def show_progress(progress) -> None:
        if not single and not quiet:
            with lock:
                stopped = f", {progress.interrupted} interrupted" if progress.interrupted else ""
                click.echo(f"flexgit: {progress.done}/{progress.total} done, {progress.running} running, "
                           f"{progress.failed} failed{stopped}", err=True)

    sweep = Sweep(command, grid, name=name, branch=branch, repo=repo_of(ctx), parent=parent, on_output=show_output,
                  on_progress=show_progress, resume=resume, gpus_per_run=gpus_per_run or 0)
    warn_left_out(sweep.left_meta.get("left_out", []))
    warn_secrets(sweep.left_meta)
    warn_snapshot(sweep.left_meta)
    if on != "local":
        return run_on_cluster(sweep, on, slurm_settings(**slurm), jobs, detach, quiet)
    try:
        outcomes = sweep.run(jobs)
    except KeyboardInterrupt as stopped:  # Ctrl-C, or SIGTERM / SIGHUP (Stopped)
        _report_runs(sweep.outcomes, quiet)
        click.echo("interrupted: finished runs are recorded, the running ones as interrupted", err=True)
        sys.exit(128 + getattr(stopped, "signal", signal.SIGINT))  # as a shell reports a process a signal ended
    _report_runs(outcomes, quiet)
    if not single and not quiet:
        click.echo(f"group {sweep.group}: summed up by 'flexgit table --group-by group'", err=True)
    if any(outcome.status != "ok" for outcome in outcomes):
        sys.exit(1)


def _report_runs(outcomes, quiet: bool) -> None:
    """One line a run; quiet keeps only the runs that did not end well."""
    for outcome in outcomes:
        if outcome.run is not None:
            warn_outputs(outcome.run.meta)
        if quiet and outcome.status == "ok":
            continue
        setting = " ".join(f"{k}={format_value(v)}" for k, v in outcome.overrides.items())
        if outcome.run is not None:
            code = "" if outcome.exit_code == 0 else f", exit {outcome.exit_code}"
            click.echo(f"recorded {outcome.run.name} ({outcome.run.short_id}): {outcome.status}{code}"
                       + (f"  {setting}" if setting else ""), err=True)
        else:
            click.echo(f"not recorded: {outcome.status}" + (f" ({outcome.error})" if outcome.error else "")
                       + (f"  {setting}" if setting else ""), err=True)
