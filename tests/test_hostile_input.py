"""Hostile text in messages, names, values and files: one clear error, nothing written, the repository
still records afterwards (issue 14, items 10, 11 and 19)."""

from __future__ import annotations

import json
import time

import pytest

import flexgit
from conftest import flexgit_in_process as cli, git, repo_state


def assert_one_error(result, code=1):
    assert result.code == code, result
    assert "Traceback" not in result.err and "internal error" not in result.err, result
    assert [line for line in result.err.split("\n") if line.startswith("Error:")] == [result.err.split("\n")[-2]]
    if code == 1:
        assert result.err.count("\n") == 1, result  # one line, whatever the input held
    assert not any(ord(c) < 32 and c != "\n" for c in result.err), result


# -- item 10: control characters never reach a commit message ----------------------------------


@pytest.mark.parametrize("message", ["a\x00b", "x\x1b[31mred", "bell\x07", "c1 \x9b csi", "half\ud800"])
def test_api_message_with_control_character_is_refused_and_the_repository_still_records(repo, message):
    flexgit.record(name="before", metrics={"acc": 1}, repo=repo)
    before = repo_state(repo)
    with pytest.raises(flexgit.FlexgitError, match="the message holds the character"):
        flexgit.record(name="bad", message=message, metrics={"acc": 2}, repo=repo)
    assert repo_state(repo) == before
    run = flexgit.record(name="after", message="multi\nline\twith tab", metrics={"acc": 3}, repo=repo)
    assert [r.name for r in flexgit.list_runs(repo=repo)] == ["before", "after"]
    assert git(repo, "log", "-1", "--format=%(trailers:key=Flexgit-Name,valueonly)", run.id).strip() == "after"


def test_cli_message_with_escape_sequence_is_one_escaped_error_line(repo):
    before = repo_state(repo)
    result = cli(repo, "record", "--message", "look\x1b[2Jhere\nsecond", "-m", "acc=1")
    assert_one_error(result)
    assert "'\\x1b'" in result.err
    assert repo_state(repo) == before
    assert cli(repo, "record", "--message", "windows\r\nline ends", "-m", "acc=1").code == 0


def test_csv_message_with_nul_is_refused_and_import_still_works(repo):
    (repo / "old.csv").write_text("name,message,acc\nx,fine,1\ny,cut\x00here,2\n")
    git(repo, "add", "old.csv")
    git(repo, "commit", "-qm", "results")
    before = repo_state(repo)
    result = cli(repo, "import", "old.csv")
    assert_one_error(result)
    assert "line 3 of 'old.csv': the message holds the character '\\x00'" in result.err
    assert repo_state(repo) == before
    (repo / "old.csv").write_text('name,message,acc\nx,"two\r\nlines",1\n')
    assert cli(repo, "import", "old.csv").code == 0
    assert flexgit.show("x", repo=repo).run.message == "two\nlines"
    assert cli(repo, "record", "--name", "later", "-m", "acc=2").code == 0


def test_a_pulled_note_with_nul_in_its_message_cannot_cut_a_snapshot_commit(repo):
    run = flexgit.record(name="r", metrics={"acc": 1}, repo=repo)
    note = json.loads(git(repo, "notes", "--ref=flexgit", "show", run.id))
    note["message"] = "evil\x00Flexgit-Kind: root"
    git(repo, "notes", "--ref=flexgit", "add", "-f", "-m", json.dumps(note), run.id)
    assert cli(repo, "checkout", "r", "--branch", "try-r").code == 0
    message = git(repo, "log", "-1", "--format=%B", "try-r")
    assert "evil\\x00Flexgit-Kind: root" in message and message.rstrip().endswith("Flexgit-Format: 2")
    assert cli(repo, "record", "--name", "after", "-m", "acc=2").code == 0


# -- item 11: bounded config and results, aliases expanded ---------------------------------------


def alias_bomb(levels: int = 6, width: int = 9) -> str:
    """A few hundred bytes of YAML that expand to width ** levels values."""
    keys = ", ".join(f"k{i}: 1" for i in range(width))
    lines = [f"l0: &l0 {{{keys}}}"]
    for level in range(1, levels):
        refs = ", ".join(f"k{i}: *l{level - 1}" for i in range(width))
        lines.append(f"l{level}: &l{level} {{{refs}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("option", ["-c", "-r"])
def test_yaml_alias_bomb_is_refused_early(repo, option):
    bomb = alias_bomb()
    assert len(bomb) < 700
    (repo / "bomb.yaml").write_text(bomb)
    git(repo, "add", "bomb.yaml")
    git(repo, "commit", "-qm", "a config")
    before = repo_state(repo)
    started = time.monotonic()
    result = cli(repo, "record", option, "bomb.yaml")
    assert time.monotonic() - started < 5  # 26 s and 1.6 GB before the bound
    assert_one_error(result)
    assert "holds more than 100,000 values" in result.err and "bomb.yaml" in result.err
    assert repo_state(repo) == before
    assert cli(repo, "record", "-c" if option == "-r" else "-r", "bomb.yaml").code == 1
    (repo / "small.yaml").write_text(alias_bomb(levels=2, width=3))
    assert cli(repo, "record", option, "small.yaml").code == 0


def test_yaml_string_alias_expanding_to_megabytes_is_refused(repo, tmp_path):
    text = "s: &s " + "x" * 100_000 + "\n" + "".join(f"k{i}: *s\n" for i in range(200))
    (tmp_path / "big.yaml").write_text(text)
    result = cli(repo, "record", "-c", str(tmp_path / "big.yaml"))
    assert_one_error(result)
    assert "4 MB of text" in result.err


@pytest.mark.parametrize("text", ["a: &a {b: *a}\n", "a: " + "{b: " * 80 + "1" + "}" * 80 + "\n",
                                  "a: " + "[" * 5000 + "\n"])
def test_self_referring_or_deeply_nested_yaml_is_refused(repo, tmp_path, text):
    (tmp_path / "deep.yaml").write_text(text)
    before = repo_state(repo)
    result = cli(repo, "record", "-c", str(tmp_path / "deep.yaml"))
    assert_one_error(result)
    assert "deep.yaml" in result.err
    assert repo_state(repo) == before


def test_deep_json_is_refused(repo, tmp_path):
    (tmp_path / "deep.json").write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    result = cli(repo, "record", "-r", str(tmp_path / "deep.json"))
    assert_one_error(result)
    assert "nests values too deeply" in result.err


def test_huge_results_file_is_refused_before_it_is_read(repo, tmp_path):
    with open(tmp_path / "huge.json", "wb") as out:
        out.truncate(33 << 20)  # sparse: nothing is written, nor should anything be read
    result = cli(repo, "record", "-r", str(tmp_path / "huge.json"))
    assert_one_error(result)
    assert "is larger than 32 MB" in result.err


def test_api_row_beyond_the_note_bound_is_refused(repo):
    params = {f"p{i}": "x" * 1_000_000 for i in range(4)}  # each part within its bound, the row not
    metrics = {f"m{i}": "y" * 1_000_000 for i in range(4)}
    meta = {f"d{i}": "z" * 1_000_000 for i in range(4)}
    for i in range(8):
        (repo / f"c{i}.json").write_text(json.dumps({f"q{i}": "w" * 1_000_000}))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "configs")
    before = repo_state(repo)
    with pytest.raises(flexgit.FlexgitError, match="larger than 16 MB"):
        flexgit.record(params=params, metrics=metrics, meta=meta, config_files=[repo / f"c{i}.json" for i in range(8)],
                       repo=repo)
    assert repo_state(repo) == before


# -- item 19: names git reads as revisions, values cut or too deep, surrogates, flexgit's meta ---


@pytest.mark.parametrize("name", ["HEAD", "@", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD",
                                  "a" * 40, "0123456789ABCDEF0123456789abcdef01234567", "f" * 64])
def test_names_git_reads_as_revisions_are_refused(repo, name):
    flexgit.record(name="existing", metrics={"acc": 1}, repo=repo)
    before = repo_state(repo)
    result = cli(repo, "record", "--name", name, "-m", "acc=1")
    assert_one_error(result)
    assert f"'{name}' cannot be a run name" in result.err and "full commit id" in result.err
    assert_one_error(cli(repo, "rename", "existing", name))
    (repo.parent / "runs.csv").write_text(f"name,acc\n{name},1\n")
    assert_one_error(cli(repo, "import", str(repo.parent / "runs.csv")))
    assert repo_state(repo) == before


def test_short_hex_and_ordinary_capitals_stay_names(repo):
    for name in ("abc1234", "a" * 39, "HEADS", "AHEAD", "head", "BEST"):
        assert cli(repo, "record", "--name", name, "-m", "acc=1").code == 0, name
    assert flexgit.show("abc1234", repo=repo).run.name == "abc1234"


@pytest.mark.parametrize("name", ["a\nb", "x\x1b[2Jy", "tab\there", "bidi\u202eevil"])
def test_bad_name_error_is_one_line_without_raw_control_characters(repo, name):
    result = cli(repo, "record", "--name", name, "-m", "acc=1")
    assert_one_error(result)
    assert "\u202e" not in result.err
    with pytest.raises(flexgit.FlexgitError) as refused:
        flexgit.record(name=name, repo=repo)
    assert "\n" not in str(refused.value) and not any(ord(c) < 32 or c == "\u202e" for c in str(refused.value))


def test_usage_errors_quote_what_was_typed_without_control_characters(repo):
    result = cli(repo, "record", "extra\x1b[2J\nError: forged")
    assert_one_error(result, code=2)
    assert "unexpected extra argument (extra\\x1b[2J\\nError: forged)" in result.err


def test_command_line_value_with_a_newline_is_stored_whole(repo):
    assert cli(repo, "record", "--name", "r", "-p", "a=1\nb = 2", "-m", "acc=0.5\n[x]\ny = 3").code == 0
    run = flexgit.show("r", repo=repo).run
    assert run.params == {"a": "1\nb = 2"} and run.metrics == {"acc": "0.5\n[x]\ny = 3"}
    assert cli(repo, "update", "r", "-p", "a=2\nc = 3").code == 0
    assert flexgit.show("r", repo=repo).run.params == {"a": "2\nc = 3"}


def test_deeply_nested_brackets_in_a_value_or_condition_are_refused(repo):
    flexgit.record(name="r", params={"model": "mlp"}, metrics={"acc": 1}, repo=repo)
    before = repo_state(repo)
    deep = "[" * 5000
    result = cli(repo, "record", "-p", f"a={deep}")
    assert_one_error(result, code=2)
    assert "nests brackets too deeply" in result.err
    result = cli(repo, "table", "--where", f"model = {deep}")
    assert_one_error(result)
    assert "nests brackets too deeply" in result.err
    (repo.parent / "deep.csv").write_text(f"name,lr\nx,{deep}\n")
    result = cli(repo, "import", str(repo.parent / "deep.csv"))
    assert_one_error(result)
    assert "line 2 of" in result.err and "column 'lr'" in result.err
    assert repo_state(repo) == before


@pytest.mark.parametrize("file, text", [("c.json", '{"a": "\\ud800"}'), ("c.json", '{"\\udfff": 1}'),
                                        ("c.yaml", 'a: "x\\ud800"\n'), ("c.json", '{"a": ["ok", "\\ud83d"]}')])
def test_lone_surrogate_in_a_config_file_is_refused(repo, tmp_path, file, text):
    (tmp_path / file).write_text(text)
    before = repo_state(repo)
    result = cli(repo, "record", "-c", str(tmp_path / file))
    assert_one_error(result)
    assert "not valid Unicode" in result.err or "bad key" in result.err
    assert repo_state(repo) == before


def test_lone_surrogate_on_the_command_line_is_refused(repo):
    before = repo_state(repo)
    # What Python makes of an argument that is not UTF-8 (b"\xff"): a lone surrogate.
    assert_one_error(cli(repo, "record", "-p", "a=\udcff"))
    assert_one_error(cli(repo, "record", "--message", "bad \udcff byte"))
    assert_one_error(cli(repo, "table", "--where", "a\udcff = 1"))
    assert repo_state(repo) == before


def test_csv_cannot_set_flexgits_own_meta_keys(repo):
    run = flexgit.record(name="real", metrics={"acc": 1}, repo=repo)
    blob = git(repo, "rev-parse", "HEAD:train.py").strip()
    (repo.parent / "old.csv").write_text(f"name,acc,meta.source,meta.purpose\nx,1,{blob},baseline\n")
    before = repo_state(repo)
    result = cli(repo, "import", str(repo.parent / "old.csv"))
    assert_one_error(result)
    assert "sets 'source', which flexgit writes itself" in result.err
    assert repo_state(repo) == before
    (repo.parent / "old.csv").write_text("name,acc,meta.purpose\nx,1,baseline\n")
    assert cli(repo, "import", str(repo.parent / "old.csv")).code == 0
    assert flexgit.show("x", repo=repo).run.meta["purpose"] == "baseline"
    assert cli(repo, "show", "x").code == 0 and flexgit.show("real", repo=repo).run.id == run.id


@pytest.mark.parametrize("key", ["source", "imported", "host", "left_out"])
def test_api_meta_cannot_set_flexgits_own_keys(repo, key):
    before = repo_state(repo)
    with pytest.raises(flexgit.FlexgitError, match=f"sets '{key}', which flexgit writes itself"):
        flexgit.record(name="m", meta={key: "mine", "purpose": "x"}, repo=repo)
    assert repo_state(repo) == before
    assert flexgit.record(name="m", meta={"purpose": "x"}, repo=repo).meta["purpose"] == "x"


def test_the_store_refuses_a_row_its_readers_would_skip(repo):
    """Whatever path a run takes to the store (a null left by a job killed outright, a value of no
    storable shape), it is refused before anything is written, never recorded and then skipped."""
    from flexgit._context import branch_ref, open_store
    from flexgit.errors import InputError
    from flexgit.storage.run import Run

    flexgit.init(repo=repo)
    store = open_store(repo)
    tree = store.repo.update_tree(None, {"a.txt": store.repo.write_blob(b"a\n")})
    before = repo_state(repo)
    for meta in ({"exit_code": None}, {"deep": {"a": {"b": 1}}}):
        run = Run(name="killed", meta=meta, date="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00.000000Z")
        with pytest.raises(InputError, match="cannot be recorded: its row"):
            store.write([run], [tree], branch_ref(None), [{}])
    assert repo_state(repo) == before
    assert flexgit.list_runs(repo=repo) == []
