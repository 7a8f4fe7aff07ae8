"""The stored format as pure conversions: note lines, commit messages, values."""

from __future__ import annotations

import math

import pytest

from flexgit.errors import InputError
from flexgit.storage.run import Run, rows_from_notes, update_line
from flexgit.storage.refs import trailers
from flexgit.project.sources import load_flat
from flexgit.project.formats import loads_toml
from flexgit.project.values import flatten, parse_scalar, unflatten

RUN = Run(name="r", params={"lr": 0.1, "opt.name": "adam"}, metrics={"acc": 0.5, "loss": float("nan")},
          meta={"host": "h"}, message="m", date="2026-01-01T00:00:00Z", branch="experiments",
          time="2026-01-01T00:00:00.000001Z")


def test_note_round_trip():
    back = Run.from_note("c" * 40, RUN.to_note_line())
    assert back.name == "r" and back.params == RUN.params and back.id == "c" * 40
    assert math.isnan(back.metrics["loss"]) and back.metrics["acc"] == 0.5
    assert RUN.to_note_line().count(b"\n") == 1 and b'"v":1' in RUN.to_note_line()


def test_later_lines_win_by_time_not_by_line_order():
    newer = update_line(metrics={"acc": 0.9}, time="2026-01-03T00:00:00.000000Z")
    older = update_line(metrics={"acc": 0.7, "f1": 0.1}, time="2026-01-02T00:00:00.000000Z")
    for note in (RUN.to_note_line() + older + newer, newer + older + RUN.to_note_line()):
        run = Run.from_note("c" * 40, note)
        assert run.metrics["acc"] == 0.9 and run.metrics["f1"] == 0.1 and run.time == RUN.time


def test_lines_that_are_not_flexgit_rows_are_ignored():
    assert Run.from_note("c" * 40, b"free text from git notes add\n") is None
    assert Run.from_note("c" * 40, b"free text\n" + RUN.to_note_line()).name == "r"


def test_a_line_of_a_newer_format_is_skipped_alone_and_reported():
    newer = b'{"v": 2, "t": "2026-01-01T00:00:00.000000Z", "name": "n", "metrics": {"acc": 0.1}}\n'
    assert Run.from_note("c" * 40, newer) is None
    assert Run.from_note("c" * 40, RUN.to_note_line() + newer).metrics["acc"] == 0.5  # not 0.1
    problems = []
    rows = rows_from_notes([("c" * 40, newer), ("d" * 40, RUN.to_note_line())], problems)
    assert [commit for commit, _ in rows] == ["d" * 40]
    assert problems == ["c" * 40 + ": written by a newer flexgit (note format 2)"]


def test_commit_message_trailers():
    run = Run(name="r", meta={"source": "a" * 40}, message="subject\n\nbody")
    message = run.commit_message()
    assert message.startswith("run r: subject\n\nbody\n\n")
    assert trailers(message) == {"Flexgit-Kind": "run", "Flexgit-Name": "r", "Flexgit-Source": "a" * 40,
                                 "Flexgit-Format": "2"}


def test_flexgit_files_are_toml_that_flatten_back_to_the_row():
    files = RUN.flexgit_files()
    assert flatten(loads_toml(files["config.toml"].decode()), "x") == RUN.params
    results = flatten(loads_toml(files["results.toml"].decode()), "x")
    assert results["acc"] == 0.5 and math.isnan(results["loss"])


@pytest.mark.parametrize("text, value", [("0.1", 0.1), ("3", 3), ("true", True), ("nan", None), ("inf", math.inf),
                                         ("mlp", "mlp"), ('"quoted"', "quoted"), ("1e-3", 0.001),
                                         ("[1, 2]", "[1, 2]"), ("2024-01-01", "2024-01-01"), ("", "")])
def test_parse_scalar(text, value):
    parsed = parse_scalar(text)
    if value is None:
        assert math.isnan(parsed)
    else:
        assert parsed == value and type(parsed) is type(value)


def test_flatten_and_unflatten():
    nested = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x", "empty": {}}
    flat = flatten(nested, "t")
    assert flat == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}
    assert unflatten(flat) == {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}
    assert unflatten({"a": 1, "a.b": 2}) == {"a": 1, "a.b": 2}  # clash: stays flat, still unambiguous


def test_flatten_refuses_what_a_table_cell_cannot_hold():
    with pytest.raises(InputError, match="nested list"):
        flatten({"a": [{"b": 1}]}, "t")
    with pytest.raises(InputError, match="null"):
        flatten({"a": None}, "t")


def test_yaml_toml_json_read_the_same(tmp_path):
    (tmp_path / "c.yaml").write_text("lr: 0.1\nopt:\n  name: adam\n")
    (tmp_path / "c.toml").write_text('lr = 0.1\n[opt]\nname = "adam"\n')
    (tmp_path / "c.json").write_text('{"lr": 0.1, "opt": {"name": "adam"}}')
    flats = [load_flat(tmp_path / f"c.{ext}", "config") for ext in ("yaml", "toml", "json")]
    assert flats[0] == flats[1] == flats[2] == {"lr": 0.1, "opt.name": "adam"}


def test_many_notes_parse_in_bulk_and_bad_notes_are_skipped():
    from flexgit.storage.run import rows_from_notes

    good = RUN.to_note_line()
    update = update_line(metrics={"acc": 0.75}, time="2026-01-05T00:00:00.000000Z")
    notes = [("a" * 40, good), ("b" * 40, b"not json at all"), ("c" * 40, good + update), ("d" * 40, b"{broken")]
    rows = dict(rows_from_notes(notes))
    assert sorted(rows) == ["a" * 40, "c" * 40]
    assert rows["a" * 40]["metrics"]["acc"] == 0.5 and rows["c" * 40]["metrics"]["acc"] == 0.75


def test_plain_numbers_read_as_toml_reads_them_without_a_parse():
    import random

    rng = random.Random(7)
    texts = ["0", "-0", "7", "-12", "007", "0.5", "-0.0", "00.5", "1.", ".5", "1e5", "1_000", "+1", "nan",
             "9223372036854775807", "9223372036854775808", "123456789012345678", "0.12345678901234567890"]
    texts += [f"{rng.random():.6f}" for _ in range(300)] + [str(rng.randint(-10 ** 18, 10 ** 18)) for _ in range(300)]
    for text in texts:
        try:
            parsed = loads_toml("v = " + text)["v"]
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                assert parse_scalar(text) == text  # not TOML: the text itself
            except InputError:
                assert text == "9223372036854775808"  # beyond 64 bits: refused, as before
            continue
        got = parse_scalar(text)
        assert type(got) is type(parsed) and (got == parsed or (math.isnan(got) and math.isnan(parsed))), text


def test_flat_tables_are_written_byte_for_byte_as_tomli_w_writes_them():
    import random

    import tomli_w

    from flexgit.project.formats import dumps_toml

    rng = random.Random(3)
    chars = ["a", "Z", "0", "_", "-", " ", '"', "\\", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "é", "\u2028", ".", "#"]
    for _ in range(3000):
        table = {}
        for _ in range(rng.randint(0, 6)):
            key = rng.choice(["lr", "a-b", "x_1", "", "two words", "dot.ted", "é", "".join(rng.choices(chars, k=3))])
            table[key] = rng.choice(["".join(rng.choices(chars, k=rng.randint(0, 6))), "text", rng.random(), -1e20,
                                     float("nan"), float("inf"), -float("inf"), 1e16, 0.0, rng.randint(-9, 10 ** 18),
                                     True, False, {"nested": 1}, [1, 2]])
        assert dumps_toml(table) == tomli_w.dumps(table), table


# Values of each key a note line may hold: what flexgit writes, and shapes that are not.
_FIELD_VALUES = {
    "v": [1, 2, 0, True, "1", 1.0, None],
    "t": ["2026-01-01T00:00:00.000000Z", "", "9999-12-31T00:00:00.000000Z", 5, None],
    "name": ["r1", "HEAD", "a..b", "x.lock", "a@{1}", "a" * 40, "-x", "", 3, None, "é", "+old,name"],
    "rename": ["r2", "HEAD"],
    "message": ["m", 3, None], "date": ["2026-01-01", None], "branch": ["experiments", 1], "status": ["ok", []],
    "group": ["g", {}],
    "parent": ["ab" * 20, "main", "", None, 3],
    "params": [{"lr": 0.1, "opt": "adam", "on": True}, {"sizes": [64, 32]}, {"x": None}, {"x": {"y": 1}},
               {"x": [[1]]}, {"x": [None]}, [], None, {}],
    "metrics": [{"acc": 0.5}, {"acc": "nan"}, {"acc": None}, 0.5],
    "meta": [{"host": "h", "cores": 2}, {"list": ["a", 1, 2.5, True]}, {"x": {}}],
    "data": [{"train": {"path": "d.csv", "size": 3}}, {"train": {"path": ["a"]}}, {"train": 1}, [], None,
             {"train": {"x": None}}],
    "tags": [{"best": True}], "note": ["a comment"], "removed": [False],
}


@pytest.mark.parametrize("seed", range(6))
def test_rows_read_in_bulk_are_exactly_those_read_line_by_line(seed):
    """The bulk check over all notes of a read (the common case) keeps exactly what the line-by-line
    check keeps; a note of two JSON values on one line is refused, not read as two."""
    import json
    import random

    from flexgit.storage import run as run_module

    rng = random.Random(seed)
    plain = {"v": 1, "t": "2026-01-01T00:00:00.000000Z", "branch": "experiments", "date": "2026-01-01T00:00:00Z",
             "message": "", "params": {"lr": 0.1}, "metrics": {"acc": 0.5}, "meta": {"host": "h"}}
    latest = run_module.latest_time()
    for _ in range(300):
        lines = []
        for i in range(rng.randrange(1, 6)):
            line = {**plain, "name": f"r{i}"}
            for key in rng.sample(sorted(_FIELD_VALUES), rng.choice([0, 0, 1, 2])):
                if rng.random() < 0.15:
                    line.pop(key, None)
                else:
                    line[key] = rng.choice(_FIELD_VALUES[key])
            lines.append(line)
        accepted = [run_module.line_problem(line, latest) is None and "name" in line
                    and not any(key in line for key in run_module.FACT_KEYS) and "rename" not in line
                    for line in lines]
        assert run_module._all_plain_rows(lines, latest) == all(accepted), lines
        notes = [(f"{i:040x}", json.dumps(line).encode() + b"\n") for i, line in enumerate(lines)]
        one_by_one = [row for note in notes for row in run_module.rows_from_notes([note])]
        assert run_module.rows_from_notes(notes) == one_by_one, lines
    two = [("a" * 40, json.dumps({**plain, "name": "a"}).encode() + b"," + json.dumps({**plain, "name": "b"}).encode()
            + b"\n"), ("b" * 40, json.dumps({**plain, "name": "c"}).encode() + b"\n")]
    problems: list[str] = []
    assert [row["name"] for _, row in run_module.rows_from_notes(two, problems)] == ["c"]
    assert problems == ["a" * 40 + ": not a JSON object"]


def test_run_names_checked_together_are_checked_as_one_by_one():
    from flexgit.storage.refs import all_known_run_names, is_known_run_name

    names = ["r1", "a.b", "HEAD", "ORIG_HEAD", "AUTO_MERGE", "@", "a" * 40, "a" * 39, "x.lock", "x.", "a..b", "a@{1}",
             "+old", "a,b", "-x", ".x", "é", "a b", "a\nb", "", "ab" * 32, "x" * 100, "x" * 101, "HEADS", "lock"]
    for name in names:
        assert all_known_run_names([name]) == is_known_run_name(name), name
        assert all_known_run_names(["ok", name, "fine"]) == is_known_run_name(name), name
    assert all_known_run_names([]) is True
