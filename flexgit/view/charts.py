"""Pictures of runs (`flexgit plot`), drawn with matplotlib: step curves, a metric against a param,
a metric along the commits of a branch, parallel coordinates. Each takes plain data and returns the
bytes of a PNG or an SVG.

matplotlib is an optional extra, imported only here and only when a picture is drawn. Figures are
made without pyplot (no global state, no window). Every drawn series carries an id `series-N`
(the `id` of its group in an SVG), so a reader can find and count them. Text from runs (names,
keys, commit subjects) is never read as mathtext: its `$` is escaped, a dollar sign.
"""

from __future__ import annotations

import io
import math
from typing import Any, Callable, NamedTuple, Sequence

from ..errors import MissingDependencyError
from ..project.values import format_value, is_number, one_line

FORMATS = ("png", "svg")
MAX_LEGEND = 20  # more runs than this get no legend: it would hide the plot
MAX_LABEL = 40  # characters of a run name, key or commit subject in a label
MAX_TICKS = 40  # commit labels shown along the x axis; more are thinned out
RC = {
    "svg.fonttype": "none",  # text stays text in an SVG: smaller, selectable, searchable
    "svg.hashsalt": "flexgit",  # the same data gives the same SVG
    "axes.grid": True,
    "grid.alpha": 0.3,
}


class Curve(NamedTuple):
    """The logged values of one metric of one run."""

    run: str
    metric: str
    xs: Sequence[float]
    ys: Sequence[float]


class Point(NamedTuple):
    """One run's value `y` at `x` (a number, a category, or a commit's position)."""

    run: str
    x: Any
    y: float
    dirty: bool = False  # recorded from a working tree with uncommitted changes


def require_matplotlib() -> None:
    """Refuse early, with the command that installs it, when matplotlib is missing."""
    _matplotlib()


def step_curves(curves: Sequence[Curve], metrics: Sequence[str], x_label: str, fmt: str) -> bytes:
    """A plot per metric, one above the other, with a line per run (a run keeps its colour in each)."""
    runs = list(dict.fromkeys(curve.run for curve in curves))

    def draw(figure) -> None:
        axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
        series = 0
        for ax, metric in zip(axes, metrics, strict=True):
            for curve in (c for c in curves if c.metric == metric):
                colour = _colour(runs.index(curve.run))
                marker = "." if len(curve.xs) <= 50 else None
                (line,) = ax.plot(curve.xs, curve.ys, color=colour, marker=marker, label=_label(curve.run))
                line.set_gid(f"series-{series}")
                series += 1
            ax.set_ylabel(_label(metric))
        axes[-1].set_xlabel(x_label)
        _legend(axes[0], len(runs))

    return _picture(fmt, (8, 1.2 + 2.6 * len(metrics)), draw)


def scatter(points: Sequence[Point], x_label: str, y_label: str, logx: bool, logy: bool, fmt: str) -> bytes:
    """`y` against `x` over runs, each point named when there are few."""

    def draw(figure) -> None:
        ax = figure.add_subplot()
        xs = [p.x if is_number(p.x) else _label(format_value(p.x)) for p in points]
        dots = ax.scatter(xs, [p.y for p in points], color=_colour(0), zorder=3)
        dots.set_gid("series-0")
        if len(points) <= MAX_LEGEND:
            for x, point in zip(xs, points, strict=True):
                ax.annotate(_label(point.run), (x, point.y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if logx:  # only then: setting a scale resets the axis' ticks, a categories' labels among them
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(_label(x_label))
        ax.set_ylabel(_label(y_label))

    return _picture(fmt, (7, 4.5), draw)


def along_commits(commits: Sequence[str], points: Sequence[Point], y_label: str, title: str, fmt: str) -> bytes:
    """A point per run at the position of its source commit (hollow when recorded with uncommitted
    changes), and a line through each commit's mean: which code change moved the metric."""

    def draw(figure) -> None:
        ax = figure.add_subplot()
        for series, dirty in enumerate((False, True)):
            chosen = [p for p in points if p.dirty == dirty]
            if chosen:
                dots = ax.scatter([p.x for p in chosen], [p.y for p in chosen], zorder=3, label=(
                    "with uncommitted changes" if dirty else "committed code"),
                    facecolors="none" if dirty else _colour(0), edgecolors=_colour(0))
                dots.set_gid(f"series-{series}")
        means = {}
        for point in points:
            means.setdefault(point.x, []).append(point.y)
        xs = sorted(means)
        (line,) = ax.plot(xs, [sum(means[x]) / len(means[x]) for x in xs], color=_colour(1), label="mean")
        line.set_gid("series-2")
        step = max(1, math.ceil(len(commits) / MAX_TICKS))
        ax.set_xticks(range(0, len(commits), step), [_label(c) for c in commits[::step]], rotation=35, ha="right",
                      fontsize=8)
        ax.set_xlim(-0.5, len(commits) - 0.5)
        ax.set_ylabel(_label(y_label))
        ax.set_title(_label(title))
        ax.legend(fontsize=8)

    return _picture(fmt, (min(16, max(7, 0.5 * len(commits) + 3)), 5), draw)


def parallel(columns: Sequence[str], runs: Sequence[tuple[str, Sequence[Any]]], fmt: str) -> bytes:
    """Parallel coordinates: an axis per column (params, then the metric, last), a line per run,
    coloured by the metric. Numbers are scaled to their range, text is spread as categories."""
    scaled, ticks = zip(*(_axis([values[i] for _, values in runs]) for i in range(len(columns))), strict=True)
    metric = [values[-1] for _, values in runs]

    def draw(figure) -> None:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        ax = figure.add_subplot()
        numbers = [v for v in metric if is_number(v) and math.isfinite(v)]
        norm = Normalize(min(numbers, default=0), max(numbers, default=1))
        cmap = colormaps["viridis"]
        for j, (name, _) in enumerate(runs):
            value = metric[j]
            colour = cmap(norm(value)) if is_number(value) and math.isfinite(value) else "0.6"
            (line,) = ax.plot(range(len(columns)), [scaled[i][j] for i in range(len(columns))], color=colour,
                              alpha=0.8, marker="o", markersize=3, label=_label(name))
            line.set_gid(f"series-{j}")
        for i, marks in enumerate(ticks):
            ax.axvline(i, color="0.3", linewidth=1)
            for position, text in marks[::max(1, math.ceil(len(marks) / MAX_LEGEND))]:
                ax.annotate(_label(text), (i, position), textcoords="offset points", xytext=(3, 0), fontsize=7,
                            va="center")
        ax.set_xticks(range(len(columns)), [_label(c) for c in columns], rotation=20, ha="right")
        ax.set_yticks([])
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlim(-0.2, len(columns) - 0.6)
        ax.grid(False)
        figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=_label(columns[-1]))

    return _picture(fmt, (max(6, 1.6 * len(columns) + 2), 5), draw)


def _axis(values: Sequence[Any]) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] for the values of one axis (NaN where missing), and its labelled marks."""
    present = [v for v in values if not _missing(v)]
    if present and all(is_number(v) and math.isfinite(v) for v in present):
        low, high = min(present), max(present)
        span = high - low
        positions = [math.nan if _missing(v) else 0.5 if not span else (v - low) / span for v in values]
        marks = [(0.5, format_value(low))] if not span else [(0.0, format_value(low)), (1.0, format_value(high))]
        return positions, marks
    categories = sorted({format_value(v) for v in present})
    place = {c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5) for i, c in enumerate(categories)}
    return [math.nan if _missing(v) else place[format_value(v)] for v in values], [(place[c], c) for c in categories]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _picture(fmt: str, size: tuple[float, float], draw: Callable[[Any], None]) -> bytes:
    mpl = _matplotlib()
    from matplotlib.figure import Figure

    with mpl.rc_context(RC):
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        out = io.BytesIO()
        figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("plots need matplotlib, which is not installed: "
                                     "pip install flexgit[plots]") from None
    return matplotlib


def _colour(index: int) -> str:
    return f"C{index % 10}"


def _legend(ax, count: int) -> None:
    if 0 < count <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="best")


def _label(text: str) -> str:
    """Text from a run as a label: one line, cut, its `$` escaped (matplotlib reads `$...$` as mathtext)."""
    text = one_line(str(text))
    text = text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"
    return text.replace("$", r"\$")
