"""Project settings: `.flexgit.toml` at the top of the working tree, or `[tool.flexgit]` in pyproject.toml.

    branch = "experiments"        # the experiments branch
    config = ["params.toml"]      # config file(s) whose values are a run's params
    results = ["metrics.json"]    # results file(s) whose values are a run's metrics

`.flexgit.toml` wins when both exist. Missing files mean the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .tomlio import loads_toml

SETTINGS_FILE = ".flexgit.toml"
KEYS = ("branch", "config", "results")

DEFAULT_SETTINGS = '''# flexgit project settings (see "Project settings" in flexgit's README).
# The experiments branch runs are recorded on.
branch = "experiments"

# Config file(s) whose values become a run's params, and results file(s) whose values
# become its metrics, when `flexgit record` is given none (and for the post-commit hook,
# which records a run when a results file changed).
config = []        # e.g. ["params.toml"]
results = []       # e.g. ["metrics.json"]
'''


@dataclass(frozen=True)
class Settings:
    """What a project configured; every field has a default."""

    branch: str | None = None
    config: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    source: str | None = None  # the file they came from


def load_settings(workdir: Path) -> Settings:
    """The settings of the project whose working tree is `workdir`."""
    own = workdir / SETTINGS_FILE
    if own.is_file():
        return _parse(_read(own), str(own))
    pyproject = workdir / "pyproject.toml"
    if pyproject.is_file():
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
                    source=source)


def _files(table: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = table.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{key}' in {source} must be a file name or a list of file names")
    return tuple(value)
