"""`flexgit run --on slurm` and its options; `flexgit status`, `flexgit collect`: sweeps on a cluster."""

from __future__ import annotations

import sys

import click

from ..project.values import format_value
from .options import quiet_option, repo_of

SLURM_OPTIONS = ("partition", "time", "gpus", "cpus", "mem", "account")


def _slurm_pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str | bool]:
    pairs: dict[str, str | bool] = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not key.strip() or (sep and not value.strip()):
            raise click.BadParameter(f"{text!r}: write KEY=VALUE, an sbatch option and its value, e.g. qos=high, "
                                     "or KEY alone for an option without one, e.g. no-requeue")
        pairs[key.strip()] = value.strip() if sep else True  # sbatch's flags: --no-requeue, --exclusive
    return pairs


def cluster_options(command):
    """The options of `flexgit run` that say where its runs execute."""
    options = [
        click.option("--on", "on", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
                     help="Where the runs execute: this machine, or a Slurm cluster (one job array)."),
        click.option("--detach", is_flag=True,
                     help="With --on slurm: return once submitted and print the group; 'flexgit collect' records."),
        click.option("--partition", metavar="NAME", help="Slurm partition (--on slurm)."),
        click.option("--time", "time_limit", metavar="TIME",
                     help="Slurm time limit of each run: minutes, HH:MM:SS or D-HH:MM:SS (--on slurm)."),
        click.option("--gpus", type=click.IntRange(min=1), help="GPUs for each run (--on slurm)."),
        click.option("--cpus", type=click.IntRange(min=1), help="CPUs for each run (--on slurm)."),
        click.option("--mem", metavar="SIZE", help="Memory for each run, e.g. 16G (--on slurm)."),
        click.option("--account", metavar="NAME", help="Slurm account to charge (--on slurm)."),
        click.option("--slurm", "slurm_extra", multiple=True, metavar="KEY[=VALUE]", callback=_slurm_pairs,
                     help="Any other sbatch option, e.g. --slurm qos=high, --slurm no-requeue (--on slurm). "
                     "Repeatable."),
        click.option("--gpus-per-run", type=click.IntRange(min=1), metavar="N",
                     help="Give each local run N GPUs of its own (CUDA_VISIBLE_DEVICES); no two runs share one."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_options(on: str, detach: bool, gpus_per_run: int | None, slurm: dict) -> None:
    """Usage errors: options of one engine given with the other."""
    flags = {"time_limit": "--time", "slurm_extra": "--slurm"}
    given = [flags.get(key, f"--{key}") for key, value in slurm.items() if value not in (None, {}, ())]
    if on == "local" and (given or detach):
        raise click.UsageError(f"{(given or ['--detach'])[0]} is for runs on a cluster: add --on slurm")
    if on != "local" and gpus_per_run:
        raise click.UsageError("--gpus-per-run is for local runs; on a cluster, --gpus gives each run its GPUs")


def slurm_settings(partition, time_limit, gpus, cpus, mem, account, slurm_extra) -> dict:
    return {"partition": partition, "time": time_limit, "gpus": gpus, "cpus": cpus, "mem": mem, "account": account,
            "extra": slurm_extra}


def run_on_cluster(sweep, on: str, options: dict, jobs: int, detach: bool, quiet: bool) -> None:
    """Submit the sweep; attached, report the states and each run as it is recorded."""
    def show_state(counts: dict[str, int]) -> None:
        if not quiet:
            failed = f", {counts['failed']} failed" if counts["failed"] else ""
            click.echo(f"flexgit: {counts['done']}/{len(sweep.grid)} done, {counts['running']} running, "
                       f"{counts['pending']} pending{failed}", err=True)

    def show_record(outcome) -> None:
        report(outcome, quiet)

    try:
        outcomes = sweep.submit(on, options, jobs, detach, show_state, show_record)
    except KeyboardInterrupt:
        click.echo(f"stopped watching; the jobs go on: 'flexgit status {sweep.group}' shows them, "
                   "'flexgit collect' records them", err=True)
        sys.exit(130)
    handle = sweep.manifest["handle"]
    if detach:
        click.echo(sweep.group)
        if not quiet:
            click.echo(f"submitted {len(sweep.grid)} run{'s' if len(sweep.grid) > 1 else ''} to {on} "
                       f"(job {handle['jobs'][0].split('_')[0]}): 'flexgit status {sweep.group}' shows them, "
                       "'flexgit collect' records those that ended", err=True)
        return
    if not quiet:
        click.echo(f"group {sweep.group}: summed up by 'flexgit table --group-by group'", err=True)
    if any(outcome.status != "ok" or outcome.run is None for outcome in outcomes):
        sys.exit(1)


def report(outcome, quiet: bool) -> None:
    """One line for a run recorded (or not) from a cluster."""
    if quiet and outcome.status == "ok" and outcome.run is not None:
        return
    setting = " ".join(f"{k}={format_value(v)}" for k, v in outcome.overrides.items())
    job = next((value for key, value in outcome.meta.items() if key.endswith("_job")), "")
    where = f", job {job}" if job else ""
    if outcome.run is not None:
        code = "" if outcome.exit_code in (0, None) else f", exit {outcome.exit_code}"
        click.echo(f"recorded {outcome.run.name} ({outcome.run.short_id}): {outcome.status}{code}{where}"
                   + (f"  {setting}" if setting else ""), err=True)
    else:
        click.echo(f"not recorded: {outcome.status}{where} ({outcome.error})" + (f"  {setting}" if setting else ""),
                   err=True)


@click.command()
@click.argument("group", required=False)
@click.pass_context
def status(ctx: click.Context, group: str | None) -> None:
    """The jobs of sweeps submitted to a cluster and not all recorded: their Slurm states.

    Without GROUP, one line a sweep; with it, one line a job. Finished sweeps, all of
    whose runs are recorded, are in 'flexgit table'.

    \b
    Example:
      flexgit status
      flexgit status g-1a2b3c
    """
    from ..verbs.launch import status as status_verb

    sweeps = status_verb(group, repo=repo_of(ctx))
    if not sweeps:
        click.echo("no sweep is waiting on a cluster; 'flexgit table --group-by group' sums up those recorded",
                   err=True)
        return
    for sweep in sweeps:
        states: dict[str, int] = {}
        for job in sweep.jobs:
            states[job.state] = states.get(job.state, 0) + 1
        recorded = sum(1 for job in sweep.jobs if job.run_id)
        summary = ", ".join(f"{count} {state.lower()}" for state, count in states.items())
        click.echo(f"{sweep.group}  {sweep.engine}  {len(sweep.jobs)} runs: {summary}; {recorded} recorded  "
                   f"(since {sweep.created[:19].replace('T', ' ')})")
        if group is None:
            continue
        width = max(len(job.name) for job in sweep.jobs)
        for job in sweep.jobs:
            run = f"recorded ({job.run_id[:10]})" if job.run_id else ""
            click.echo(f"  {job.name:<{width}}  {job.job_id:<10}  {job.state:<13}  {job.node or '-':<8}  {run}"
                       .rstrip())


@click.command()
@quiet_option
@click.pass_context
def collect(ctx: click.Context, quiet: bool) -> None:
    """Record every job that has ended of the sweeps submitted with --detach (or left by Ctrl-C).

    Each run is recorded once, however often and from however many processes collect
    runs at the same time: from cron, or as the last step of the array.

    \b
    Example:
      flexgit collect
      */5 * * * * cd ~/project && flexgit collect -q
    """
    from ..verbs.launch import collect as collect_verb

    outcomes = collect_verb(repo=repo_of(ctx), on_record=lambda outcome: report(outcome, quiet))
    if not quiet:
        recorded = sum(1 for outcome in outcomes if outcome.run is not None)
        click.echo(f"collected {recorded} run{'' if recorded == 1 else 's'}", err=True)
    if any(outcome.run is None for outcome in outcomes):
        sys.exit(1)


COMMANDS = (status, collect)
