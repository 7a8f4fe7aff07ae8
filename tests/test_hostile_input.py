"""Hostile text in messages, names, values and files: one clear error, nothing written, the repository
still records afterwards (issue 14, items 10, 11 and 19)."""

from __future__ import annotations

import json

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
    assert "evil\\x00Flexgit-Kind: root" in message and message.rstrip().endswith("Flexgit-Format: 1")
    assert cli(repo, "record", "--name", "after", "-m", "acc=2").code == 0
