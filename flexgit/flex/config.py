"""FLEX's `Configuration`: one experiment's record and the table of past records.

A record has three parts, as in FLEX: `meta_data` (name, purpose, ...), `params` (the
hyper-parameters and other settings) and `results` (metrics; FLEX's `performance`). `config`
is the three merged into one flat dict; calling the configuration (`config()`) gives it as a
`Record`. `logs` is the table of past records (a pandas DataFrame) with the current record
appended; columns are the union of all records' keys, NaN where a record lacks one.

A flat record (a dict, a one-row DataFrame, a flat file) is split as FLEX's columns are:
`name`, `date`, `message` and `purpose` are meta data, keys named like scores (`acc`,
`loss`, `val_*`: the guess `flexgit import` makes) are results, the rest params.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import InputError
from ..project.formats import dumps, loads
from ..verbs.import_csv import is_metric_column
from .aliases import FlexNames

if TYPE_CHECKING:
    import pandas

SECTIONS = ("meta_data", "params", "results")
FLAT_META = ("name", "date", "message", "purpose")
_INDEX_COLUMN = re.compile(r"Unnamed: \d+")  # how pandas reads back the index column to_csv wrote
CONFIG_FORMATS = (".json", ".csv", ".yaml", ".yml", ".toml", ".html", ".pkl", ".pickle")
LOG_FORMATS = (".csv", ".json", ".html")


@dataclass(frozen=True)
class RunRef:
    """Where a recorded run lives: its name, branch, commit and repository.

    `repo` is None for a run named by a config file: a file never chooses the repository
    (`Application(repo=...)` does, else the current one).
    """

    name: str
    branch: str
    commit: str
    repo: str | None = None


class Record(dict):
    """One record, flat, as FLEX's `config()` gives it: `record["lr"]` and `record.lr` both work."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"the record has no key '{key}'") from None

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


class Configuration(FlexNames):
    """An experiment's meta data, params and results, and the log of past records.

    `Configuration([meta_data, params, results])`, `Configuration(logs="results_old.csv")`,
    `Configuration("configs/config.json")` or `Configuration()`; FLEX's forms too:
    `Configuration(config=<one-row DataFrame>)`, `Configuration(meta_data=..., params=...,
    performance=...)`, `Configuration(csv_file=..., orig_df=..., yaml_file=..., json_file=...)`.
    """

    def __init__(self, config: Any = None, logs: Any = None, *, meta_data: Mapping[str, Any] | None = None,
                 params: Mapping[str, Any] | None = None, performance: Mapping[str, Any] | None = None,
                 results: Mapping[str, Any] | None = None, csv_file: str | os.PathLike | None = None,
                 orig_df: "pandas.DataFrame | None" = None, yaml_file: str | os.PathLike | None = None,
                 json_file: str | os.PathLike | None = None):
        self.meta_data: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.run: RunRef | None = None
        self._history: "pandas.DataFrame | None" = None
        parts = (meta_data, params, performance if performance is not None else results)
        given = [config is not None, any(p is not None for p in parts), yaml_file is not None, json_file is not None]
        if sum(given) > 1:
            raise InputError("give the record one way: config=, meta_data=/params=/performance=, yaml_file= "
                             "or json_file=")
        if config is not None:
            self.config = config
        elif given[1]:
            self.config = [dict(p or {}) for p in parts]
        elif yaml_file is not None or json_file is not None:
            self.load_config(yaml_file if yaml_file is not None else json_file)
        for old in (logs, csv_file, orig_df):
            if old is not None:
                self.append_logs(old)

    # -- the record -------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The whole record, flat: meta data, params and results merged."""
        return {**self.meta_data, **self.params, **self.results}

    @config.setter
    def config(self, value: Any) -> None:
        """[meta_data, params, results], {"meta_data": ..., ...}, a flat record (dict, one-row
        DataFrame or Series) or a config file."""
        if isinstance(value, (str, os.PathLike)):
            self.load_config(value)
            return
        if not isinstance(value, Mapping) and hasattr(value, "to_dict"):  # pandas: a one-row DataFrame, a Series
            value = _frame_record(value)
        if isinstance(value, Mapping):
            parts = [value.get(s, {}) for s in SECTIONS] if set(value) & set(SECTIONS) else split_flat(value)
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

    def __call__(self, *args: Any, **kwargs: Any) -> Record:
        """The current record, as FLEX's `config()`: `config()["lr"]`, `config().lr`."""
        return Record(self.config)

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
        self._save_config(path, _kind(path, CONFIG_FORMATS, "config"))

    def _save_config(self, path: Path, kind: str) -> None:
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

        A file that is a flat table of keys (no meta_data/params/results sections) is a flat
        record, split as the module says; so are the files FLEX itself writes (a CSV with its
        index column, JSON of one row by index, a pickled DataFrame). Pickle runs code while
        loading: load pickles only from files you trust; flexgit never unpickles anything you
        did not name here.
        """
        path = Path(file)
        self._load_config(path, _kind(path, CONFIG_FORMATS, "config"))

    def _load_config(self, path: Path, kind: str) -> None:
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
        if hasattr(data, "to_dict") and not isinstance(data, Mapping):
            data = _frame_record(data)  # FLEX pickles its one-row DataFrame
        if isinstance(data, Mapping) and len(data) == 1 and str(next(iter(data))).isdigit() and \
                isinstance(next(iter(data.values())), Mapping):
            data = next(iter(data.values()))  # FLEX's JSON: {"0": {...the record...}}
        if not isinstance(data, Mapping):
            raise InputError(f"config file '{path}' must hold a table of keys and values")
        run = data.get("run")
        self.config = {k: v for k, v in data.items() if k != "run"} if set(data) & set(SECTIONS) else dict(data)
        self.run = _run_from_file(run)

    def _sections(self) -> dict[str, Any]:
        sections: dict[str, Any] = {"meta_data": self.meta_data, "params": self.params, "results": self.results}
        if self.run is not None:
            sections["run"] = {k: v for k, v in asdict(self.run).items() if v is not None}
        return sections

    # -- the log of records -----------------------------------------------------------

    def load_logs(self, file: str | os.PathLike) -> None:
        """Read past records (CSV or JSON, one record per row) and merge them into the log.

        A first column of row numbers without a name (the index pandas' `to_csv` writes, as
        FLEX's `save_logs` does) is left out; JSON may be a list of records or pandas' `columns`
        or `index` orientation.
        """
        path = Path(file)
        self._load_logs(path, _kind(path, (".csv", ".json"), "log"))

    def _load_logs(self, path: Path, kind: str) -> None:
        import pandas as pd

        if not path.is_file():
            raise InputError(f"log file '{path}' does not exist; check the path")
        try:
            frame = pd.read_csv(path) if kind == ".csv" else _json_frame(path.read_text(encoding="utf-8"))
        except (ValueError, pd.errors.ParserError) as exc:
            detail = str(exc).strip().splitlines()[-1]
            raise InputError(f"log file '{path}' is not a table of one record per row ({detail}); "
                             "fix the file") from None
        self._add_history(frame)

    def append_logs(self, logs: Any) -> None:
        """Add past records to the log: a CSV or JSON file, a DataFrame, or a dict of columns."""
        import pandas as pd

        if isinstance(logs, (str, os.PathLike)):
            self.load_logs(logs)
        elif isinstance(logs, Mapping):
            self._add_history(pd.DataFrame(logs))
        elif isinstance(logs, pd.DataFrame):
            self._add_history(logs.copy())
        else:
            raise InputError(f"logs are a CSV or JSON file, a DataFrame or a dict of columns, "
                             f"not {type(logs).__name__}")

    def _add_history(self, frame: "pandas.DataFrame") -> None:
        import pandas as pd

        frame = drop_index_columns(frame)
        self._history = frame if self._history is None else pd.concat([self._history, frame], ignore_index=True)

    @property
    def logs(self) -> "pandas.DataFrame":
        """Past records with the current one appended; the union of their columns, NaN where absent."""
        import pandas as pd

        frames = [f for f in (self._history, self._record_frame() if self.config else None) if f is not None]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @logs.setter
    def logs(self, logs: Any) -> None:
        """Replace the past records (a file, a DataFrame or a dict of columns); the current record stays."""
        history, self._history = self._history, None
        try:
            self.append_logs(logs)
        except Exception:
            self._history = history
            raise

    def save_logs(self, file: str | os.PathLike) -> None:
        """Write the log (past records and the current one) as CSV, JSON or HTML."""
        path = Path(file)
        self._save_logs(path, _kind(path, LOG_FORMATS, "log"))

    def _save_logs(self, path: Path, kind: str) -> None:
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


def split_flat(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[meta_data, params, results] of a flat record: FLAT_META keys, then score-like keys are results."""
    parts: list[dict[str, Any]] = [{}, {}, {}]
    for key, value in record.items():
        key = str(key)
        parts[0 if key in FLAT_META else 2 if is_metric_column(key) else 1][key] = value
    return parts


def _frame_record(value: Any) -> dict[str, Any]:
    """A one-row DataFrame (or a Series) as a flat dict of plain values; NaN cells are absent keys."""
    if hasattr(value, "columns"):
        if len(value) != 1:
            raise InputError(f"a config DataFrame holds one record (one row), not {len(value)}; "
                             "give past records as logs=")
        value = value.iloc[0]
    plain = {str(key): _plain(item) for key, item in value.to_dict().items()}
    return {key: item for key, item in plain.items() if not (isinstance(item, float) and math.isnan(item))}


def drop_index_columns(frame: "pandas.DataFrame") -> "pandas.DataFrame":
    """`frame` without leading unnamed columns of integers: the index pandas' `to_csv` wrote."""
    import pandas as pd

    while len(frame.columns) and _INDEX_COLUMN.fullmatch(str(frame.columns[0])) and \
            pd.api.types.is_integer_dtype(frame[frame.columns[0]]):
        frame = frame.drop(columns=frame.columns[0])
    return frame


def _json_frame(text: str) -> "pandas.DataFrame":
    """Records from JSON: a list of objects, or pandas' `columns` ({col: {row: v}}) or `index` orientation."""
    import pandas as pd

    data = json.loads(text)
    if isinstance(data, list):
        return pd.DataFrame(data)
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        if data and all(str(k).isdigit() for k in data):
            return pd.DataFrame.from_dict(data, orient="index").reset_index(drop=True)
        return pd.DataFrame(data).reset_index(drop=True)
    raise ValueError("expected a list of records or a table of columns")


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

        frame = drop_index_columns(pd.read_csv(path))
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


def _run_from_file(run: Any) -> RunRef | None:
    """The run a config file names, without its repository: a file (perhaps from someone else)
    never points flexgit at a repository on disk; the caller says which one, if not this one."""
    if not isinstance(run, Mapping):
        return None
    fields = {key: run.get(key) for key in ("name", "branch", "commit")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise InputError("the 'run' table of a config file needs name, branch and commit as text")
    return RunRef(**fields)
