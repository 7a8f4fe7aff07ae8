"""FLEX's Configuration: the three parts, every file format both ways, the log with NaN merges."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from flexgit import Configuration
from flexgit.errors import InputError

META = {"name": "experiment_1", "purpose": "test my awesome model", "date": "today"}
PARAMS = {"model_arch": "100-100-100", "learning_rate": 0.0001, "epochs": 2, "optimizer": "Adam"}
RESULTS = {"val_acc": 0.95, "F1": 0.92, "Comment": "Best model"}


def make() -> Configuration:
    return Configuration([META, PARAMS, RESULTS])


def test_the_three_parts_and_the_flat_record():
    config = make()
    assert config.config == {**META, **PARAMS, **RESULTS}
    assert config.name == "experiment_1" and config["learning_rate"] == 0.0001
    assert config.meta_data == META and config.params == PARAMS and config.results == RESULTS
    config.config = [{"name": "e2"}, {"lr": 1}, {}]
    assert config.config == {"name": "e2", "lr": 1}
    assert Configuration().config == {}
    assert Configuration({"lr": 0.5}).params == {"lr": 0.5}
    assert not hasattr(config, "nothing")


def test_a_key_in_two_parts_is_refused():
    with pytest.raises(InputError, match="key 'lr' is in both params and results"):
        Configuration([{}, {"lr": 1}, {"lr": 2}])


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".toml", ".csv", ".pkl"])
def test_save_and_load_config_round_trip(tmp_path, suffix):
    path = tmp_path / f"config{suffix}"
    make().save_config(path)
    loaded = Configuration()
    loaded.load_config(path)
    assert loaded.meta_data == META and loaded.params == PARAMS and loaded.results == RESULTS
    assert Configuration(str(path)).config == make().config


def test_html_is_written_for_people(tmp_path):
    make().save_config(tmp_path / "config.html")
    text = (tmp_path / "config.html").read_text()
    assert "<table" in text and "params.learning_rate" in text and "Best model" in text
    with pytest.raises(InputError, match="HTML is written for reading"):
        Configuration().load_config(tmp_path / "config.html")


def test_flat_files_load_as_params(tmp_path):
    (tmp_path / "flat.json").write_text('{"lr": 0.1, "depth": 3}')
    (tmp_path / "flat.csv").write_text("lr,depth\n0.1,3\n")
    for name in ("flat.json", "flat.csv"):
        config = Configuration(tmp_path / name)
        assert config.params == {"lr": 0.1, "depth": 3} and config.meta_data == {}


@pytest.mark.parametrize("name, message", [
    ("config.ini", "unknown config file type"),
    ("missing.json", "does not exist"),
])
def test_bad_config_files(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        Configuration().load_config(tmp_path / name)
    with pytest.raises(InputError, match="unknown config file type"):
        make().save_config(tmp_path / "config.ini")


def test_malformed_config_file(tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="cannot be read as JSON"):
        Configuration().load_config(tmp_path / "bad.json")


def test_logs_merge_as_a_union_with_nan(tmp_path):
    old = tmp_path / "results_old.csv"
    old.write_text("name,learning_rate,val_acc,dropout\nold_1,0.01,0.8,0.5\nold_2,0.001,0.85,0.3\n")
    experiment = Configuration(logs=old)
    experiment.config = [META, PARAMS, RESULTS]
    logs = experiment.logs
    assert list(logs["name"]) == ["old_1", "old_2", "experiment_1"]
    assert math.isnan(logs.loc[2, "dropout"])            # the new record dropped a key
    assert math.isnan(logs.loc[0, "epochs"])             # old records lack a new key
    assert logs.loc[2, "epochs"] == 2
    out = tmp_path / "runs" / "results.csv"
    experiment.save_logs(out)
    again = pd.read_csv(out)
    assert len(again) == 3 and set(again.columns) == set(logs.columns)


def test_load_logs_adds_to_the_log_already_loaded(tmp_path):
    (tmp_path / "a.csv").write_text("name,acc\na,1\n")
    (tmp_path / "b.csv").write_text("name,loss\nb,2\n")
    config = Configuration()
    config.load_logs(tmp_path / "a.csv")
    config.load_logs(tmp_path / "b.csv")
    assert list(config.logs["name"]) == ["a", "b"] and math.isnan(config.logs.loc[1, "acc"])


def test_a_ragged_csv_log_is_refused_and_the_log_kept(tmp_path):
    (tmp_path / "good.csv").write_text("name,acc\na,1\n")
    (tmp_path / "ragged.csv").write_text("name,acc\na,1\nb,2,3,4\n")
    config = Configuration(logs=tmp_path / "good.csv")
    with pytest.raises(InputError, match="is not a table of one record per row"):
        config.load_logs(tmp_path / "ragged.csv")
    assert list(config.logs["name"]) == ["a"]
    with pytest.raises(InputError, match="unknown log file type"):
        config.save_logs(tmp_path / "log.xlsx")
