"""`flexgit pull`, `push` and `sync`."""

from __future__ import annotations

import click

from .options import branch_option, quiet_option, repo_of, warn


def _sync_command(verb: str, summary: str, example: str) -> click.Command:
    @click.command(name=verb, help=f"{summary}\n\n\b\nExample:\n  {example}")
    @click.argument("remote", default="origin")
    @branch_option
    @quiet_option
    @click.pass_context
    def command(ctx: click.Context, remote: str, branch: str | None, quiet: bool, **pushing) -> None:
        from ..verbs import sync

        report = getattr(sync, verb)(remote, branch=branch, repo=repo_of(ctx), **pushing)
        if verb != "push" and not quiet:
            joined = ", joined with a merge commit" if report.merged else ""
            runs = "1 new run" if report.fetched_runs == 1 else f"{report.fetched_runs} new runs"
            click.echo(f"pulled from {remote}: {runs}{joined}")
        if report.rewritten is not None and not quiet:
            click.echo(f"{remote}'s experiments branch was rewritten by 'flexgit gc': {report.rewritten} removed "
                       "runs went here too, the runs recorded only here were kept (their ids changed, not their "
                       "names)")
        if report.large_files_absent:
            warn(f"{report.large_files_absent} large files of the pushed runs are not in this clone (pulled runs "
                 f"whose content was never fetched here) and were not uploaded; 'flexgit get' fetches them")
        if report.pushed and not quiet:
            large = f" ({report.large_files} large files through git-lfs)" if report.large_files else ""
            click.echo(f"pushed to {remote}{large}" + (": its experiments branch replaced by our 'flexgit gc' rewrite"
                                                        if report.replaced else ""))
        for name in report.conflicts:
            warn(f"run name '{name}' means different runs here and on {remote}; both runs are "
                 f"kept: 'flexgit rename {name} NEW' renames yours, then pull again")
        if report.older_format and not quiet:
            click.echo(f"note: {remote} still holds runs in the older format, which every clone fetches; "
                       f"'flexgit migrate {remote}' moves them", err=True)
        if report.refused:
            warn(f"{len(report.refused)} run names on {remote} are not valid flexgit names or do not "
                 f"name a commit; they were not taken: {', '.join(map(repr, report.refused[:5]))}")

    if verb == "pull":
        return command
    return click.option("--allow-secrets", is_flag=True,
                        help="Push runs even when their snapshot holds tracked files that look like secrets.")(command)


COMMANDS = (
    _sync_command("pull", "Fetch the runs of REMOTE (default origin) and join them with yours.", "flexgit pull origin"),
    _sync_command("push", "Send your runs to REMOTE (default origin); retried after a pull if it moved.",
                  "flexgit push origin"),
    _sync_command("sync", "Pull, then push: everyone's runs, here and on REMOTE.", "flexgit sync"),
)


@click.command()
@click.argument("remote", required=False)
@branch_option
@click.pass_context
def migrate(ctx: click.Context, remote: str | None, branch: str | None) -> None:
    """Move runs to the current storage format: here, and on REMOTE if given.

    Format 2 keeps run names in refs/exp/ (not tags) and, on a remote, the experiments
    branch in refs/flexgit/heads/, so plain clones and fetches never carry runs. Safe to
    interrupt and to run again.

    \b
    Example:
      flexgit migrate origin
    """
    from ..verbs.migrate import migrate as migrate_verb

    done = migrate_verb(remote, branch=branch, repo=repo_of(ctx))
    click.echo(f"moved {done.moved} run names to refs/exp/")
    for name in done.kept:
        warn(f"kept refs/tags/exp/{name}: another run holds that name, or it is not a run; "
             f"see 'flexgit show {name}'")
    if done.remote is not None:
        click.echo(f"{done.remote}: pulled {done.pulled_runs} new runs, pushed in format 2, "
                   f"removed {done.removed_on_remote} format 1 refs")
        for name in done.kept_on_remote:
            warn(f"kept refs/tags/exp/{name} on {done.remote}: it names another run there")
