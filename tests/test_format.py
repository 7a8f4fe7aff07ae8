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
