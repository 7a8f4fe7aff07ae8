"""Comparisons as text for a terminal and as HTML for a notebook; every value from a run is escaped."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Sequence

from ..project.values import format_value, one_line
from .render import cut, display_width

if TYPE_CHECKING:
    from .compare import Comparison, RunDiff

MAX_CELL = 40  # a longer value is cut with an ellipsis in the text view (the API and json keep it whole)
MIN_CELL = 12  # columns are narrowed to fit the width down to this, then go to further blocks
GAP = "  "
INDENT = "  "
STAT_BAR = 40  # the most `+` and `-` a --stat line draws


def comparison_text(comparison: "Comparison", width: int = 80) -> str:
    """Keys as rows under their section's heading, runs as columns (and `change` for two runs);
    columns that do not fit `width` go to further blocks, each starting with the keys."""
    two = len(comparison.runs) == 2
    heads = [one_line(run.name) for run in comparison.runs] + (["change"] if two else [])
    rows = [(key.section, one_line(key.key), [one_line(value_text(v)) for v in key.values] + [key.change] * two)
            for key in comparison.keys]
    key_width = max([display_width(INDENT + key) for _, key, _ in rows] + [len(key.section) for key in comparison.keys],
                    default=0)
    natural = [min(MAX_CELL, max([display_width(head)] + [display_width(cells[i]) for _, _, cells in rows]))
               for i, head in enumerate(heads)]
    change = natural[-1] + len(GAP) if two else 0  # the change column is never cut
    room = width - key_width - len(GAP) * len(comparison.runs) - change
    widths = _fair(natural[:len(comparison.runs)], room) + natural[len(comparison.runs):]
    heads = [cut(head, w) for head, w in zip(heads, widths, strict=True)]
    rows = [(section, key, [cut(cell, w) for cell, w in zip(cells, widths, strict=True)])
            for section, key, cells in rows]
    blocks = _blocks(widths, width - key_width)
    parts = []
    for block in blocks:
        lines = [_line(" " * key_width, [heads[i] for i in block], [widths[i] for i in block])]
        section = None
        for row_section, key, cells in rows:
            if row_section != section:
                lines.append(row_section)
                section = row_section
            lines.append(_line(_pad(INDENT + key, key_width), [cells[i] for i in block], [widths[i] for i in block]))
        parts.append("\n".join(lines))
    text = "\n\n".join(parts) + "\n" if rows else "no differences\n" if comparison.same else "no keys\n"
    if comparison.same:
        text += (f"({comparison.same} key{'s' * (comparison.same != 1)} with the same value in every run "
                 "not shown; --all shows them)\n")
    return text


def diff_text(diff: "RunDiff", width: int = 80) -> str:
    """The differing keys, the files whose code differs, and the code diff when it was asked for."""
    text = comparison_text(diff.comparison, width) + (diff.uncompared + "\n" if diff.uncompared else
                                                       stat_text(diff.files))
    return text + (diff.patch or "")


def stat_text(files: Sequence[Any]) -> str:
    """The files whose code differs, as `git diff --stat` lists them: a summary line, then a line per file."""
    if not files:
        return "code: no files differ\n"
    added, deleted = sum(f.added for f in files), sum(f.deleted for f in files)
    lines = [f"code: {len(files)} file{'s' * (len(files) != 1)} changed, {added} insertion{'s' * (added != 1)}(+), "
             f"{deleted} deletion{'s' * (deleted != 1)}(-)"]
    names = [one_line(_file_name(f)) for f in files]
    name_width = max(map(display_width, names))
    most = max(f.added + f.deleted for f in files) or 1
    for f, name in zip(files, names, strict=True):
        if f.binary:
            counts = "binary"
        else:
            scale = min(1.0, STAT_BAR / most)
            plus, minus = round(f.added * scale), round(f.deleted * scale)
            counts = f"{f.added + f.deleted} {'+' * plus}{'-' * minus}"
        lines.append(f"  {f.status} {_pad(name, name_width)} | {counts}".rstrip())
    return "\n".join(lines) + "\n"


def value_text(value: Any) -> str:
    """A value as a comparison shows it: in full (floats as Python writes them), empty when missing."""
    return "" if value is None else format_value(value, precise=True)


def _file_name(change: Any) -> str:
    return f"{change.old_path} => {change.path}" if change.status in ("R", "C") else change.path


def _blocks(widths: list[int], room: int) -> list[list[int]]:
    """Column indexes cut into blocks that fit `room` beside the keys (at least one column each)."""
    blocks: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(widths):
        if blocks[-1] and used + len(GAP) + w > room:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += len(GAP) + w
    return blocks


def _line(first: str, cells: list[str], widths: list[int]) -> str:
    return GAP.join([first] + [_pad(cell, w) for cell, w in zip(cells, widths, strict=True)]).rstrip()


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _fair(natural: list[int], room: int) -> list[int]:
    """Column widths within `room` where they can be: narrow columns keep their width, the wide ones
    share the rest equally, none under MIN_CELL (blocks take what still does not fit)."""
    widths = list(natural)
    order = sorted(range(len(widths)), key=lambda i: natural[i])
    left = room
    for done, i in enumerate(order):
        share = max(MIN_CELL, left // (len(order) - done))
        widths[i] = min(natural[i], share)
        left -= widths[i]
    return widths


# -- HTML (a notebook's display) -------------------------------------------------------------

def comparison_html(comparison: "Comparison") -> str:
    """The comparison as an HTML table: a heading row per section, a column per run."""
    two = len(comparison.runs) == 2
    esc = html.escape
    head = "".join(f"<th title=\"{esc(run.id)}\">{esc(run.name)}</th>" for run in comparison.runs)
    head += "<th>change</th>" if two else ""
    span = len(comparison.runs) + 1 + two
    body, section = [], None
    for key in comparison.keys:
        if key.section != section:
            section = key.section
            body.append(f'<tr><th colspan="{span}" style="text-align:left">{esc(section)}</th></tr>')
        cells = "".join(f"<td>{esc(value_text(v))}</td>" for v in key.values)
        cells += f"<td>{esc(key.change)}</td>" if two else ""
        body.append(f'<tr><td style="text-align:left">{esc(key.key)}</td>{cells}</tr>')
    note = (f"<p>{comparison.same} key{'s' * (comparison.same != 1)} with the same value in every run not shown "
            "(<code>all=True</code> shows them)</p>") if comparison.same else ""
    return (f'<div class="flexgit-compare"><table><thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{note}</div>")


PATCH_COLOURS = {"+": "#116329", "-": "#82071e", "@": "#0550ae"}


def diff_html(diff: "RunDiff") -> str:
    """The comparison, the files whose code differs and the code diff (when asked for), as HTML."""
    esc = html.escape
    parts = [comparison_html(diff.comparison)]
    if diff.files:
        rows = "".join(f"<tr><td>{esc(f.status)}</td><td>{esc(_file_name(f))}</td>"
                       f"<td>{'binary' if f.binary else f'+{f.added} -{f.deleted}'}</td></tr>" for f in diff.files)
        parts.append(f"<table><thead><tr><th></th><th>file</th><th>lines</th></tr></thead><tbody>{rows}</tbody>"
                     "</table>")
    else:
        parts.append(f"<p>{esc(diff.uncompared or 'code: no files differ')}</p>")
    if diff.patch:
        lines = []
        for line in diff.patch.splitlines():
            colour = None if line.startswith(("+++", "---")) else PATCH_COLOURS.get(line[:1])
            lines.append(f'<span style="color:{colour}">{esc(line)}</span>' if colour else esc(line))
        parts.append("<pre>" + "\n".join(lines) + "</pre>")
    return '<div class="flexgit-diff">' + "".join(parts) + "</div>"
