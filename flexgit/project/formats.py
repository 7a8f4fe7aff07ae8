"""TOML, JSON and YAML in and out: the one place that knows the three formats.

Each parser is imported when first used: `flexgit table` parses none of them and should not
pay for their imports.
"""

from __future__ import annotations

import json
import re
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


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN_TEXT = re.compile(r'[^"\\\x00-\x08\x0a-\x1f\x7f]*')  # a basic string that needs no escape


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise a mapping as TOML.

    A flat table of plain values (what a run's config, results and meta files mostly are) is
    written here, byte for byte as tomli_w writes it: a record writes three such files, an
    import three per row, and tomli_w took a fifth of a 100,000-row import. Anything else is
    tomli_w's."""
    lines = []
    for key, value in data.items():
        kind = type(value)
        if type(key) is not str:
            break
        if not _BARE_KEY.fullmatch(key):  # `env.cpu`, quoted as tomli_w quotes it
            if not _PLAIN_TEXT.fullmatch(key):
                break
            key = f'"{key}"'
        if kind is str and _PLAIN_TEXT.fullmatch(value):
            lines.append(f'{key} = "{value}"\n')
        elif kind is bool:
            lines.append(f"{key} = {'true' if value else 'false'}\n")
        elif kind is int or kind is float:
            lines.append(f"{key} = {value}\n")
        else:
            break
    else:
        return "".join(lines)
    import tomli_w

    return tomli_w.dumps(data)
