"""The commands that organise runs: tag, note, rm (and rm --undo), gc."""

from __future__ import annotations

import sys

import click

from .options import branch_option, repo_of

SHOWN_NAMES = 10  # names listed before "..."


@click.command()
@click.argument("items", nargs=-1, required=True, metavar="RUN... +LABEL...")
@click.option("--remove", "removed", multiple=True, metavar="LABEL", help="A label to take off the runs. Repeatable.")
@click.pass_context
def tag(ctx: click.Context, items: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Add labels (+LABEL) to runs, or take them off (--remove LABEL); the newest change wins across clones.

    A label is a word of letters, digits and _ . - ; `table` shows them in its tags column.

    \b
    Example:
      flexgit tag lr-0.1 lr-0.3 +best +paper
      flexgit tag lr-0.1 --remove baseline
    """
    from ..verbs.tag import tag as tag_verb

    names = [item for item in items if not item.startswith("+")]
    labels = [item for item in items if item.startswith("+")]
    for run in tag_verb(names, add=labels, remove=removed, repo=repo_of(ctx)):
        click.echo(f"{run.name} ({run.short_id}): {', '.join(run.tags) or 'no tags'}")


@click.command()
@click.argument("name")
@click.argument("text")
@click.pass_context
def note(ctx: click.Context, name: str, text: str) -> None:
    """Add a dated comment to a run; `flexgit show RUN` lists them.

    \b
    Example:
      flexgit note lr-0.1 "diverged after epoch 40; lower the lr"
    """
    from ..verbs.note import note as note_verb

    run = note_verb(name, text, repo=repo_of(ctx))
    click.echo(f"noted on {run.name} ({run.short_id}), {len(run.notes)} note{'s' * (len(run.notes) != 1)} in all")


@click.command()
@click.argument("names", nargs=-1, metavar="RUN...")
@click.option("--where", metavar="EXPR", help="Remove the runs matching EXPR (as in table --where), after a "
                                               "confirmation.")
@click.option("--undo", is_flag=True, help="Bring the runs back instead.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for a confirmation (needed with --where when input "
                                                "is not a terminal).")
@branch_option
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...], where: str | None, undo: bool, yes: bool,
       branch: str | None) -> None:
    """Remove runs from the table, here and in every clone they sync to; --undo brings them back.

    A removed run is hidden, not deleted: its note gets a tombstone line that push and pull
    carry. `flexgit table --removed` lists removed runs, `flexgit show` still shows one,
    `flexgit checkout` refuses it until `rm --undo`. With --where, the matching runs are
    counted and listed and you are asked to confirm (or give --yes).

    \b
    Example:
      flexgit rm smoke-test run-1a2b3c
      flexgit rm --where 'metrics.acc < 0.2' --yes
      flexgit rm --undo smoke-test
    """
    from ..verbs.rm import rm as rm_verb

    if where and not yes:
        plan = rm_verb(names, where=where, undo=undo, branch=branch, dry_run=True, repo=repo_of(ctx))
        if not plan.changed:
            click.echo(f"no {'removed ' if undo else ''}runs match --where '{where}'; nothing to do")
            return
        verb = "bring back" if undo else "remove"
        click.echo(f"{len(plan.changed)} run{_s(plan.changed)} match --where '{where}': {_names(plan.changed)}")
        if not sys.stdin.isatty():
            raise click.ClickException(f"not asking for a confirmation without a terminal; to {verb} "
                                       f"these runs, add --yes")
        if not click.confirm(f"{verb} {len(plan.changed)} run{_s(plan.changed)}?"):
            click.echo("nothing changed")
            return
        names, where = tuple(run.id for run in plan.changed), None
    done = rm_verb(names, where=where, undo=undo, branch=branch, repo=repo_of(ctx))
    if done.changed:
        if undo:
            click.echo(f"brought back {len(done.changed)} run{_s(done.changed)}: {_names(done.changed)}")
        else:
            click.echo(f"removed {len(done.changed)} run{_s(done.changed)}: {_names(done.changed)}; "
                       f"'flexgit rm --undo {done.changed[0].name}' brings one back")
    for run in done.unchanged:
        click.echo(f"{run.name} was {'not removed' if undo else 'already removed'}")
    if where and not done.changed and not done.unchanged:
        click.echo(f"no {'removed ' if undo else ''}runs match --where '{where}'; nothing to do")


@click.command()
@branch_option
@click.pass_context
def gc(ctx: click.Context, branch: str | None) -> None:
    """Reclaim the space of removed runs: rewrite the experiments branch without them.

    The runs 'flexgit rm' removed lose their commits, notes and names; every other run's
    commit is re-created with the same snapshot and message, so its id changes while its
    name stays. Then 'git gc' can drop their files once no ref or reflog holds them, e.g.
    'git reflog expire --expire=now --all && git gc --prune=now'. 'flexgit push' replaces
    the remote's branch (with a lease); clones that pull drop the removed runs and keep
    their own. git-lfs objects are not pruned.

    \b
    Example:
      flexgit rm --where 'metrics.acc < 0.2' --yes
      flexgit gc
      git reflog expire --expire=now --all && git gc --prune=now
    """
    from ..verbs.gc import gc as gc_verb

    done = gc_verb(branch=branch, repo=repo_of(ctx))
    if not done.removed:
        click.echo("no removed runs on the experiments branch; nothing to reclaim ('flexgit rm' removes runs)")
        return
    click.echo(f"dropped {len(done.removed)} removed run{_s(done.removed)}; {len(done.moved)} other run"
               f"{_s(list(done.moved))} kept with new commit ids (same names). Run 'git reflog expire --expire=now "
               "--all && git gc --prune=now' to free the space, and 'flexgit push' to replace the remote's branch. "
               "git-lfs objects are not pruned.")


def _s(items: list) -> str:
    return "s" * (len(items) != 1)


def _names(runs: list) -> str:
    return ", ".join(run.name for run in runs[:SHOWN_NAMES]) + (", ..." if len(runs) > SHOWN_NAMES else "")
