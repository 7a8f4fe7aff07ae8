"""`flexgit plot`: a picture of runs, as PNG or SVG. Collects the data; `view/charts.py` draws it.

Four kinds, chosen by the options: step curves of metrics (`x` = step or time), a metric against
any column over runs (`x` = a column), a metric along the source commits of a branch of the
project (`x` = commit, `along`), parallel coordinates over params and a metric (`parallel`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

from .._context import PathLike, find_runs, open_store, runs_matching, target_branch
from ..errors import InputError
from ..project.files import write_atomic
from ..project.history import series
from ..project.values import is_number
from ..storage.run import Run
from ..storage.snapshots import history
from ..storage.store import Store
from ..view import charts
from ..view.query import resolve_column

STEP_AXES = {"step": "step", "time": "seconds since the first logged line"}
EXAMPLE = "flexgit plot loss --runs lr-0.1,lr-0.3 -o loss.png"


def plot(metrics: Sequence[str] | str = (), runs: Sequence[str] | str = (), where: str | None = None,
         x: str | None = None, y: str | None = None, along: str | None = None, parallel: bool = False,
         params: Sequence[str] | str = (), logx: bool = False, logy: bool = False, branch: str | None = None,
         output: PathLike | None = None, format: str | None = None, repo: PathLike | None = None) -> bytes:
    """Draw runs and return the picture's bytes (PNG or SVG: `output`'s extension, else `format`,
    else PNG); with `output`, also write it there.

    - step curves: `plot(["loss", "acc"], runs=["a", "b"])`, `x="time"` for wall time (the default for
      metrics logged without steps, as the system metrics `sys.*` are);
    - a metric against a column over runs: `plot(x="params.lr", y="metrics.acc", logx=True)`;
    - a metric along the source commits of a branch of the project: `plot(x="commit", along="main", y="acc")`;
    - parallel coordinates: `plot(parallel=True, y="acc", params=["lr", "depth"])` (default: the params
      that vary).

    Runs are `runs` (names or commit ids), or those of `branch` that match `where`, else all of `branch`.
    """
    fmt = picture_format(output, format)
    names = _listed(metrics)
    if along and x != "commit":
        raise InputError("--along goes with --x commit: flexgit plot --x commit --along main --y acc")
    if x == "commit" and not along:
        raise InputError("--x commit needs the branch of your project to follow: add --along main")
    if parallel and x is not None:
        raise InputError("--parallel draws params and a metric, with no x axis: leave out --x")
    charts.require_matplotlib()  # before any work, and before anything is written
    store = open_store(repo)
    chosen = _chosen_runs(store, _listed(runs), where, branch)
    if parallel:
        data = _parallel(chosen, _metric(names, y), _listed(params), fmt)
    elif x == "commit":
        data = _along(store, chosen, _metric(names, y), str(along), fmt)
    elif x is not None and x not in STEP_AXES:
        data = _scatter(chosen, x, _metric(names, y), logx, logy, fmt)
    else:
        data = _curves(store, chosen, names + ([y] if y else []), x, fmt)
    if output is not None:
        try:
            write_atomic(Path(output), data)
        except OSError as exc:
            raise InputError(f"cannot write the picture to '{os.fspath(output)}': {exc.strerror or exc}") from None
    return data


def picture_format(output: PathLike | None, fmt: str | None) -> str:
    """png or svg: by `output`'s extension when there is one, else `fmt`, else png."""
    if fmt is not None and fmt not in charts.FORMATS:
        raise InputError(f"cannot draw {fmt!r}; choose png or svg")
    if output is None:
        return fmt or "png"
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix not in charts.FORMATS:
        raise InputError(f"cannot tell the picture's format from '{os.fspath(output)}': name a .png or .svg file")
    if fmt is not None and fmt != suffix:
        raise InputError(f"-o names a .{suffix} file but --format says {fmt}; give one of them")
    return suffix


def _listed(value: Sequence[str] | str | None) -> list[str]:
    """A list given as a list, or as `a,b` text (as typed after --runs)."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else [part for item in value for part in str(item).split(",")]
    return [item.strip() for item in items if item.strip()]


def _chosen_runs(store: Store, names: list[str], where: str | None, branch: str | None) -> list[Run]:
    if names and where:
        raise InputError("give run names (--runs) or --where, not both")
    if names:
        return find_runs(store, names, EXAMPLE)
    if where:
        found = runs_matching(store, where, branch)
        if not found:
            raise InputError(f"no runs match --where '{where}'; 'flexgit table --where ...' shows what matches")
        return found
    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    found = store.runs(target)
    if not found:
        raise InputError(f"no runs on branch '{target.name}'; record one with 'flexgit record'")
    return found


def _metric(names: list[str], y: str | None) -> str:
    """The one metric (or column) a scatter, a commit plot or parallel coordinates shows."""
    given = names + ([y] if y else [])
    if len(given) != 1:
        raise InputError("name one metric to plot, e.g. --y metrics.acc" if not given else
                         f"this plot shows one metric, not {len(given)} ({', '.join(given)}); keep one")
    return given[0]


def _rows(chosen: list[Run]) -> tuple[list[dict[str, Any]], list[str]]:
    """The chosen runs' table rows (meta.* included), and every column they name."""
    rows = [{**run.table_row(), **{f"meta.{key}": value for key, value in run.meta.items()}} for run in chosen]
    return rows, list(dict.fromkeys(["name", "id", "date", "message", *(key for row in rows for key in row)]))


def _number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


# -- step curves ------------------------------------------------------------------------------


def _curves(store: Store, chosen: list[Run], metrics: list[str], x: str | None, fmt: str) -> bytes:
    if not metrics:
        raise InputError(f"name the metrics to draw, e.g. {EXAMPLE}")
    logged = {run.name: series(history(store.repo, run)) for run in chosen}
    known = sorted({key for curves in logged.values() for key in curves})
    if not known:
        raise InputError(f"none of the {len(chosen)} runs chosen has a step history; log one during training with "
                         "flexgit.log(step=..., loss=...)")
    keys = [_logged_metric(metric, known) for metric in metrics]
    x = _axis(x, logged, keys)
    drawn = []
    for run in chosen:
        for key in keys:
            points = [p for p in logged[run.name].get(key, []) if x == "step" or p.seconds is not None]
            if points:
                drawn.append(charts.Curve(run.name, key, [p.step if x == "step" else p.seconds for p in points],
                                          [p.value for p in points]))
    if not drawn:
        raise InputError(f"the runs chosen logged {', '.join(keys)} without the time of each step; use --x step")
    return charts.step_curves(drawn, keys, STEP_AXES[x], fmt)


def _axis(x: str | None, logged: dict[str, dict[str, list[Any]]], keys: list[str]) -> str:
    """`x`, else step, or time for metrics logged without steps (system metrics are sampled over time);
    steps asked of those, or a mix of the two kinds with no `x`, is an error that says what to do."""
    timed = [key for key in keys if not any(p.stepped for curves in logged.values() for p in curves.get(key, []))]
    if not timed or x == "time":
        return x or "step"
    what = f"{', '.join(timed)} {'was' if len(timed) == 1 else 'were'} logged over time, without steps"
    if x is None and len(timed) == len(keys):
        return "time"
    if x == "step":
        raise InputError(f"{what} (system metrics are sampled so): draw {'it' if len(timed) == 1 else 'them'} "
                         "with --x time")
    stepped = [key for key in keys if key not in timed]
    raise InputError(f"{what} (system metrics are sampled so), {', '.join(stepped)} by step: draw them all with "
                     f"--x time, or apart (flexgit plot {' '.join(timed)} ...)")


def _logged_metric(name: str, known: list[str]) -> str:
    """The logged metric `name` means (`loss` or `metrics.loss`), or an error listing those logged."""
    for key in (name, name.removeprefix("metrics.")):
        if key in known:
            return key
    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
    raise InputError(f"no run chosen logged a metric '{name}'; logged: {shown}")


# -- a metric against a column ---------------------------------------------------------------------


def _scatter(chosen: list[Run], x: str, y: str, logx: bool, logy: bool, fmt: str) -> bytes:
    rows, known = _rows(chosen)
    x_column, y_column = resolve_column(x, known), resolve_column(y, known)
    points = [charts.Point(row["name"], row[x_column], row[y_column]) for row in rows
              if row.get(x_column) is not None and not _nan(row[x_column]) and _number(row.get(y_column))]
    if not points:
        raise InputError(f"no run chosen has both {x_column} and a number for {y_column}")
    for column, log, values in ((x_column, logx, [p.x for p in points]), (y_column, logy, [p.y for p in points])):
        if log and not all(map(is_number, values)):
            raise InputError(f"a log axis needs numbers, and {column} holds text; leave out the log option")
        if log and min(values) <= 0:
            raise InputError(f"a log axis needs values above 0, and {column} has {min(values)}; "
                             "leave out the log option or choose the runs with --where")
    if not all(is_number(p.x) for p in points) and any(is_number(p.x) for p in points):
        points = [p._replace(x=str(p.x)) for p in points]  # mixed: all as categories
    return charts.scatter(points, x_column, y_column, logx, logy, fmt)


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# -- a metric along the commits of a branch --------------------------------------------------------


def _along(store: Store, chosen: list[Run], y: str, along: str, fmt: str) -> bytes:
    tip = store.repo.resolve_commit(along)
    if tip is None:
        raise InputError(f"no branch or commit '{along}' in this repository; --along takes a branch of your "
                         "project, e.g. --along main")
    rows, known = _rows(chosen)
    column = resolve_column(y, known)
    wanted = {run.source for run, row in zip(chosen, rows, strict=True) if run.source and _number(row.get(column))}
    commits = []  # (id, subject) of the commits holding runs, newest first
    for commit, message in store.repo.commits_between(tip, []):
        if commit in wanted:
            commits.append((commit, message.strip().split("\n", 1)[0]))
            wanted.discard(commit)
            if not wanted:
                break
    commits.reverse()
    position = {commit: i for i, (commit, _) in enumerate(commits)}
    points = [charts.Point(run.name, position[run.source], row[column], bool(run.meta.get("dirty")))
              for run, row in zip(chosen, rows, strict=True) if run.source in position and _number(row.get(column))]
    if not points:
        raise InputError(f"no run chosen with a number for {column} was recorded on a commit of '{along}'; "
                         "'flexgit table --columns name,meta.source_branch' shows where runs were recorded")
    left_out = len(chosen) - len(points)
    title = f"{column} along {along}" + (f" ({left_out} runs elsewhere or without it left out)" if left_out else "")
    labels = [f"{commit[:7]} {subject}" for commit, subject in commits]
    return charts.along_commits(labels, points, column, title, fmt)


# -- parallel coordinates ----------------------------------------------------------------------


def _parallel(chosen: list[Run], y: str, params: list[str], fmt: str) -> bytes:
    rows, known = _rows(chosen)
    metric = resolve_column(y, known)
    if params:
        columns = [resolve_column(name, known) for name in params]
    else:
        all_params = [c for c in known if c.startswith("params.")]
        columns = [c for c in all_params if len({repr(row.get(c)) for row in rows}) > 1] or all_params
    if not columns:
        raise InputError("the runs chosen have no params to draw; name columns with --params")
    return charts.parallel(columns + [metric], [(row["name"], [row.get(c) for c in columns + [metric]])
                                                for row in rows], fmt)
