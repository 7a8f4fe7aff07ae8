"""FLEX's own names for what `Configuration` does (FLEX's source, `flex/config`), as thin aliases.

`log`, `experiment_info`, `performance`, `add_logs`, `append_logs`, `add_config_attribs`,
`from_csv` / `to_csv`, `from_json` / `to_json` (the log), `from_yaml` / `to_yaml` (the
current record) and `from_df`. Each says which of Configuration's own methods it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas


class FlexNames:
    """Mixed into Configuration: the methods FLEX's Configuration has under other names."""

    # Configuration provides these, and _add_history, _record_frame, append_logs, _load_logs,
    # _save_logs, _load_config and _save_config.
    meta_data: dict[str, Any]
    params: dict[str, Any]
    results: dict[str, Any]
    run: Any
    config: Any

    @property
    def performance(self) -> dict[str, Any]:
        """FLEX's name for `results`."""
        return self.results

    @performance.setter
    def performance(self, value: Mapping[str, Any]) -> None:
        self.config = [self.meta_data, self.params, dict(value)]

    @property
    def experiment_info(self) -> Any:
        """FLEX's name for the current record: `config()`."""
        return self()

    @experiment_info.setter
    def experiment_info(self, value: Any) -> None:
        self.config = value

    def log(self, meta_data: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
            performance: Mapping[str, Any] | None = None, yaml_file: str | os.PathLike | None = None,
            json_file: str | os.PathLike | None = None) -> None:
        """FLEX's: log another experiment. The current record, if any, joins the logs; the new one
        (three dicts, or a config file) becomes the current record."""
        if yaml_file is not None or json_file is not None:
            new = type(self)(yaml_file=yaml_file, json_file=json_file)
        else:
            new = type(self)([dict(meta_data or {}), dict(params or {}), dict(performance or {})])
        if self.config:
            self._add_history(self._record_frame())
        self.meta_data, self.params, self.results = new.meta_data, new.params, new.results
        self.run = new.run

    def add_config_attribs(self, attribs: Mapping[str, Any]) -> None:
        """FLEX's: add keys to the current record (a known key keeps its part; new keys are split
        as a flat record is)."""
        parts = [dict(self.meta_data), dict(self.params), dict(self.results)]
        new = {}
        for key, value in attribs.items():
            holder = next((part for part in parts if key in part), None)
            if holder is None:
                new[key] = value
            else:
                holder[key] = value
        extra = type(self)(new) if new else None
        if extra is not None:
            for part, more in zip(parts, (extra.meta_data, extra.params, extra.results), strict=True):
                part.update(more)
        self.config = parts

    def add_logs(self, csv_file: str | os.PathLike | None = None, df: "pandas.DataFrame | None" = None) -> None:
        """FLEX's: add past records from a CSV file or a DataFrame (`load_logs`, `append_logs`)."""
        for logs in (csv_file, df):
            if logs is not None:
                self.append_logs(logs)

    def from_df(self, old_df: "pandas.DataFrame") -> None:
        """FLEX's: add the past records of a DataFrame to the log (`append_logs`)."""
        self.append_logs(old_df)

    def from_csv(self, csv_file: str | os.PathLike) -> None:
        """FLEX's: add the past records of a CSV file to the log (`load_logs`, whatever the extension)."""
        self._load_logs(Path(csv_file), ".csv")

    def to_csv(self, csv_file: str | os.PathLike) -> None:
        """FLEX's: write the log as CSV (`save_logs`, whatever the extension)."""
        self._save_logs(Path(csv_file), ".csv")

    def from_json(self, json_file: str | os.PathLike) -> None:
        """FLEX's: add the past records of a JSON file to the log (`load_logs`)."""
        self._load_logs(Path(json_file), ".json")

    def to_json(self, json_file: str | os.PathLike) -> None:
        """FLEX's: write the log as JSON, a list of records (`save_logs`)."""
        self._save_logs(Path(json_file), ".json")

    def from_yaml(self, yaml_file: str | os.PathLike) -> None:
        """FLEX's: read the current record from YAML (`load_config`)."""
        self._load_config(Path(yaml_file), ".yaml")

    def to_yaml(self, yaml_file: str | os.PathLike) -> None:
        """FLEX's: write the current record as YAML (`save_config`)."""
        self._save_config(Path(yaml_file), ".yaml")
