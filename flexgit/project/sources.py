"""Reading config and results files (.toml, .json, .yaml) into flat key/value mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputError
from .formats import SUFFIXES, loads
from .values import Flat, Scalar, flatten

MAX_FILE_BYTES = 32 << 20  # far beyond what flatten keeps; refused before it is read and parsed


def load_flat(path: str | Path, role: str) -> Flat:
    """Read one file as a flat mapping; `role` ("config", "results") names it in errors."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in SUFFIXES:
        raise InputError(f"{role} file '{path}' has an unknown type; use a .toml, .json or .yaml file")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{role} file '{path}' is larger than {MAX_FILE_BYTES >> 20} MB; flexgit keeps summary "
                             "values, so keep large data in a file of the snapshot")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{role} file '{path}' does not exist; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{role} file '{path}' is a directory; name a .toml, .json or .yaml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {role} file '{path}': {exc}") from None
    data = _parse(text, kind, path, role)
    if not isinstance(data, Mapping):
        raise InputError(f"{role} file '{path}' must hold a table of keys and values at its top level")
    return flatten(data, f"{role} file '{path}'")


def _parse(text: str, kind: str, path: Path, role: str) -> Any:
    try:
        return loads(text, kind)
    except RecursionError:
        raise InputError(f"{role} file '{path}' nests values too deeply to read; flatten it") from None
    except Exception as exc:  # each parser has its own error type; all mean "malformed"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{role} file '{path}' is not valid {kind[1:].upper()}: {detail}; fix the file") from None


def merge_sources(files: Iterable[str | Path], pairs: Mapping[str, Scalar] | None, role: str) -> Flat:
    """Merge files in order, then explicit pairs; later sources win."""
    merged: Flat = {}
    for path in files:
        merged.update(load_flat(path, role))
    if pairs:
        merged.update(flatten(dict(pairs), f"the {role} given"))
    return merged

