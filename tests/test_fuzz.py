"""Generated hostile input (issue 14): run names, KEY=VALUE values, config files and `--where`
conditions. Whatever arrives, the CLI either succeeds or prints exactly one `Error:` line (exit 1,
or 2 for a usage error) and writes nothing; never an internal error, never a traceback."""

from __future__ import annotations

import json
import string

import pytest
import tomli_w
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flexgit
from conftest import flexgit_in_process as cli, make_repo, repo_state

FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Any code point, lone surrogates included (what Python makes of a command-line argument that is not UTF-8).
ANY_TEXT = st.text(st.characters(exclude_categories=[]), max_size=40)
FILE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
HOSTILE = ["", " ", "-rf", "--help", "HEAD", "@", "FETCH_HEAD", "a" * 40, "a..b", "x.lock", "a@{1}", "../x", "a/b",
           "\x00", "a\nb", "a\rb", "\x1b[31m", "\u202e", "\ud800", "\udcff", "[" * 5000, "{" * 3000, "nan", "inf",
           "-inf", "1e999", "9" * 5000, "\"unterminated", "'", "true", "[1, [2]]", "{a = 1}", "1\nb = 2",
           "x" * 200, "é", "名前", "a = 1 and", " and ", "=", "==", "<>"]
SOME_TEXT = st.one_of(ANY_TEXT, st.sampled_from(HOSTILE), st.text(string.printable, max_size=30))


class Guard:
    """Runs the CLI and checks the outcome: success, or one clear error and an unchanged repository."""

    def __init__(self, repo):
        self.repo = repo
        self.state = repo_state(repo)

    def run(self, *args, writes=True):
        result = cli(self.repo, *args)
        assert "Traceback" not in result.err and "internal error" not in result.err, (args, result)
        assert not any(ord(c) < 32 and c != "\n" for c in result.err), (args, result)
        if result.code == 0:
            if writes:
                self.state = repo_state(self.repo)
            return result
        assert result.code in (1, 2), (args, result)
        lines = result.err.split("\n")
        assert [line for line in lines if line.startswith("Error:")] == [lines[-2]], (args, result)
        if result.code == 1:
            assert len(lines) == 2, (args, result)  # the error line and the final newline
        assert repo_state(self.repo) == self.state, args
        return result


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("fuzz") / "project")
    flexgit.record(name="base", params={"model": "mlp", "lr": 0.1}, metrics={"acc": 0.5}, repo=repo)
    return Guard(repo)


@FUZZ
@given(name=SOME_TEXT)
def test_run_names(guard, name):
    guard.run("record", "--name", name, "-m", "acc=1")


@FUZZ
@given(key=SOME_TEXT, value=SOME_TEXT, option=st.sampled_from(["-p", "-m"]))
def test_key_value_assignments(guard, key, value, option):
    guard.run("record", option, f"{key}={value}")


def documents():
    """Tables of scalars, lists and tables, nested: the shapes config files hold, and some they should not."""
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), FILE_TEXT)
    values = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(FILE_TEXT, inner, max_size=4)),
                          max_leaves=20)
    return st.dictionaries(FILE_TEXT, values, max_size=6)


HOSTILE_FILES = [
    (".yaml", "a: &a {b: *a}\n"),
    (".yaml", "l0: &l0 {" + ", ".join(f"k{i}: 1" for i in range(9)) + "}\n"
     + "".join(f"l{n}: &l{n} {{" + ", ".join(f"k{i}: *l{n - 1}" for i in range(9)) + "}\n" for n in range(1, 7))),
    (".json", '{"a": "\\ud800"}'), (".json", '{"a": ' + "[" * 5000 + "]" * 5000 + "}"),
    (".json", '{"a": NaN, "b": Infinity}'), (".json", '{"a": 1, "a": 2}'), (".json", "[]"), (".json", "null"),
    (".toml", "a = 1\na = 2\n"), (".toml", "[a]\nb = 1\n[a]\nc = 2\n"), (".yaml", "!!python/object:os.system {}\n"),
    (".yaml", "a: 2001-12-14t21:59:43.10-05:00\n"), (".yaml", "? [1, 2]\n: x\n"),
    (".toml", "a = 9" + "9" * 5000 + "\n"),
]


@st.composite
def config_files(draw):
    suffix = draw(st.sampled_from([".toml", ".json", ".yaml", ".yml"]))
    how = draw(st.sampled_from(["text", "document", "hostile", "bytes"]))
    if how == "hostile":
        return draw(st.sampled_from(HOSTILE_FILES))
    if how == "bytes":
        return suffix, draw(st.binary(max_size=100))
    if how == "text":
        return suffix, draw(FILE_TEXT)
    document = draw(documents())
    if suffix == ".json":
        return suffix, json.dumps(document)
    if suffix != ".toml":
        return suffix, yaml.safe_dump(document)
    try:
        return suffix, tomli_w.dumps(document)
    except (TypeError, ValueError):  # TOML has no null, and no key for some of these tables
        return suffix, draw(FILE_TEXT)


@FUZZ
@given(file=config_files(), role=st.sampled_from(["-c", "-r"]))
def test_config_and_results_files(guard, tmp_path_factory, file, role):
    suffix, content = file
    path = tmp_path_factory.mktemp("files") / ("input" + suffix)  # outside the working tree
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    guard.run("record", role, str(path))


CONDITIONS = st.one_of(SOME_TEXT, st.builds(lambda col, op, value: f"{col} {op} {value}",
                                            st.sampled_from(["acc", "metrics.acc", "lr", "model", "meta.host",
                                                             "name", "nope"]),
                                            st.sampled_from(["=", "==", "!=", "<", "<=", ">", ">=", "=>", "~",
                                                             "in", "has"]),
                                            SOME_TEXT))
CLAUSES = st.builds(lambda before, condition, after: before + condition + after,
                    st.sampled_from(["", "not ", "(", "exists("]), CONDITIONS, st.sampled_from(["", ")"]))


@FUZZ
@given(where=st.lists(st.tuples(st.sampled_from([" and ", " or "]), CLAUSES), min_size=1, max_size=3)
       .map(lambda parts: "".join(joint + clause for joint, clause in parts)[len(parts[0][0]):]))
def test_where_conditions(guard, where):
    guard.run("table", "--where", where, "--format", "csv", writes=False)


CSV_CELLS = st.one_of(st.sampled_from(HOSTILE), st.text(string.printable, max_size=12), FILE_TEXT)


@st.composite
def csv_files(draw):
    header = draw(st.lists(st.one_of(st.sampled_from(["name", "message", "date", "acc", "params.lr", "meta.note",
                                                      "meta.source", "metrics.x"]), CSV_CELLS),
                           min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=len(header), max_size=len(header) + 1), max_size=3))
    if draw(st.booleans()):
        return draw(FILE_TEXT)
    return "\n".join(",".join(json.dumps(cell) for cell in line) for line in [header, *rows]) + "\n"


@FUZZ
@given(text=csv_files())
def test_imported_csv(guard, tmp_path_factory, text):
    path = tmp_path_factory.mktemp("csv") / "old.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    guard.run("import", str(path))
