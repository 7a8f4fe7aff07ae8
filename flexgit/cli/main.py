"""The `flexgit` command group and its entry point: flexgit errors become one line and exit 1."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from click.shell_completion import BashComplete, FishComplete, ZshComplete

from .._version import __version__
from ..errors import FlexgitError
from ..project.values import one_line
from . import cluster, commands, compare, ending, files, hook, launch, organise, report, sync
from .options import prefix

COMPLETE_VAR = "_FLEXGIT_COMPLETE"  # what click's scripts set; click's default for prog_name flexgit
SHELLS = {"bash": BashComplete, "zsh": ZshComplete, "fish": FishComplete}
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class FlexgitGroup(click.Group):
    """A click group whose `main` reports errors the flexgit way, in process (CliRunner) as from a shell."""

    color: bool | None = None  # what --color and NO_COLOR chose, for errors reported once the context is gone

    def main(self, args=None, prog_name=None, **extra) -> None:  # type: ignore[override]
        extra.pop("standalone_mode", None)
        self.color = None
        try:
            super().main(args=args, prog_name=prog_name or "flexgit", standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.message = one_line(exc.message)  # it may quote what was typed: keep the error one line
            exc.show()
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True, color=self.color)
            sys.exit(130)
        except FlexgitError as exc:
            click.echo(f"{prefix('Error:')} {one_line(str(exc))}", err=True, color=self.color)
            sys.exit(1)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (`flexgit table | head`); nothing to report
            sys.exit(0)
        except Exception as exc:  # a bug: still one line, unless FLEXGIT_DEBUG asks for the traceback
            if os.environ.get("FLEXGIT_DEBUG"):
                raise
            click.echo(f"{prefix('Error:')} internal error ({type(exc).__name__}: {one_line(str(exc))}); please "
                       "report it, with the traceback that FLEXGIT_DEBUG=1 shows", err=True, color=self.color)
            sys.exit(1)


@click.group(cls=FlexgitGroup, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="flexgit")
@click.option("-C", "repo", metavar="PATH", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Run as if flexgit was started in PATH (like git -C).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour warnings and errors: auto (on a terminal, unless NO_COLOR is set), always or never.")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, color: str) -> None:
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
    ctx.color = ctx.command.color = use_color(color)


def use_color(choice: str) -> bool | None:
    """--color as click takes it: True or False, or None to colour only a terminal. An explicit
    --color=always wins over NO_COLOR, as https://no-color.org asks."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return None


@click.command()
@click.argument("shell", type=click.Choice(sorted(SHELLS)))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    \b
    Example:
      eval "$(flexgit completion bash)"      # in ~/.bashrc
      eval "$(flexgit completion zsh)"       # in ~/.zshrc
      flexgit completion fish > ~/.config/fish/completions/flexgit.fish
    """
    script = SHELLS[shell](ctx.find_root().command, {}, "flexgit", COMPLETE_VAR)
    click.echo(script.source())


for _command in (commands.init, commands.record, commands.table, commands.show, commands.update, commands.rename,
                 organise.tag, organise.note, organise.rm, organise.gc, commands.checkout, commands.import_cmd,
                 commands.fsck, files.get, launch.run_cmd, *cluster.COMMANDS, *sync.COMMANDS, sync.migrate, hook.hook,
                 *compare.COMMANDS, report.report, report.ui, completion):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning flexgit errors into one line and exit code 1. Without
    `argv`, the command line is the process's program: a command may end it (see `ending`)."""
    ending.PROGRAM = argv is None
    cli.main(args=argv)
