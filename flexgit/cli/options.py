"""Options and arguments used by several commands, each defined once with one true help text."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..project.values import one_line, parse_assignment


def repo_of(ctx: click.Context) -> Path | None:
    """The repository path given with `flexgit -C PATH`, else None (the current directory's)."""
    return ctx.find_root().obj


def _assignments(option: str, no_value_hint: str = ""):
    """A click callback turning repeated KEY=VALUE options into a dict (usage error if malformed);
    `no_value_hint` is added to the error when a value has no `=`."""

    def convert(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
        pairs = {}
        for text in values:
            try:
                key, value = parse_assignment(text, option)
            except InputError as exc:
                hint = f"; {no_value_hint}" if no_value_hint and "=" not in text else ""
                raise click.BadParameter(f"{exc}{hint}") from None
            if key in pairs and pairs[key] != value:  # keeping either would lose the other silently
                raise click.BadParameter(f"{option} {key} is given twice ({pairs[key]!r} and {value!r}); give it once")
            pairs[key] = value
        return pairs

    return convert


branch_option = click.option(
    "--branch", "-b", metavar="B",
    help="Experiments branch (default: the one .flexgit.toml names, else experiments).")


def metric_option(help_text: str, no_value_hint: str = ""):
    """-m/--metric KEY=VALUE, repeatable; `no_value_hint` helps a value with no `=` (git's `-m "message"` habit)."""
    return click.option("-m", "--metric", "metrics", multiple=True, metavar="KEY=VALUE",
                        callback=_assignments("--metric", no_value_hint), help=help_text)


def param_option(help_text: str):
    return click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
                        callback=_assignments("--param"), help=help_text)


PREFIX_COLORS = {"Error:": "red", "warning:": "yellow"}

quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")


def prefix(word: str) -> str:
    """`Error:` or `warning:`, coloured; click strips the colour unless --color and NO_COLOR allow it."""
    return click.style(word, fg=PREFIX_COLORS[word], bold=True)


def warn(text: str) -> None:
    """One warning line on stderr."""
    click.echo(f"{prefix('warning:')} {text}", err=True)


def warn_left_out(paths) -> None:
    """Warn about the files a snapshot left out for their size, and say how to keep them."""
    for path in paths:
        warn(f"left out of the snapshot, larger than max_file_size: {one_line(path)}")
    if paths:
        click.echo('to keep such files, raise max_file_size in .flexgit.toml (e.g. max_file_size = "100MB", '
                   'or "none" for no limit)', err=True)


def warn_secrets(meta) -> None:
    """One warning line for the files a snapshot left out as secrets, one for tracked ones it holds."""
    if meta.get("secrets_left_out"):
        warn("left out of the snapshot, as they look like secrets: "
             f"{one_line(', '.join(meta['secrets_left_out']))} (include_secrets in .flexgit.toml keeps them)")
    if meta.get("secrets_tracked"):
        warn("tracked by git, so in the snapshot, though they look like secrets: "
             f"{one_line(', '.join(meta['secrets_tracked']))} (already in your history; 'flexgit push' "
             "would share them)")


def warn_snapshot(meta) -> None:
    """Say where a snapshot differs from the working tree: git repositories inside it left out, files
    outside a sparse checkout held as committed."""
    for nested in meta.get("nested_repos", []):
        path, at, commit = nested.rpartition("@")
        if not at or len(commit) != 40:
            path, commit = nested, ""
        where = f"on commit {commit[:10]}, named in the run's meta" if commit else "it has no commit"
        warn(f"left out of the snapshot, a git repository of its own: {path} ({where})")
    if meta.get("outside_sparse"):
        click.echo(f"note: {meta['outside_sparse']} files outside the sparse checkout are not in the working tree; "
                   "the snapshot holds them as committed", err=True)
