"""The report's page: the runs as one JSON document, and the HTML that shows it. Pure, no git.

The page is self-contained: its script and style ship in `view/assets/` and are inlined, the
data is a `<script type="application/json">` block that the script reads and shows with
`textContent` only. Nothing a user typed (names, messages, keys, values, file names, log lines)
is ever parsed as HTML: the JSON is ASCII (other characters as `\\uXXXX`), and `<`, `>` and `&` are
written as `\\u003c`, `\\u003e`, `\\u0026`, so the block cannot end early and the markup appears
nowhere in the file.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any, Mapping

from .compare import packages
from .query import Table, reading_order

PAYLOAD_FORMAT = 2  # what the page's script reads; bumped with any change to the payload's shape
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


def payload(table: Table, details: Mapping[str, Mapping[str, Any]], snapshots: Any, title: str,
            branch: str, generated: str, tips: str = "") -> dict[str, Any]:
    """The document the page shows.

    `details` maps a full commit id to what storage read of that run (meta, notes, files...);
    rows whose run has none (not yet recorded) show their row alone. `snapshots` is
    `storage.runcontents.Snapshots` (numbered paths and blobs, maps, texts), kept as it is.
    """
    columns = reading_order(table.columns, table.rows) if not table.chosen else list(table.columns)
    by_short = {commit[:10]: value for commit, value in details.items()}
    cell = _cell
    rows = [[value if value is None or type(value) is str or type(value) is int else cell(value)  # most cells
             for value in map(row.get, columns)] for row in table.rows]
    return {
        "format": PAYLOAD_FORMAT, "title": title, "branch": branch, "generated": generated, "tips": tips,
        "columns": columns, "rows": rows,
        "details": [_details(by_short.get(str(row.get("id", "")))) for row in table.rows],
        "snapshots": {"paths": snapshots.paths, "blobs": [blob[:10] for blob in snapshots.blobs],
                      "maps": snapshots.maps, "texts": snapshots.texts, "omitted": snapshots.omitted},
        # parsed as `flexgit diff` parses them, so the page compares packages as diff does
        "environments": [packages(text) for text in snapshots.environments],
    }


def _cell(value: Any) -> Any:
    """A table value as strict JSON can carry it and the page can tell apart as `flexgit diff` does:
    NaN and infinities as {"f": "nan" | "inf" | "-inf"}, a float with an integer value as {"f": "1.0"}
    (JSON readers make 1.0 the integer 1, which diff holds to differ from it)."""
    if isinstance(value, float) and (not math.isfinite(value) or value.is_integer()):
        if math.isfinite(value):
            return {"f": repr(value + 0.0)}  # -0.0 is 0.0, as diff holds
        return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (list, tuple)):
        return [_cell(item) for item in value]
    return value


def _details(found: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # Histories and code are finite and plain already; meta (any value a user gave) may hold NaN.
    if found is None:
        return None
    return {**found, "meta": {str(key): _cell(value) for key, value in (found.get("meta") or {}).items()}}


def script_json(document: Any) -> str:
    """`document` as JSON that is safe inside an HTML `<script>` block: no `<`, `>` or `&` appears."""
    # ASCII: one byte a character all the way to the file (one "…" in a log would make a string of tens
    # of MB take two or four bytes a character), and U+2028 / U+2029 escaped as JavaScript wants them.
    text = json.dumps(document, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    for character, escape in _SCRIPT_ESCAPES:  # str.replace runs at C speed: pages reach tens of MB
        if character in text:
            text = text.replace(character, escape)
    return text


def page(document: Mapping[str, Any] | None, title: str, live: bool = False) -> bytes:
    """The HTML page, as UTF-8: the data inline (`document`), or, `live`, fetched and refreshed from the server."""
    assets = resources.files(__package__) / "assets"
    style = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    data = script_json(document) if document is not None else "null"
    connect = "; connect-src 'self'" if live else ""
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        # Nothing from elsewhere: no network (but the UI's own server), only this page's style and script.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        f"style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:{connect}\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"  # no request for /favicon.ico
        f"<title>{html.escape(title)}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        f"<script type=\"application/json\" id=\"flexgit-data\" data-live=\"{int(live)}\">"
    )
    # encoded a part at a time: the data (ASCII, tens of MB) is never joined to text of wider characters
    return b"".join(part.encode("utf-8") for part in (head, data, f"</script>\n<script>\n{script}</script>\n"
                                                                   "</body>\n</html>\n"))
