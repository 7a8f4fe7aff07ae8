"""`flexgit pull`, `push` and `sync`."""

from __future__ import annotations

import click

from .options import branch_option, repo_of


def _sync_command(verb: str, summary: str, example: str) -> click.Command:
    @click.command(name=verb, help=f"{summary}\n\n\b\nExample:\n  {example}")
    @click.argument("remote", default="origin")
    @branch_option
    @click.pass_context
    def command(ctx: click.Context, remote: str, branch: str | None) -> None:
        from ..verbs import sync

        report = getattr(sync, verb)(remote, branch=branch, repo=repo_of(ctx))
        if verb != "push":
            joined = ", joined with a merge commit" if report.merged else ""
            runs = "run" if report.fetched_runs == 1 else "runs"
            click.echo(f"pulled from {remote}: {report.fetched_runs} new {runs}{joined}")
        if report.pushed:
            click.echo(f"pushed to {remote}")
        for name in report.conflicts:
            click.echo(f"warning: run name '{name}' means different runs here and on {remote}; both runs are "
                       f"kept: 'flexgit rename {name} NEW' renames yours, then pull again", err=True)

    return command


COMMANDS = (
    _sync_command("pull", "Fetch the runs of REMOTE (default origin) and join them with yours.", "flexgit pull origin"),
    _sync_command("push", "Send your runs to REMOTE (default origin); retried after a pull if it moved.",
                  "flexgit push origin"),
    _sync_command("sync", "Pull, then push: everyone's runs, here and on REMOTE.", "flexgit sync"),
)
