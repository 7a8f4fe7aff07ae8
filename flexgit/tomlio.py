"""TOML in and out (tomllib / tomli to read, tomli-w to write)."""

from __future__ import annotations

import sys
from typing import Any, Mapping


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises ValueError (tomllib's TOMLDecodeError) when it is malformed."""
    # Imported here: `flexgit table` never parses TOML and should not pay for the import.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib.loads(text)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping as TOML."""
    import tomli_w

    return tomli_w.dumps(data)
