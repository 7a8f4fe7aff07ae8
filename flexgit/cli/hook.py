"""`flexgit hook install | uninstall | status | post-commit`."""

from __future__ import annotations

import click

from .options import repo_of, warn


@click.group()
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
    from ..verbs.hook import install

    done = install(repo_of(ctx))
    click.echo(f"installed {done.path}" + (f"; your hook runs first from {done.chained.name}" if done.chained else ""))
    if done.settings_error:
        warn(f"nothing will be recorded until the settings are fixed: {done.settings_error}")
    elif not done.results:
        warn("no results file is configured, so nothing will be recorded until you set results "
             'in .flexgit.toml, e.g. results = ["metrics.json"]')


@hook.command(name="uninstall")
@click.pass_context
def hook_uninstall(ctx: click.Context) -> None:
    """Remove the hook and put back the post-commit hook it had kept."""
    from ..verbs.hook import uninstall

    done = uninstall(repo_of(ctx))
    back = "; your own hook is back" if done.path.exists() else ""
    click.echo(f"removed flexgit's hook from {done.path.parent}{back}")


@hook.command(name="status")
@click.pass_context
def hook_status(ctx: click.Context) -> None:
    """Whether the hook is installed, and what the last commit's auto-record did."""
    from ..verbs.hook import status

    state = status(repo_of(ctx))
    lines = [f"{'installed' if state.installed else 'not installed'}: {state.path}"]
    if state.chained:
        lines.append(f"chained: {state.chained}")
    if state.settings_error:
        lines.append(f"results: unknown, the settings cannot be read: {state.settings_error}")
    else:
        lines.append(f"results: {', '.join(state.results)}" if state.results else
                     "results: none configured, nothing will be recorded (set results in .flexgit.toml)")
    lines.append(f"last: {state.last or 'nothing yet'}")
    click.echo("\n".join(lines) + "\n", nl=False)  # whole lines, the last one ended too


@hook.command(name="post-commit")
@click.pass_context
def hook_post_commit(ctx: click.Context) -> None:
    """What git runs after each commit; never fails the commit."""
    from .postcommit import run

    run(repo_of(ctx), ctx.color)
