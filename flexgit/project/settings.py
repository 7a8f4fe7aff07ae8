"""Project settings: `.flexgit.toml` at the top of the working tree, or `[tool.flexgit]` in pyproject.toml.

    branch = "experiments"        # the experiments branch
    config = ["params.toml"]      # config file(s) whose values are a run's params
    results = ["metrics.json"]    # results file(s) whose values are a run's metrics
    include = ["src/*", "*.py"]   # only changed/untracked files matching these enter a snapshot
    exclude = ["scratch/*"]       # ... and none matching these
    max_file_size = "10MB"        # larger changed/untracked files are left out, with a warning (the default;
                                  # "none": no limit)
    include_secrets = false       # changed/untracked files that look like secrets are left out
    private_meta = false          # true: no host name, platform details or absolute paths in runs
    system_metrics = 5            # seconds between samples of a `flexgit run` command's CPU, memory, GPU
                                  # (sys.* in its history); 0 or false: none
    outputs = ["model.pkl", "plots/*"]  # files a run produces, kept with it (`flexgit run` collects them)
    lfs_threshold = "1MB"         # outputs, artifacts and checkpoints this large go to git-lfs ("none": never)
    shared_dir = "/scratch/me"    # where `flexgit run --on slurm` puts its jobs' checkouts (a shared file system)
    [slurm]                       # defaults of `flexgit run --on slurm`: partition, time, gpus, cpus, mem,
    partition = "gpu"             # account, python; any other key is an sbatch option (qos = "high")

`.flexgit.toml` wins when both exist. Missing files mean the defaults.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import InputError
from .files import read_sealed, write_sealed
from .formats import loads_toml

SETTINGS_FILE = ".flexgit.toml"
KEYS = ("branch", "config", "results", "include", "exclude", "max_file_size", "include_secrets", "private_meta",
        "system_metrics", "outputs", "lfs_threshold", "shared_dir", "slurm")
DEFAULT_SAMPLE_INTERVAL_S = 5.0
DEFAULT_MAX_FILE_SIZE = 10 * 1024 ** 2  # a code snapshot, not a model store: keeps checkpoints out of pushes
DEFAULT_LFS_THRESHOLD = 1024 ** 2  # git-lfs's own advice: binaries of a megabyte and more
NO_LIMIT = "none"
# File names that usually hold credentials: a snapshot leaves them out unless include_secrets says otherwise.
SECRET_PATTERNS = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*",
                   "id_ed25519*", "credentials*", ".netrc", "_netrc", ".git-credentials", ".pgpass", ".pypirc")
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
# Files that look like secrets (.env, *.pem, *.key, id_rsa*, credentials*, .netrc, ...) are
# left out too, and listed; true keeps them all, a list of globs keeps those it names.
# include_secrets = false
# Runs pushed to a shared remote carry your name, email, host name, platform and command
# line; true leaves out the host name, platform details and absolute paths.
# private_meta = false
# `flexgit run` samples its command's CPU, memory and GPU use every few seconds (sys.* keys in
# the run's history, their peaks in the table); the seconds between samples, 0 for none.
# system_metrics = 5
# Files a run produces (globs from the top of the working tree), kept with the run under
# .flexgit/outputs/: `flexgit run` collects them when its command ends, `flexgit get`
# gives them back. Those of lfs_threshold or more are stored through git-lfs.
# outputs = ["model.pkl", "plots/*"]
# lfs_threshold = "1MB"
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
    include_secrets: bool | tuple[str, ...] = False  # True, or globs of secret-looking files to keep
    private_meta: bool = False
    system_metrics: float | None = DEFAULT_SAMPLE_INTERVAL_S  # seconds between samples; None: no sampling
    outputs: tuple[str, ...] = ()  # globs of the files a run produces
    lfs_threshold: int | None = DEFAULT_LFS_THRESHOLD  # None: never through git-lfs
    shared_dir: str | None = None  # where cluster jobs' checkouts go (default: in the repository's flexgit dir)
    slurm: tuple[tuple[str, Any], ...] = ()  # the [slurm] table: defaults of `flexgit run --on slurm`
    source: str | None = None  # the file they came from

    def snapshot_filter(self, skip: Iterable[str] = ()) -> "SnapshotFilter":
        """What a snapshot of the working tree leaves out, by these settings and the paths `skip`."""
        return SnapshotFilter(self, frozenset(skip))

    def is_secret(self, path: str) -> bool:
        """True when `path` looks like a secret and include_secrets does not keep it."""
        if self.include_secrets is True or not looks_secret(path):
            return False
        name = posixpath.basename(path)
        return not any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(name, g) for g in self.include_secrets or ())


def _plain_tests(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """`patterns` as string tests (names, prefixes, suffixes), with those that need fnmatch apart:
    compiling sixteen globs cost every record (the post-commit hook's most of all) 2 ms."""
    names, prefixes, suffixes, globs = set(), [], [], []
    for pattern in patterns:
        body = pattern.strip("*")
        if any(c in body for c in "*?["):
            globs.append(pattern)
        elif pattern == body:
            names.add(pattern)
        elif pattern == body + "*":
            prefixes.append(body)
        elif pattern == "*" + body:
            suffixes.append(body)
        else:
            globs.append(pattern)
    return frozenset(names), tuple(prefixes), tuple(suffixes), tuple(globs)


_SECRET_TESTS = _plain_tests(SECRET_PATTERNS)


def looks_secret(path: str) -> bool:
    """True when the file's name is one that usually holds credentials (`SECRET_PATTERNS`)."""
    name = posixpath.basename(path)
    names, prefixes, suffixes, globs = _SECRET_TESTS
    return (name in names or name.startswith(prefixes) or name.endswith(suffixes)
            or any(fnmatch.fnmatchcase(name, pattern) for pattern in globs))


class SnapshotFilter:  # a plain class: every record imports it, and a dataclass costs ~0.5 ms to make
    """The `keep(path, size)` test a snapshot applies to new and changed files, and what it left out."""

    def __init__(self, settings: Settings, skip: frozenset[str] = frozenset()):
        self.settings = settings
        # exact paths left out (a record's outputs: thousands of them cost a set lookup, not a glob each)
        self.skip = skip
        self.too_large: list[str] = []  # "path (size bytes)"
        self.secrets: list[str] = []

    @property
    def keep(self) -> Callable[[str, int], bool] | None:
        """The test, or None when it would keep everything (the snapshot is then cheaper)."""
        s = self.settings
        if not (s.include or s.exclude or s.outputs or self.skip or s.max_file_size is not None
                or s.include_secrets is not True):
            return None
        return self._keep

    def _keep(self, path: str, size: int) -> bool:
        s = self.settings
        if path in self.skip or s.include and not any(fnmatch.fnmatchcase(path, g) for g in s.include):
            return False
        if any(fnmatch.fnmatchcase(path, g) for g in s.exclude + s.outputs):
            return False  # an output is kept with the run as an output, not as code
        if s.is_secret(path):
            self.secrets.append(path)
            return False
        if s.max_file_size is not None and size > s.max_file_size:
            self.too_large.append(f"{path} ({size} bytes)")
            return False
        return True

    def pathspecs(self) -> list[str]:
        """git pathspecs of the file names that look like secrets, at any depth (for files already tracked)."""
        return [] if self.settings.include_secrets is True else [
            spec for pattern in SECRET_PATTERNS for spec in (pattern, "*/" + pattern)]


def load_settings(workdir: Path, cache_dir: Path | None = None) -> Settings:
    """The settings of the project whose working tree is `workdir`; `cache_dir` keeps what the file
    last read as (see `_read`)."""
    own = workdir / SETTINGS_FILE
    if own.is_file():
        return _parse(_read(own, cache_dir), str(own))
    pyproject = workdir / "pyproject.toml"
    # Most pyproject.toml files say nothing to flexgit: a text search spares `table` a TOML parse.
    if pyproject.is_file() and "tool.flexgit" in pyproject.read_text(encoding="utf-8", errors="replace"):
        table = _read(pyproject, cache_dir).get("tool", {}).get("flexgit")
        if isinstance(table, dict):
            return _parse(table, f"{pyproject} [tool.flexgit]")
    return Settings()


PARSED_CACHE = "settings.json"  # in `cache_dir`: a settings file's text and what it read as
_parsed: dict[tuple[str, str], dict[str, Any]] = {}  # the same, for this process


def _read(path: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """The TOML table of a settings file. What it read as is kept, with its text, in this process and
    in `cache_dir`: the post-commit hook's process then reads it without importing a TOML parser
    (3 ms of the hook). Kept only when JSON holds it as it is (no dates)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"settings file '{path}' is not valid TOML: {exc}; fix it") from None
    key = (str(path), text)
    if key in _parsed:
        return _parsed[key]
    cached = read_sealed(cache_dir / PARSED_CACHE) if cache_dir is not None else None
    try:
        found = json.loads(cached) if cached else None
    except ValueError:
        found = None
    if isinstance(found, dict) and found.get("path") == key[0] and found.get("text") == text \
            and isinstance(found.get("table"), dict):
        table = found["table"]
    else:
        try:
            table = loads_toml(text)
        except ValueError as exc:
            raise InputError(f"settings file '{path}' is not valid TOML: {exc}; fix it") from None
        if cache_dir is not None:
            try:
                kept = json.dumps({"path": key[0], "text": text, "table": table})
                if json.loads(kept)["table"] == table:
                    write_sealed(cache_dir / PARSED_CACHE, kept.encode())
            except (TypeError, ValueError, OSError):
                pass  # a table JSON cannot hold, or nowhere to write: read again next time
    if len(_parsed) > 64:  # a long-lived process (the UI) whose settings keep changing
        _parsed.clear()
    _parsed[key] = table
    return table


def _parse(table: dict[str, Any], source: str) -> Settings:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise InputError(f"unknown setting {', '.join(unknown)} in {source}; the settings are {', '.join(KEYS)}")
    branch = table.get("branch")
    if branch is not None and not isinstance(branch, str):
        raise InputError(f"'branch' in {source} must be a string")
    private = table.get("private_meta", False)
    if not isinstance(private, bool):
        raise InputError(f"'private_meta' in {source} must be true or false")
    return Settings(branch=branch, config=_files(table, "config", source), results=_files(table, "results", source),
                    include=_files(table, "include", source), exclude=_files(table, "exclude", source),
                    max_file_size=_size(table.get("max_file_size"), source, "max_file_size", DEFAULT_MAX_FILE_SIZE),
                    outputs=_files(table, "outputs", source),
                    lfs_threshold=_size(table.get("lfs_threshold"), source, "lfs_threshold", DEFAULT_LFS_THRESHOLD),
                    include_secrets=_secrets(table.get("include_secrets", False), source), private_meta=private,
                    system_metrics=_interval(table.get("system_metrics", DEFAULT_SAMPLE_INTERVAL_S), source),
                    shared_dir=_text(table, "shared_dir", source), slurm=_table(table, "slurm", source), source=source)


def _text(table: dict[str, Any], key: str, source: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InputError(f"'{key}' in {source} must be a path")
    return value


def _table(table: dict[str, Any], key: str, source: str) -> tuple[tuple[str, Any], ...]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise InputError(f"[{key}] in {source} must be a table of plain values, e.g. partition = \"gpu\"")
    return tuple(value.items())


def _interval(value: Any, source: str) -> float | None:
    if value is False or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.1 <= value <= 86400:
        return float(value)
    raise InputError(f"'system_metrics' in {source} must be the seconds between samples (0.1 to 86400), "
                     "or 0 or false for none")


def _secrets(value: Any, source: str) -> bool | tuple[str, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"'include_secrets' in {source} must be true, false or a list of globs such as [\"deploy.key\"]")


def _size(value: Any, source: str, key: str, default: int) -> int | None:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().lower() == NO_LIMIT:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value) if isinstance(value, str) else None
    if not match or match[2].upper() not in _UNITS:
        raise InputError(f"'{key}' in {source} must be a number of bytes, a size like \"50MB\", "
                         f"or \"{NO_LIMIT}\" for no limit")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def _files(table: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = table.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{key}' in {source} must be a string or a list of strings")
    return tuple(value)
