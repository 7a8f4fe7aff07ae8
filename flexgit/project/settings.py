"""Project settings: `.flexgit.toml` at the top of the working tree, or `[tool.flexgit]` in pyproject.toml.

    branch = "experiments"        # the experiments branch
    config = ["params.toml"]      # config file(s) whose values are a run's params
    results = ["metrics.json"]    # results file(s) whose values are a run's metrics
    include = ["src/*", "*.py"]   # only changed/untracked files matching these enter a snapshot
    exclude = ["scratch/*"]       # ... and none matching these
    max_file_size = "10MB"        # larger changed/untracked files are left out, with a warning (the default;
                                  # "none": no limit)

`.flexgit.toml` wins when both exist. Missing files mean the defaults.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from .formats import loads_toml

SETTINGS_FILE = ".flexgit.toml"
KEYS = ("branch", "config", "results", "include", "exclude", "max_file_size")
DEFAULT_MAX_FILE_SIZE = 10 * 1024 ** 2  # a code snapshot, not a model store: keeps checkpoints out of pushes
NO_LIMIT = "none"
_UNITS = {"": 1, "B": 1, "KB": 1024, "KIB": 1024, "MB": 1024 ** 2, "MIB": 1024 ** 2, "GB": 1024 ** 3, "GIB": 1024 ** 3}

DEFAULT_SETTINGS = '''# flexgit project settings (see "Project settings" in flexgit's README).
# The experiments branch runs are recorded on.
branch = "experiments"

# Config file(s) whose values become a run's params, and results file(s) whose values
# become its metrics, when `flexgit record` is given none (and for the post-commit hook,
# which records a run when a results file changed).
config = []        # e.g. ["params.toml"]
results = []       # e.g. ["metrics.json"]

# What a snapshot takes of files that are new or changed since the last commit (globs
# matched against the path from the top of the working tree; '*' also crosses '/').
# include = ["*"]
# exclude = ["checkpoints/*", "*.ckpt"]
# Larger new or changed files are left out (with a warning naming them, and listed in the
# run's meta); the default is "10MB". Raise it ("100MB"), or "none" for no limit.
# max_file_size = "10MB"
'''


@dataclass(frozen=True)
class Settings:
    """What a project configured; every field has a default."""

    branch: str | None = None
    config: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE  # None: no limit
    source: str | None = None  # the file they came from

    def snapshot_filter(self) -> tuple[Callable[[str, int], bool] | None, list[str]]:
        """A `keep(path, size)` test for the snapshot (None when nothing is filtered), and the list
        it fills with the files left out for their size."""
        too_large: list[str] = []
        if not (self.include or self.exclude or self.max_file_size is not None):
            return None, too_large

        def keep(path: str, size: int) -> bool:
            if self.include and not any(fnmatch.fnmatchcase(path, g) for g in self.include):
                return False
            if any(fnmatch.fnmatchcase(path, g) for g in self.exclude):
                return False
            if self.max_file_size is not None and size > self.max_file_size:
                too_large.append(f"{path} ({size} bytes)")
                return False
            return True

        return keep, too_large


def load_settings(workdir: Path) -> Settings:
    """The settings of the project whose working tree is `workdir`."""
    own = workdir / SETTINGS_FILE
    if own.is_file():
        return _parse(_read(own), str(own))
    pyproject = workdir / "pyproject.toml"
    # Most pyproject.toml files say nothing to flexgit: a text search spares `table` a TOML parse.
    if pyproject.is_file() and "tool.flexgit" in pyproject.read_text(encoding="utf-8", errors="replace"):
        table = _read(pyproject).get("tool", {}).get("flexgit")
        if isinstance(table, dict):
            return _parse(table, f"{pyproject} [tool.flexgit]")
    return Settings()


def _read(path: Path) -> dict[str, Any]:
    try:
        return loads_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"settings file '{path}' is not valid TOML: {exc}; fix it") from None


def _parse(table: dict[str, Any], source: str) -> Settings:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise InputError(f"unknown setting {', '.join(unknown)} in {source}; the settings are {', '.join(KEYS)}")
    branch = table.get("branch")
    if branch is not None and not isinstance(branch, str):
        raise InputError(f"'branch' in {source} must be a string")
    return Settings(branch=branch, config=_files(table, "config", source), results=_files(table, "results", source),
                    include=_files(table, "include", source), exclude=_files(table, "exclude", source),
                    max_file_size=_size(table.get("max_file_size"), source), source=source)


def _size(value: Any, source: str) -> int | None:
    if value is None:
        return DEFAULT_MAX_FILE_SIZE
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().lower() == NO_LIMIT:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value) if isinstance(value, str) else None
    if not match or match[2].upper() not in _UNITS:
        raise InputError(f"'max_file_size' in {source} must be a number of bytes, a size like \"50MB\", "
                         f"or \"{NO_LIMIT}\" for no limit")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def _files(table: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = table.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{key}' in {source} must be a string or a list of strings")
    return tuple(value)
