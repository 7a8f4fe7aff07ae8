"""`tag`, `note`, `rm`: new lines in a run's note, merged across clones like every line."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

import flexgit
from conftest import flexgit as subprocess_cli, flexgit_in_process as cli, git, repo_state, shared_clones


def note_lines(repo, name):
    return [json.loads(line) for line in git(repo, "notes", "--ref=flexgit", "show", f"exp/{name}").splitlines()]


def table_csv(repo, *args):
    done = cli(repo, "table", "--format", "csv", *args)
    assert done.code == 0, done
    return done.out


def append_line(repo, name, line):
    """A note line written by plain git (another flexgit, or a hostile clone)."""
    git(repo, "notes", "--ref=flexgit", "append", "-m", json.dumps(line), f"exp/{name}")


# -- tags -------------------------------------------------------------------------------------


def test_tags_are_added_and_removed_by_new_lines_and_shown(repo):
    a = flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    b = flexgit.record(name="b", metrics={"acc": 0.7}, repo=repo)
    commit = git(repo, "rev-parse", "exp/a").strip()
    done = cli(repo, "tag", "a", "b", "+paper", "+best")
    assert done.code == 0 and done.out == f"a ({a.short_id}): best, paper\nb ({b.short_id}): best, paper\n", done
    assert cli(repo, "tag", "a", "--remove", "paper").out == f"a ({a.short_id}): best\n"
    assert table_csv(repo).splitlines()[0] == "name,id,date,message,tags,metrics.acc"
    assert table_csv(repo, "--columns", "name,tags") == "name,tags\na,[best]\nb,\"[best, paper]\"\n"
    assert [line.get("tags") for line in note_lines(repo, "a")] == [None, {"best": True, "paper": True},
                                                                     {"paper": False}]
    assert git(repo, "rev-parse", "exp/a").strip() == commit  # the run itself is never rewritten
    assert "tags     best\n" in cli(repo, "show", "a").out
    frame = flexgit.table(repo=repo)
    assert list(frame["tags"]) == [["best"], ["best", "paper"]]
    assert [run.tags for run in flexgit.list_runs(repo=repo)] == [("best",), ("best", "paper")]
    assert [run.tags for run in flexgit.tag("b", remove="best", repo=repo)] == [("paper",)]


def test_no_tags_column_until_a_run_has_a_tag(repo):
    flexgit.record(name="a", repo=repo)
    assert table_csv(repo).splitlines()[0] == "name,id,date,message"
    flexgit.tag("a", add="x", repo=repo)
    flexgit.tag("a", remove="x", repo=repo)
    assert table_csv(repo).splitlines()[0] == "name,id,date,message"


@pytest.mark.parametrize("args, error", [
    (("a", "+bad label"), "Error: 'bad label' cannot be a tag"),
    (("a", "+.hidden"), "Error: '.hidden' cannot be a tag"),
    (("a", "+x", "--remove", "x"), "Error: label 'x' is both added and removed"),
    (("a",), "Error: give the labels to add or remove"),
    (("+best",), "Error: name the runs, e.g. flexgit tag lr-0.1 +best"),
    (("nope", "+best"), "Error: no run named 'nope'"),
    (("a", "nope", "+best"), "Error: no run named 'nope'"),  # all named runs exist, or nothing is written
])
def test_bad_tags_are_refused_and_write_nothing(repo, args, error):
    flexgit.record(name="a", repo=repo)
    before = repo_state(repo)
    done = cli(repo, "tag", *args)
    assert done.code == 1 and done.err.startswith(error) and len(done.err.splitlines()) == 1, done
    assert repo_state(repo) == before


@pytest.mark.parametrize("name", ["+x", "a,b"])
def test_run_names_may_not_start_with_plus_or_hold_a_comma(repo, name):
    before = repo_state(repo)
    done = cli(repo, "record", "--name", name)
    assert done.code == 1 and f"Error: {name!r} cannot be a run name" in done.err, done
    assert repo_state(repo) == before


def test_a_run_an_older_flexgit_named_with_a_comma_is_still_read_and_can_be_renamed(repo):
    flexgit.record(name="old", repo=repo)
    append_line(repo, "old", {"v": 1, "t": "2026-01-01T00:00:00.000000Z", "rename": "a,b"})
    assert table_csv(repo, "--columns", "name") == 'name\n"a,b"\n'
    commit = git(repo, "rev-parse", "exp/old").strip()
    assert cli(repo, "rename", commit[:10], "ab").code == 0
    assert table_csv(repo, "--columns", "name") == "name\nab\n"


# -- notes ------------------------------------------------------------------------------------


def test_notes_are_dated_comments_that_show_lists(repo):
    flexgit.record(name="a", repo=repo)
    done = cli(repo, "note", "a", "diverged after epoch 40")
    assert done.code == 0 and done.out.endswith("1 note in all\n"), done
    run = flexgit.note("a", "tried lr 0.01:\n\tbetter", repo=repo)
    assert [text for _, text in run.notes] == ["diverged after epoch 40", "tried lr 0.01:\n\tbetter"]
    lines = note_lines(repo, "a")
    assert lines[1]["note"] == "diverged after epoch 40" and run.notes[0][0] == lines[1]["t"]
    shown = cli(repo, "show", "a").out
    day = lines[1]["t"][:10]
    assert f"notes:\n  {day} " in shown and "  diverged after epoch 40\n" in shown
    assert "tried lr 0.01:\n" + " " * 23 + "\tbetter\n" in shown
    assert [run.notes for run in flexgit.list_runs(repo=repo)] == [run.notes]  # through the run cache too


@pytest.mark.parametrize("text, error", [
    ("bell\x07", "Error: the note holds the character '\\x07'"),
    ("  ", "Error: the note is empty"),
    ("x" * 10_001, "Error: the note has 10001 characters"),
])
def test_bad_notes_are_refused_and_write_nothing(repo, text, error):
    flexgit.record(name="a", repo=repo)
    before = repo_state(repo)
    done = cli(repo, "note", "a", text)
    assert done.code == 1 and done.err.startswith(error), done
    assert repo_state(repo) == before


# -- rm ---------------------------------------------------------------------------------------


def test_rm_hides_a_run_everywhere_and_undo_brings_it_back(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    flexgit.record(name="b", metrics={"acc": 0.7}, repo=repo)
    assert table_csv(repo, "--columns", "name") == "name\na\nb\n"  # warms the run cache
    done = cli(repo, "rm", "b")
    assert done.out == "removed 1 run: b; 'flexgit rm --undo b' brings one back\n", done
    assert note_lines(repo, "b")[-1]["removed"] is True
    assert git(repo, "rev-parse", "--verify", "-q", "exp/b")  # nothing deleted: name, commit, note stay
    assert table_csv(repo, "--columns", "name") == "name\na\n"
    assert table_csv(repo, "--removed", "--columns", "name") == "name\nb\n"
    assert [run.name for run in flexgit.list_runs(repo=repo)] == ["a"]
    assert list(flexgit.table(repo=repo)["name"]) == ["a"]
    assert list(flexgit.table(removed=True, repo=repo)["name"]) == ["b"]
    assert "removed  yes: hidden from the table; 'flexgit rm --undo b' brings it back" in cli(repo, "show", "b").out
    before = repo_state(repo)
    refused = cli(repo, "checkout", "b", "--branch", "try-b")
    assert refused.err == ("Error: run 'b' was removed (flexgit rm); bring it back with 'flexgit rm --undo b', "
                           "then check it out\n") and repo_state(repo) == before
    assert cli(repo, "rm", "b").out == "b was already removed\n" and repo_state(repo) == before
    assert cli(repo, "rm", "--undo", "b").out == "brought back 1 run: b\n"
    assert cli(repo, "rm", "--undo", "b").out == "b was not removed\n"
    assert table_csv(repo, "--columns", "name") == "name\na\nb\n"
    assert cli(repo, "table", "--removed").err == "no removed runs on branch 'experiments'\n"
    assert [line.get("removed") for line in note_lines(repo, "b")] == [None, True, False]


def test_rm_where_counts_asks_and_refuses_without_a_terminal(repo):
    for i in range(4):
        flexgit.record(name=f"r{i}", metrics={"acc": i / 10}, repo=repo)
    before = repo_state(repo)
    done = cli(repo, "rm", "--where", "metrics.acc < 0.2")  # the runner's stdin is not a terminal
    assert done.code == 1 and done.out == "2 runs match --where 'metrics.acc < 0.2': r0, r1\n", done
    assert done.err == ("Error: not asking for a confirmation without a terminal; to remove these runs, "
                        "add --yes\n")
    assert cli(repo, "rm", "r0", "--where", "metrics.acc < 0.2").err == "Error: give run names or --where, not both\n"
    assert cli(repo, "rm", "--where", "metrics.nope < 1", "--yes").err.startswith("Error: no column 'metrics.nope'")
    nothing = cli(repo, "rm", "--where", "metrics.acc > 5")
    assert nothing.out == "no runs match --where 'metrics.acc > 5'; nothing to do\n"
    assert repo_state(repo) == before
    assert flexgit.rm(where="metrics.acc < 0.2", dry_run=True, repo=repo).changed[1].name == "r1"
    assert repo_state(repo) == before
    done = cli(repo, "rm", "--where", "metrics.acc < 0.2", "--yes")
    assert done.out == "removed 2 runs: r0, r1; 'flexgit rm --undo r0' brings one back\n", done
    assert table_csv(repo, "--columns", "name") == "name\nr2\nr3\n"
    flexgit.rm(["r2", "r3"], repo=repo)
    assert cli(repo, "table").err == ("no runs on branch 'experiments' but 4 removed; "
                                      "'flexgit table --removed' lists them\n")
    flexgit.rm(["r2", "r3"], undo=True, repo=repo)
    done = cli(repo, "rm", "--undo", "--where", "metrics.acc < 0.1", "--yes")  # among the removed runs
    assert done.out == "brought back 1 run: r0\n", done
    assert table_csv(repo, "--columns", "name") == "name\nr0\nr2\nr3\n"


@pytest.mark.parametrize("answer, kept", [("y\n", "name\nr1\n"), ("n\n", "name\nr0\nr1\n")])
def test_rm_where_on_a_terminal_asks_first(repo, answer, kept):
    flexgit.record(name="r0", metrics={"acc": 0.1}, repo=repo)
    flexgit.record(name="r1", metrics={"acc": 0.9}, repo=repo)
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())  # typed ahead: the terminal holds it until flexgit reads it
        done = subprocess.run([sys.executable, "-m", "flexgit", "rm", "--where", "acc < 0.5"], cwd=repo,
                              stdin=follower, capture_output=True, text=True, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 0, done
    assert "1 run match --where 'acc < 0.5': r0\nremove 1 run? [y/N]: " in done.stdout
    assert done.stdout.endswith("removed 1 run: r0; 'flexgit rm --undo r0' brings one back\n" if answer == "y\n"
                                else "nothing changed\n")
    assert table_csv(repo, "--columns", "name") == kept


# -- hostile or future lines ----------------------------------------------------------------


@pytest.mark.parametrize("line", [
    {"tags": {"bad label": True}}, {"tags": {"best": "yes"}}, {"tags": {}}, {"tags": ["best"]},
    {"removed": 1}, {"removed": "true"}, {"note": 3}, {"note": "\x1b[31mred"},
])
def test_a_fact_line_of_the_wrong_shape_is_skipped_alone(repo, line):
    flexgit.record(name="a", repo=repo)
    append_line(repo, "a", {"v": 1, "t": "2026-01-01T00:00:00.000000Z", **line})
    run, = flexgit.list_runs(repo=repo)
    assert run.name == "a" and run.tags == () and not run.removed and run.notes == ()
    assert "problem: " in cli(repo, "fsck").out


def test_a_line_with_a_key_this_flexgit_does_not_know_is_read_and_ignored(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    append_line(repo, "a", {"v": 1, "t": "2026-01-01T00:00:00.000000Z", "starred": True, "metrics": {"f1": 0.2}})
    assert table_csv(repo, "--columns", "name,acc,f1") == "name,metrics.acc,metrics.f1\na,0.5,0.2\n"


# -- across clones ----------------------------------------------------------------------------


def test_tags_and_removals_merge_across_clones_newest_wins(tmp_path):
    _, (a, b) = shared_clones(tmp_path)
    for name in ("x", "y", "z"):
        flexgit.record(name=name, repo=a)
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    flexgit.tag(["x", "y"], add=["best", "baseline"], repo=a)
    flexgit.tag(["x"], add=["paper"], repo=b)            # tags added on both sides
    flexgit.tag(["y"], remove=["baseline"], repo=b)      # written after a's: the newest wins
    flexgit.note("x", "from b", repo=b)
    flexgit.rm("z", repo=b)
    assert subprocess_cli(a, "sync").code == 0 and subprocess_cli(b, "sync").code == 0
    assert subprocess_cli(a, "pull").code == 0
    for clone in (a, b):
        runs = {run.name: run for run in flexgit.list_runs(repo=clone)}
        assert sorted(runs) == ["x", "y"], clone  # z, removed on b, is hidden on a after the pull
        assert runs["x"].tags == ("baseline", "best", "paper") and runs["y"].tags == ("best",)
        assert [text for _, text in runs["x"].notes] == ["from b"]
        assert table_csv(clone, "--removed", "--columns", "name") == "name\nz\n"
    flexgit.rm("z", undo=True, repo=a)                   # undone on the other side
    assert subprocess_cli(a, "push").code == 0 and subprocess_cli(b, "pull").code == 0
    assert sorted(run.name for run in flexgit.list_runs(repo=b)) == ["x", "y", "z"]
