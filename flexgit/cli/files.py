"""`flexgit get`, and how `show` lists the files a run keeps (outputs, artifacts, checkpoints)."""

from __future__ import annotations

from pathlib import Path

import click

from ..project.values import format_value
from .options import repo_of, warn


def human_size(size: int) -> str:
    """`512 B`, `1.5 KiB`, `50.0 MiB`: sizes as people read them."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def file_lines(details) -> list[str]:
    """`show`'s lines for the outputs, artifacts and checkpoints of a run."""
    lines = []
    for kind in ("outputs", "artifacts"):
        kept = [f for f in details.files if f.kind == kind]
        if kept:
            lines.append(f"{kind}:")
            width = max(len(f.path) for f in kept)
            lines += [f"  {f.path:<{width}}  {human_size(f.size)}" + ("  (git-lfs)" if f.lfs else "") for f in kept]
    if details.checkpoints:
        lines.append("checkpoints:")
        width = max(len(c.path) for c in details.checkpoints)
        for c in details.checkpoints:
            values = "  ".join(f"{key}={format_value(value)}" for key, value in c.metrics.items())
            lines.append(f"  step {c.step:<6} {c.path:<{width}}  {human_size(c.size)}"
                         + (f"  {values}" if values else ""))
    return lines


def warn_outputs(meta, quiet_missing: bool = False) -> None:
    """Warnings for the outputs of a run: patterns that matched nothing, paths refused, large files
    kept as plain blobs for want of git-lfs."""
    missing = meta.get("outputs_missing") or []
    if missing and not quiet_missing:
        warn(f"no file matches the output {', '.join(map(repr, missing))}; the run keeps the outputs that exist")
    for refused in meta.get("outputs_refused") or []:
        warn(f"output {refused} was not kept: only files inside the working tree are")
    large = meta.get("not_in_lfs") or []
    if large:
        from ..storage.lfs import INSTALL_HINT

        warn(f"git-lfs is not installed, so {len(large)} large files ({', '.join(large[:3])}"
             f"{', ...' if len(large) > 3 else ''}) were kept as plain git blobs, which every clone of the runs "
             f"carries; {INSTALL_HINT}")


@click.command()
@click.argument("run")
@click.argument("path", required=False)
@click.option("-o", "--output", "dest", metavar="DEST", type=click.Path(path_type=Path),
              help="Where to write it (a file, or a folder to write it into). Default: its name, here.")
@click.option("--checkpoint", metavar="STEP|last|best", help="A checkpoint of the run instead of PATH.")
@click.option("--by", metavar="METRIC", help="With --checkpoint best: the metric to judge by.")
@click.option("--max", "mode", flag_value="max", help="With --checkpoint best: the highest value is best.")
@click.option("--min", "mode", flag_value="min",
              help="With --checkpoint best: the lowest value is best (the default, unless the run's "
                   "flexgit.finish(max=[...]) names the metric).")
@click.pass_context
def get(ctx: click.Context, run: str, path: str | None, dest: Path | None, checkpoint: str | None, by: str | None,
        mode: str | None) -> None:
    """Write a file a run keeps (an output, an artifact, a checkpoint) without checking the run out.

    PATH is an output's path from the top of the working tree, or an artifact's name; 'flexgit
    show RUN' lists them. Content kept with git-lfs is fetched from the remote that has the run
    when this clone lacks it. An existing file is never replaced.

    \b
    Example:
      flexgit get lr-0.1 model.pkl -o models/lr-0.1.pkl
      flexgit get lr-0.1 --checkpoint best --by val_loss
      flexgit get lr-0.1 --checkpoint 2000 -o ckpt.pt
    """
    from ..verbs.get import get as get_verb

    if path is not None and checkpoint is not None:
        raise click.UsageError("give PATH or --checkpoint, not both")
    if path is None and checkpoint is None:
        raise click.UsageError("Missing argument 'PATH' (or --checkpoint STEP|last|best).")
    if (by or mode) and checkpoint != "best":
        raise click.UsageError("--by, --min and --max choose among checkpoints: use them with --checkpoint best")
    written = get_verb(run, path, dest=dest, checkpoint=checkpoint, by=by, mode=mode, repo=repo_of(ctx))
    click.echo(f"wrote {written} ({human_size(written.stat().st_size)})")
