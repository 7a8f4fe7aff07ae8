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


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises ValueError (tomllib's TOMLDecodeError) when it is malformed."""
    import tomllib

    return tomllib.loads(text)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping as TOML."""
    import tomli_w

    return tomli_w.dumps(data)
