"""TOML, JSON and YAML in and out: the one place that knows the three formats.

Each parser is imported when first used: `flexgit table` parses none of them and should not
pay for their imports.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def loads(text: str, kind: str) -> Any:
    """Parse `text` in format `kind` (a suffix: .toml, .json, .yaml, .yml); each parser raises its own error."""
    if kind == ".toml":
        return loads_toml(text)
    if kind == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text) or {}


def dumps(data: Mapping[str, Any], kind: str) -> str:
    """Serialise a mapping in format `kind` (a suffix), keeping key order where the format allows."""
    if kind == ".toml":
        return dumps_toml(data)
    if kind == ".json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)


INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


class IntegerRangeError(ValueError):
    """An integer TOML (and so flexgit) cannot hold: beyond signed 64 bits."""


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises ValueError (tomllib's TOMLDecodeError, or IntegerRangeError) when it is malformed."""
    import tomllib

    data = tomllib.loads(text)
    _check_integers(data, "")
    return data


def is_int64(value: int) -> bool:
    """True when `value` fits a signed 64-bit integer, the range TOML allows."""
    return INT64_MIN <= value <= INT64_MAX


def _check_integers(value: Any, key: str) -> None:
    # TOML limits integers to 64 bits and tells parsers to refuse larger ones; tomllib accepts them.
    if isinstance(value, int) and not isinstance(value, bool) and not is_int64(value):
        raise IntegerRangeError(f"the integer {value} of '{key}' is beyond the 64-bit range TOML allows")
    if isinstance(value, dict):
        for name, item in value.items():
            _check_integers(item, f"{key}.{name}" if key else name)
    elif isinstance(value, list):
        for item in value:
            _check_integers(item, key)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping as TOML."""
    import tomli_w

    return tomli_w.dumps(data)
