"""FLEX's `Configuration`: one experiment's record and the table of past records.

A record has three parts, as in FLEX: `meta_data` (name, purpose, ...), `params` (the
hyper-parameters and other settings) and `results` (metrics). `config` is the three merged
into one flat dict. `logs` is the table of past records (a pandas DataFrame) with the current
record appended; columns are the union of all records' keys, NaN where a record lacks one.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import InputError
from ..project.formats import dumps, loads

if TYPE_CHECKING:
    import pandas

SECTIONS = ("meta_data", "params", "results")
CONFIG_FORMATS = (".json", ".csv", ".yaml", ".yml", ".toml", ".html", ".pkl", ".pickle")
LOG_FORMATS = (".csv", ".json", ".html")


@dataclass(frozen=True)
class RunRef:
    """Where a recorded run lives: its name, branch, commit and repository."""

    name: str
    branch: str
    commit: str
    repo: str


class Configuration:
    """An experiment's meta data, params and results, and the log of past records.

    `Configuration([meta_data, params, results])`, `Configuration(logs="results_old.csv")`,
    `Configuration("configs/config.json")` or `Configuration()`.
    """

    def __init__(self, config: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike | None = None,
                 logs: str | os.PathLike | None = None):
        self.meta_data: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.run: RunRef | None = None
        self._history: "pandas.DataFrame | None" = None
        if isinstance(config, (str, os.PathLike)):
            self.load_config(config)
        elif config is not None:
            self.config = config
        if logs is not None:
            self.load_logs(logs)

    # -- the record -------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The whole record, flat: meta data, params and results merged."""
        return {**self.meta_data, **self.params, **self.results}

    @config.setter
    def config(self, value: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> None:
        if isinstance(value, Mapping):
            parts = [value.get(s, {}) for s in SECTIONS] if set(value) & set(SECTIONS) else [{}, value, {}]
        else:
            parts = list(value)
            if not 1 <= len(parts) <= 3 or not all(isinstance(p, Mapping) for p in parts):
                raise InputError("a configuration is [meta_data, params, results]: up to three dicts")
            parts += [{}] * (3 - len(parts))
        seen: dict[str, str] = {}
        for section, part in zip(SECTIONS, parts, strict=True):
            for key in part:
                if key in seen:
                    raise InputError(f"key '{key}' is in both {seen[key]} and {section}; keep each key in one place")
                seen[key] = section
        self.meta_data, self.params, self.results = (dict(p) for p in parts)

    def __getitem__(self, key: str) -> Any:
        return self.config[key]

    def __getattr__(self, key: str) -> Any:
        # Only reached for names that are not attributes: `config.name`, `config.lr`, as in FLEX.
        if key.startswith("_") or key in ("meta_data", "params", "results", "run"):
            raise AttributeError(key)
        try:
            return self.config[key]
        except KeyError:
            raise AttributeError(f"the configuration has no key '{key}'") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    # -- one record in a file ---------------------------------------------------------

    def save_config(self, file: str | os.PathLike) -> None:
        """Write the record; the format follows the extension: JSON, CSV, YAML, TOML, HTML or Pickle."""
        path = Path(file)
        kind = _kind(path, CONFIG_FORMATS, "config")
        sections = self._sections()
        if kind in (".json", ".yaml", ".yml", ".toml"):
            # TOML has no empty tables worth writing, and no null: empty sections are left out.
            text = dumps({k: v for k, v in sections.items() if v} if kind == ".toml" else sections, kind)
        elif kind in (".pkl", ".pickle"):
            path.write_bytes(pickle.dumps(sections))
            return
        else:
            frame = self._record_frame(prefixed=True)
            text = frame.to_csv(index=False) if kind == ".csv" else frame.to_html(index=False)
        path.write_text(text, encoding="utf-8")

    def load_config(self, file: str | os.PathLike) -> None:
        """Read a record saved by `save_config` (JSON, CSV, YAML, TOML or Pickle).

        A file that is a flat table of keys (no meta_data/params/results sections) is read as
        params. Pickle runs code while loading: load pickles only from files you trust; flexgit
        never unpickles anything you did not name here.
        """
        path = Path(file)
        kind = _kind(path, CONFIG_FORMATS, "config")
        if kind == ".html":
            raise InputError(f"'{path}': HTML is written for reading by people; save as JSON, TOML or YAML to load it")
        if not path.is_file():
            raise InputError(f"config file '{path}' does not exist; check the path")
        try:
            data = _read_config(path, kind)
        except InputError:
            raise
        except Exception as exc:  # each format's parser has its own error type
            raise InputError(f"config file '{path}' cannot be read as {kind[1:].upper()}: {exc}") from None
        if not isinstance(data, Mapping):
            raise InputError(f"config file '{path}' must hold a table of keys and values")
        run = data.get("run")
        self.config = {k: v for k, v in data.items() if k != "run"} if set(data) & set(SECTIONS) else data
        self.run = RunRef(**run) if isinstance(run, Mapping) else None

    def _sections(self) -> dict[str, Any]:
        sections: dict[str, Any] = {"meta_data": self.meta_data, "params": self.params, "results": self.results}
        if self.run is not None:
            sections["run"] = asdict(self.run)
        return sections

    # -- the log of records -----------------------------------------------------------

    def load_logs(self, file: str | os.PathLike) -> None:
        """Read past records (CSV or JSON, one record per row) and merge them into the log."""
        import pandas as pd

        path = Path(file)
        kind = _kind(path, (".csv", ".json"), "log")
        if not path.is_file():
            raise InputError(f"log file '{path}' does not exist; check the path")
        try:
            frame = pd.read_csv(path) if kind == ".csv" else pd.read_json(path, orient="records")
        except (ValueError, pd.errors.ParserError) as exc:
            detail = str(exc).strip().splitlines()[-1]
            raise InputError(f"log file '{path}' is not a table of one record per row ({detail}); "
                             "fix the file") from None
        self._history = frame if self._history is None else pd.concat([self._history, frame], ignore_index=True)

    @property
    def logs(self) -> "pandas.DataFrame":
        """Past records with the current one appended; the union of their columns, NaN where absent."""
        import pandas as pd

        frames = [f for f in (self._history, self._record_frame() if self.config else None) if f is not None]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def save_logs(self, file: str | os.PathLike) -> None:
        """Write the log (past records and the current one) as CSV, JSON or HTML."""
        path = Path(file)
        kind = _kind(path, LOG_FORMATS, "log")
        frame = self.logs
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == ".csv":
            frame.to_csv(path, index=False)
        elif kind == ".json":
            frame.to_json(path, orient="records", indent=2)
        else:
            frame.to_html(path, index=False)

    def _record_frame(self, prefixed: bool = False) -> "pandas.DataFrame":
        import pandas as pd

        if not prefixed:
            return pd.DataFrame([self.config])
        row = {f"{section}.{key}": value for section in SECTIONS for key, value in getattr(self, section).items()}
        return pd.DataFrame([row])

    def __repr__(self) -> str:
        return f"Configuration(meta_data={self.meta_data!r}, params={self.params!r}, results={self.results!r})"


def _kind(path: Path, allowed: Sequence[str], what: str) -> str:
    kind = path.suffix.lower()
    if kind not in allowed:
        raise InputError(f"'{path}' has an unknown {what} file type; use one of {', '.join(allowed)}")
    return kind


def _read_config(path: Path, kind: str) -> Any:
    if kind in (".pkl", ".pickle"):
        return pickle.loads(path.read_bytes())  # the caller named this file: see load_config
    if kind == ".csv":
        import pandas as pd

        frame = pd.read_csv(path)
        if len(frame) != 1:
            raise InputError(f"config file '{path}' must hold one record (one row); it has {len(frame)}")
        row = {k: _plain(v) for k, v in frame.iloc[0].items()}
        if any("." in k and k.split(".", 1)[0] in SECTIONS for k in row):
            sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
            for key, value in row.items():
                section, _, name = key.partition(".")
                sections.get(section, sections["params"])[name if section in SECTIONS else key] = value
            return sections
        return row
    return loads(path.read_text(encoding="utf-8"), kind)


def _plain(value: Any) -> Any:
    """numpy scalars from pandas as plain Python values."""
    return value.item() if hasattr(value, "item") else value
