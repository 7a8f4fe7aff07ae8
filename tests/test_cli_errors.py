"""Bad input: one `Error:` line that says what to do, exit 1 (usage errors 2), no traceback, nothing written.

The table of cases runs the CLI in process; a few cases also run as real subprocesses, so the
entry point itself (`python -m flexgit`) is checked too.
"""

from __future__ import annotations

import pytest

from conftest import flexgit as subprocess_cli, flexgit_in_process as cli, git, make_repo, repo_state


def assert_refused(result, code, starts_with):
    assert result.code == code, result
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith(starts_with), result.err
    if code == 1:
        assert len(lines) == 1


def test_not_a_repository(tmp_path):
    result = cli(tmp_path, "record", "-m", "acc=1")
    assert_refused(result, 1, "Error: ")
    assert "is not inside a git repository; run 'git init' first" in result.err
    assert not any(tmp_path.iterdir())
    assert_refused(cli(tmp_path, "table"), 1, "Error: ")


def test_missing_directory_given_with_dash_c(tmp_path):
    assert_refused(cli(tmp_path, "-C", str(tmp_path / "nope"), "table"), 2, "Error: Invalid value for '-C'")


def test_bare_repository_refuses_record_but_reads(tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    before = repo_state(bare)
    assert_refused(cli(bare, "record", "-m", "acc=1"), 1, "Error: this is a bare repository")
    assert cli(bare, "table", "--format", "csv").out == "name,id,date,message\n"
    assert repo_state(bare) == before


CASES = [
    # (files to write, args, exit code, start of the last stderr line)
    ({}, ["record", "-m", "acc"], 2, "Error: Invalid value for '-m' / '--metric': --metric 'acc' has no value"),
    ({}, ["record", "-p", "=3"], 2, "Error: Invalid value for '-p' / '--param': bad key ''"),
    ({}, ["record", "--name", "a..b"], 1, "Error: 'a..b' cannot be a run name"),
    ({}, ["record", "--name", "has space"], 1, "Error: 'has space' cannot be a run name"),
    ({}, ["record", "-c", "missing.toml"], 1, "Error: config file 'missing.toml' does not exist"),
    ({"bad.toml": "lr = = 1\n"}, ["record", "-c", "bad.toml"], 1, "Error: config file 'bad.toml' is not valid TOML"),
    ({"bad.json": "{\"acc\": }"}, ["record", "-r", "bad.json"], 1, "Error: results file 'bad.json' is not valid JSON"),
    ({"bad.yaml": "a: [1, 2\n"}, ["record", "-c", "bad.yaml"], 1, "Error: config file 'bad.yaml' is not valid YAML"),
    ({"list.json": "[1, 2]"}, ["record", "-r", "list.json"], 1, "Error: results file 'list.json' must hold a table"),
    ({"null.json": "{\"acc\": null}"}, ["record", "-r", "null.json"], 1, "Error: key 'acc' in results file"),
    ({"deep.json": "{\"a\": [[1]]}"}, ["record", "-r", "deep.json"], 1, "Error: key 'a' in results file 'deep.json' "
                                                                          "holds a nested list"),
    ({"clash.toml": "\"a.b\" = 1\n[a]\nb = 2\n"}, ["record", "-c", "clash.toml"], 1,
     "Error: key 'a.b' and key 'b' of table 'a' in config file 'clash.toml' both flatten to 'a.b'"),
    ({"clash.json": "{\"a\": {\"b\": 2}, \"a.b\": 1}"}, ["record", "-r", "clash.json"], 1,
     "Error: key 'b' of table 'a' and key 'a.b' in results file 'clash.json' both flatten to 'a.b'"),
    ({"clash.yaml": "x:\n  y.z: 1\n  y:\n    z: 2\n"}, ["record", "-c", "clash.yaml"], 1,
     "Error: key 'y.z' of table 'x' and key 'z' of table 'x.y' in config file 'clash.yaml' both flatten to 'x.y.z'"),
    ({}, ["record", "-m", "acc=1", "-m", "acc=2"], 2, "Error: Invalid value for '-m' / '--metric': --metric acc is "
                                                      "given twice (1 and 2); give it once"),
    ({"conf.ini": "[a]\n"}, ["record", "-c", "conf.ini"], 1, "Error: config file 'conf.ini' has an unknown type"),
    ({}, ["record", "--branch", "bad..branch"], 1, "Error: 'bad..branch' cannot be a branch name"),
    ({}, ["record", "-m", "n=9223372036854775808"], 2, "Error: Invalid value for '-m' / '--metric': --metric n: "
                                                       "9223372036854775808 is an integer beyond 64 bits"),
    ({"big.json": '{"a": {"n": -9223372036854775809}}'}, ["record", "-r", "big.json"], 1,
     "Error: key 'a.n' in results file 'big.json' is an integer beyond 64 bits"),
    ({"big.toml": "[a]\nn = [1, 99999999999999999999]\n"}, ["record", "-c", "big.toml"], 1,
     "Error: config file 'big.toml' is not valid TOML: the integer 99999999999999999999 of 'a.n' is beyond the "
     "64-bit range TOML allows"),
    ({".flexgit.toml": "max_file_size = 99999999999999999999\n"}, ["record"], 1,
     "Error: settings file '"),
    ({}, ["show", "nope"], 1, "Error: no run named 'nope'"),
    ({}, ["table", "--where", "acc >"], 1, "Error: cannot read the condition"),
    ({}, ["table", "--sort-by", "nothing"], 1, "Error: no column 'nothing'"),
    ({}, ["table", "--format", "xml"], 2, "Error: Invalid value for '--format'"),
    ({}, ["table", "--limit", "-1"], 2, "Error: Invalid value for '--limit'"),
    ({}, ["import", "missing.csv"], 1, "Error: 'missing.csv' does not exist"),
    ({"h.csv": ""}, ["import", "h.csv"], 1, "Error: 'h.csv' has no header row"),
    ({"d.csv": "name,date\nx,05/04/2023\n"}, ["import", "d.csv"], 1,
     "Error: 'd.csv': a date like 05/04/2023 reads day-first or month-first; say which with --date-order dmy"),
    ({"d.csv": "date\n13/04/2023\n04/13/2023\n"}, ["import", "d.csv"], 1,
     "Error: 'd.csv': dates are written both day-first (13/04/2023) and month-first (04/13/2023)"),
    ({"d.csv": "date\n2023-01-01\n"}, ["import", "d.csv", "--date-order", "ymd"], 2,
     "Error: Invalid value for '--date-order'"),
    ({"w.csv": "name,acc\nx,1,2\n"}, ["import", "w.csv"], 1, "Error: line 2 of 'w.csv' has more cells"),
    ({"n.csv": "name,acc\na b,1\n"}, ["import", "n.csv"], 1, "Error: line 2 of 'n.csv': 'a b' cannot be a run name"),
    ({}, ["nosuchcommand"], 2, "Error: No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize("files, args, code, message", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_bad_input_is_refused_and_writes_nothing(repo, files, args, code, message):
    for name, text in files.items():
        (repo / name).write_text(text)
    before = repo_state(repo)
    assert_refused(cli(repo, *args), code, message)
    assert repo_state(repo) == before


@pytest.mark.parametrize("files, args, code, message", [CASES[0], CASES[4], CASES[-1]],
                         ids=["usage", "input", "command"])
def test_bad_input_as_a_real_subprocess(repo, files, args, code, message):
    before = repo_state(repo)
    assert_refused(subprocess_cli(repo, *args), code, message)
    assert repo_state(repo) == before


def test_a_message_given_with_dash_m_suggests_dash_dash_message(repo):
    before = repo_state(repo)
    result = cli(repo, "record", "-m", "wider layers")
    assert_refused(result, 2, "Error: Invalid value for '-m' / '--metric': --metric 'wider layers' has no value")
    assert result.err.strip().splitlines()[-1].endswith("; -m is --metric; for a message use --message TEXT")
    assert "--message" not in cli(repo, "record", "-m", "=1").err  # a bad key is not a message
    assert "--message" not in cli(repo, "update", "x", "-m", "note").err  # update takes no message
    assert repo_state(repo) == before


def test_duplicate_run_name_from_the_cli(repo):
    assert cli(repo, "record", "--name", "dup").code == 0
    before = repo_state(repo)
    assert_refused(cli(repo, "record", "--name", "dup"), 1,
                   "Error: a run named 'dup' already exists; pick another name with --name")
    assert repo_state(repo) == before


def test_import_of_existing_names_writes_nothing(repo):
    assert cli(repo, "record", "--name", "taken").code == 0
    (repo / "old.csv").write_text("name,acc\nfree,1\ntaken,2\n")
    before = repo_state(repo)
    result = cli(repo, "import", "old.csv")
    assert_refused(result, 1, "Error: a run named 'taken' already exists; change the name on line 3 of 'old.csv', "
                              "or add --again to import it under a numbered name")
    assert "--name" not in result.err  # import has no such option
    assert repo_state(repo) == before


def test_rename_to_a_taken_name_says_how_to_pick_another(repo):
    assert cli(repo, "record", "--name", "a").code == 0 and cli(repo, "record", "--name", "b").code == 0
    before = repo_state(repo)
    result = cli(repo, "rename", "a", "b")
    assert_refused(result, 1, "Error: a run named 'b' already exists; pick another new name "
                              "(flexgit rename a OTHER), or rename that run first")
    assert "--name" not in result.err  # rename has no such option
    assert repo_state(repo) == before


def test_foreign_experiments_branch(repo):
    git(repo, "branch", "experiments")
    before = repo_state(repo)
    assert_refused(cli(repo, "record"), 1, "Error: branch 'experiments' exists and is not a flexgit experiments branch")
    assert_refused(cli(repo, "table"), 1, "Error: branch 'experiments' exists")
    assert repo_state(repo) == before


def test_64_bit_integers_are_kept_exactly(repo):
    (repo / ".flexgit.toml").write_text("max_file_size = 99999999999999999999\n")
    assert "beyond the 64-bit range TOML allows; fix it" in cli(repo, "record").err
    (repo / ".flexgit.toml").unlink()
    edges = ["-m", "hi=9223372036854775807", "-m", "lo=-9223372036854775808"]
    assert cli(repo, "record", "--name", "edge", *edges).code == 0
    shown = cli(repo, "show", "edge").out
    assert "hi = 9223372036854775807\n" in shown and "lo = -9223372036854775808\n" in shown


def test_nan_and_infinity_are_recorded_and_shown(tmp_path):
    repo = make_repo(tmp_path / "p")
    assert cli(repo, "record", "--name", "n", "-m", "loss=nan", "-m", "gain=inf", "-m", "low=-inf").code == 0
    result = cli(repo, "table", "--format", "csv", "--columns", "loss,gain,low")
    assert result.out == "metrics.loss,metrics.gain,metrics.low\nnan,inf,-inf\n"
    assert "loss = nan" in cli(repo, "show", "n").out
