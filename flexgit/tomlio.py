"""TOML in and out (tomllib / tomli to read, tomli-w to write)."""

from __future__ import annotations

import sys
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib as _toml_reader
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as _toml_reader


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises ValueError (tomllib's TOMLDecodeError) when it is malformed."""
    return _toml_reader.loads(text)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping as TOML."""
    import tomli_w

    return tomli_w.dumps(data)
