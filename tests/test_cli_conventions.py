"""What people expect from a CLI: shell completion, --color and NO_COLOR, --quiet."""

from __future__ import annotations

import sys

import pytest

from conftest import flexgit as cli, flexgit_in_process as run_cli, shared_clones, on_a_terminal
from test_cli_run import project

ANSI = "\x1b["


@pytest.mark.parametrize("shell, line", [
    ("bash", "complete -o nosort -F _flexgit_completion flexgit"),
    ("zsh", "#compdef flexgit"),
    ("fish", "complete --no-files --command flexgit"),
])
def test_completion_prints_each_shells_script(tmp_path, shell, line):
    result = run_cli(tmp_path, "completion", shell)
    assert result.code == 0 and line in result.out and "_FLEXGIT_COMPLETE" in result.out, result


def test_completion_refuses_other_shells(tmp_path):
    result = run_cli(tmp_path, "completion", "tcsh")
    assert result.code == 2 and "'tcsh' is not one of" in result.err


def test_bash_completion_completes_command_names(tmp_path):
    """What the bash script asks the program when the user presses Tab after `flexgit re`."""
    env = {"_FLEXGIT_COMPLETE": "bash_complete", "COMP_WORDS": "flexgit re", "COMP_CWORD": "1"}
    result = cli(tmp_path, env=env)
    assert result.code == 0 and result.out.splitlines() == ["plain,record", "plain,rename", "plain,report"], result
    env.update(COMP_WORDS="flexgit checkout --w", COMP_CWORD="2")
    assert cli(tmp_path, env=env).out.splitlines() == ["plain,--worktree"]


def test_color_always_colours_the_error_prefix_and_never_does_not(repo):
    coloured = run_cli(repo, "--color=always", "show", "nope")
    assert coloured.code == 1 and coloured.err.startswith(ANSI) and "Error:" in coloured.err, coloured
    plain = run_cli(repo, "--color=never", "show", "nope")
    assert plain.code == 1 and plain.err.startswith("Error: ") and ANSI not in plain.err


def test_warnings_are_coloured_too(repo):
    result = run_cli(repo, "--color=always", "hook", "install")
    assert result.code == 0 and f"{ANSI}" in result.err and "warning:" in result.err, result
    again = run_cli(repo, "--color=never", "hook", "install")
    assert again.code == 0 and "warning:" in again.err and ANSI not in again.err, again


def test_auto_colours_a_terminal_unless_no_color_is_set(repo):
    assert on_a_terminal(repo, "show", "nope", stream="stderr", code=1).startswith(ANSI)
    env = {"NO_COLOR": "1"}
    assert on_a_terminal(repo, "show", "nope", env=env, stream="stderr", code=1).startswith("Error: ")
    assert on_a_terminal(repo, "--color=always", "show", "nope", env=env, stream="stderr", code=1).startswith(ANSI)
    assert ANSI not in on_a_terminal(repo, "--color=never", "show", "nope", stream="stderr", code=1)


def test_quiet_import_prints_nothing_but_imports(repo):
    (repo / "old.csv").write_text("name,acc\na,0.5\na,0.6\n")  # a name twice: a note
    loud = run_cli(repo, "import", "old.csv")
    assert loud.code == 0 and "imported 2 runs" in loud.out and "note:" in loud.out, loud
    quiet = run_cli(repo, "import", "-q", "old.csv", "--again")
    assert quiet.code == 0 and quiet.out == "" and quiet.err == "", quiet
    assert len(run_cli(repo, "table", "--format", "csv").out.splitlines()) == 5


def test_quiet_run_keeps_only_what_did_not_end_well(repo):
    project(repo)
    result = cli(repo, "run", "-q", "-S", "lr=0.1,5", "--", sys.executable, "train.py")
    assert result.code == 1, result
    assert "-lr0.1] training" in result.out  # the command's own output (labelled by run name), not flexgit's chatter
    assert result.err.splitlines() == [line for line in result.err.splitlines() if "failed, exit 3" in line]
    assert len(result.err.splitlines()) == 1
    loud = cli(repo, "run", "-S", "lr=0.2,0.3", "--", sys.executable, "train.py")
    assert "done, 0 running" in loud.err and loud.err.count("recorded ") == 2


def test_quiet_pull_push_and_sync(tmp_path):
    _, (mine, theirs) = shared_clones(tmp_path)
    assert run_cli(mine, "record", "-n", "r1", "-m", "acc=1").code == 0
    assert run_cli(mine, "push", "-q").out == ""
    pulled = run_cli(theirs, "pull", "-q")
    assert pulled.code == 0 and pulled.out == "" and pulled.err == "", pulled
    assert "r1" in run_cli(theirs, "table").out
    assert run_cli(theirs, "sync", "-q").out == ""
    assert "pulled from origin: 0 new runs" in run_cli(theirs, "sync").out

