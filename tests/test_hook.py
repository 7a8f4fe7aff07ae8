"""The post-commit hook, with real `git commit`s: a user hook, core.hooksPath, bad results, a rebase."""

from __future__ import annotations

import stat
import subprocess
import sys

import flexgit
from flexgit.verbs.hook import log as hook_log
from conftest import flexgit as cli, git


def setup_project(repo):
    (repo / ".flexgit.toml").write_text('results = "metrics.json"\nconfig = "params.toml"\n')
    (repo / "params.toml").write_text("lr = 0.1\n")
    git(repo, "add", ".flexgit.toml", "params.toml")
    git(repo, "commit", "-q", "-m", "settings")


def commit(repo, message, metrics=None):
    if metrics is not None:
        (repo / "metrics.json").write_text(metrics)
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# change\n")
    git(repo, "add", "train.py")
    return git(repo, "commit", "-q", "-m", message, env={"GIT_AUTHOR_DATE": "", "GIT_COMMITTER_DATE": ""})


def run_names(repo):
    return [run.name for run in flexgit.list_runs(repo=repo)]


def test_install_then_commits_with_new_results_become_runs(repo):
    setup_project(repo)
    result = cli(repo, "hook", "install")
    assert result.code == 0 and result.out == f"installed {repo / '.git' / 'hooks' / 'post-commit'}\n"
    assert run_names(repo) == []
    commit(repo, "first model", '{"acc": 0.8}')
    head = git(repo, "rev-parse", "HEAD").strip()
    assert run_names(repo) == [f"commit-{head[:10]}"]
    run = flexgit.show(f"commit-{head[:10]}", repo=repo).run
    assert run.metrics == {"acc": 0.8} and run.params == {"lr": 0.1} and run.message == "first model"
    assert run.meta["source"] == head and run.meta["dirty"] is True  # metrics.json is untracked
    commit(repo, "refactor, same results")
    assert len(run_names(repo)) == 1
    commit(repo, "better model", '{"acc": 0.9}')
    assert len(run_names(repo)) == 2
    status = cli(repo, "hook", "status").out
    assert status.startswith("installed: ") and "last: " in status and "recorded commit-" in status
    assert git(repo, "status", "--porcelain") == "?? metrics.json\n"


def test_an_existing_user_hook_keeps_running_and_comes_back_exactly(repo):
    setup_project(repo)
    user_hook = repo / ".git" / "hooks" / "post-commit"
    user_hook.parent.mkdir(exist_ok=True)
    user_hook.write_text("#!/bin/sh\necho user-hook-ran >> user-hook.txt\n")
    user_hook.chmod(0o750)
    original = (user_hook.read_bytes(), stat.S_IMODE(user_hook.stat().st_mode))
    assert "your hook runs first" in cli(repo, "hook", "install").out
    commit(repo, "with both hooks", '{"acc": 0.5}')
    assert (repo / "user-hook.txt").read_text() == "user-hook-ran\n"
    assert len(run_names(repo)) == 1
    assert "chained: " in cli(repo, "hook", "status").out
    assert cli(repo, "hook", "uninstall").out.endswith("your own hook is back\n")
    assert (user_hook.read_bytes(), stat.S_IMODE(user_hook.stat().st_mode)) == original
    assert cli(repo, "hook", "status").out.startswith("not installed")


def test_core_hooks_path_is_honoured(repo):
    setup_project(repo)
    git(repo, "config", "core.hooksPath", "githooks")
    assert cli(repo, "hook", "install").code == 0
    assert (repo / "githooks" / "post-commit").exists()
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    commit(repo, "hooks elsewhere", '{"acc": 0.7}')
    assert len(run_names(repo)) == 1


def test_a_broken_results_file_warns_and_never_fails_the_commit(repo):
    setup_project(repo)
    cli(repo, "hook", "install")
    (repo / "metrics.json").write_text("{broken")
    (repo / "train.py").write_text("print('x')\n")
    git(repo, "add", "train.py")
    done = subprocess.run(["git", "commit", "-q", "-m", "broken results"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0
    warning = [line for line in done.stderr.splitlines() if line.startswith("flexgit:")]
    assert len(warning) == 1 and "warning: no run recorded for this commit: results file" in warning[0]
    assert run_names(repo) == []
    assert "error: results file" in (repo / ".git" / "flexgit.d" / "hook.log").read_text()
    assert git(repo, "log", "-1", "--format=%s") == "broken results\n"


def test_commits_made_by_a_rebase_are_not_recorded(repo):
    setup_project(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "feature work", '{"acc": 0.6}')
    git(repo, "checkout", "-q", "main")
    (repo / "other.py").write_text("x = 1\n")
    git(repo, "add", "other.py")
    git(repo, "commit", "-q", "-m", "main moves on")
    cli(repo, "hook", "install")
    (repo / "metrics.json").write_text('{"acc": 0.99}')
    git(repo, "checkout", "-q", "feature")
    git(repo, "rebase", "-q", "main", env={"GIT_AUTHOR_DATE": "", "GIT_COMMITTER_DATE": ""})
    assert run_names(repo) == []
    assert "skipped: a rebase is in progress" in (repo / ".git" / "flexgit.d" / "hook.log").read_text()


def test_without_settings_the_hook_says_why_it_skipped(repo):
    cli(repo, "hook", "install")
    commit(repo, "no settings", '{"acc": 1}')
    assert run_names(repo) == []
    assert "last: " in cli(repo, "hook", "status").out and "no results file configured" in \
        cli(repo, "hook", "status").out


def test_install_without_results_says_nothing_will_be_recorded(repo):
    result = cli(repo, "hook", "install")
    assert result.code == 0 and result.out == f"installed {repo / '.git' / 'hooks' / 'post-commit'}\n"
    assert result.err == ("warning: no results file is configured, so nothing will be recorded until you set "
                          'results in .flexgit.toml, e.g. results = ["metrics.json"]\n')
    assert "results: none configured, nothing will be recorded" in cli(repo, "hook", "status").out
    setup_project(repo)
    assert cli(repo, "hook", "install").err == ""
    assert "results: metrics.json\n" in cli(repo, "hook", "status").out


def test_status_is_whole_lines_ending_with_a_newline(repo):
    def status_bytes():
        return subprocess.run([sys.executable, "-m", "flexgit", "hook", "status"], cwd=repo, capture_output=True,
                              check=True).stdout

    assert status_bytes().endswith(b"\nlast: nothing yet\n")
    cli(repo, "hook", "install")
    commit(repo, "no settings", '{"acc": 1}')
    assert status_bytes().endswith(b"no results file configured (results = [...] in .flexgit.toml)\n")
    hook_log(repo, "error: git fetch: fatal: first line\r\nsecond line\n")  # a multi-line error from git
    out = status_bytes()
    assert out.endswith(b"Z error: git fetch: fatal: first line second line\n") and b"\r" not in out
    assert out.count(b"\n") == 3 and out.startswith(b"installed: ")


def test_a_commit_after_a_branch_switch_compares_with_its_own_history(repo):
    setup_project(repo)
    cli(repo, "hook", "install")

    def head():
        return git(repo, "rev-parse", "HEAD").strip()[:10]

    commit(repo, "main: baseline", '{"acc": 0.8}')
    a = head()
    git(repo, "switch", "-q", "-c", "feat")
    commit(repo, "feat: wider", '{"acc": 0.9}')
    b = head()
    assert run_names(repo) == [f"commit-{a}", f"commit-{b}"]
    git(repo, "switch", "-q", "main")
    commit(repo, "main: docs only, retrained", '{"acc": 0.8}')  # same as main's own last run
    assert run_names(repo) == [f"commit-{a}", f"commit-{b}"]
    log = (repo / ".git" / "flexgit.d" / "hook.log").read_text().splitlines()
    assert log[-1].endswith(f"skipped: results unchanged since commit-{a} (commit {a})")
    commit(repo, "main: better", '{"acc": 0.95}')
    d = head()
    assert run_names(repo)[-1] == f"commit-{d}"
    git(repo, "switch", "-q", "feat")
    commit(repo, "feat: again", '{"acc": 0.9}')  # what feat's own run has: no copy
    assert len(run_names(repo)) == 3
    git(repo, "switch", "-q", "main")
    (repo / "metrics.json").write_text('{"acc": 0.7}')
    assert cli(repo, "record", "--name", "by-hand").code == 0  # a run for commit d, found by its source
    commit(repo, "main: same as by hand")
    assert run_names(repo) == [f"commit-{a}", f"commit-{b}", f"commit-{d}", "by-hand"]


BY_SCRIPT = "decided by the hook script"


def last_log_line(repo):
    return (repo / ".git" / "flexgit.d" / "hook.log").read_text().splitlines()[-1]


def test_commits_that_left_the_results_alone_are_decided_without_python(repo):
    setup_project(repo)
    assert cli(repo, "hook", "install").code == 0
    commit(repo, "first model", '{"acc": 0.8}')  # Python records, and keeps what it decided on
    assert last_log_line(repo).split(" ", 1)[1].startswith("recorded commit-")
    state = (repo / ".git" / "flexgit.d" / "hook-state").read_text()
    assert state.splitlines()[0] == git(repo, "rev-parse", "HEAD").strip()
    for i in range(3):
        commit(repo, f"refactor {i}")
        assert BY_SCRIPT in last_log_line(repo)
    assert len(run_names(repo)) == 1
    commit(repo, "better model", '{"acc": 0.9}')  # the results changed: Python records
    assert len(run_names(repo)) == 2 and last_log_line(repo).split(" ", 1)[1].startswith("recorded commit-")
    commit(repo, "refactor after")
    assert BY_SCRIPT in last_log_line(repo) and len(run_names(repo)) == 2
    # Same bytes, same size: a value changed back and forth still differs from the last run's.
    (repo / "metrics.json").write_text('{"acc": 0.8}')
    commit(repo, "back to the first results")
    assert len(run_names(repo)) == 3


def test_the_script_hands_over_to_python_when_settings_runs_or_history_changed(repo):
    setup_project(repo)
    assert cli(repo, "hook", "install").code == 0
    commit(repo, "first model", '{"acc": 0.8}')
    commit(repo, "same results")
    commit(repo, "decided by the script")
    assert BY_SCRIPT in last_log_line(repo)
    (repo / "other.json").write_text('{"acc": 0.5}')
    (repo / ".flexgit.toml").write_text('results = "other.json"\nconfig = "params.toml"\n')  # untracked change
    commit(repo, "new results file")
    assert len(run_names(repo)) == 2  # other.json's values differ from the last run's
    commit(repo, "same")
    assert cli(repo, "record", "-m", "acc=0.1").code == 0  # a run for this commit with other values
    commit(repo, "after a manual record")
    assert BY_SCRIPT not in last_log_line(repo) and len(run_names(repo)) == 4
    commit(repo, "same again")
    git(repo, "commit", "-q", "--amend", "-m", "amended")  # its parent is not the commit decided on
    assert BY_SCRIPT not in last_log_line(repo)
    commit(repo, "decided by the script again")
    assert BY_SCRIPT in last_log_line(repo)
    (repo / "other.json").unlink()
    commit(repo, "no results at all")
    assert BY_SCRIPT not in last_log_line(repo) and "no results file" in last_log_line(repo)


def test_a_first_commit_and_a_missing_state_fall_back_to_python(repo):
    setup_project(repo)
    assert cli(repo, "hook", "install").code == 0
    for message in ("first model", "same", "same again"):
        commit(repo, message, '{"acc": 0.8}')
    assert BY_SCRIPT in last_log_line(repo)
    (repo / ".git" / "flexgit.d" / "hook-state").write_text("torn")
    commit(repo, "after a torn state")
    assert BY_SCRIPT not in last_log_line(repo) and "results unchanged since commit-" in last_log_line(repo)
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "commit", "-q", "-m", "a first commit")
    assert BY_SCRIPT not in last_log_line(repo)


def test_no_state_is_kept_when_a_file_or_the_runs_moved_while_python_decided(repo):
    from flexgit.storage.gitrepo import GitRepo
    from flexgit.storage.refs import BranchRef
    from flexgit.verbs.hook import _Fingerprint

    setup_project(repo)
    (repo / "metrics.json").write_text('{"acc": 0.8}')
    state = repo / ".git" / "flexgit.d" / "hook-state"
    state.parent.mkdir(exist_ok=True)
    branch, head = BranchRef("experiments"), git(repo, "rev-parse", "HEAD").strip()

    def decided(change=None) -> bool:
        state.unlink(missing_ok=True)
        seen = _Fingerprint(GitRepo.open(repo))
        seen.results(head, branch, ["metrics.json"])
        if change:
            change()
        seen.keep(state, branch, ["metrics.json"])
        return state.exists()

    assert decided()  # nothing moved: kept, as the script prints it (no runs yet: an empty line)
    lines = state.read_text().split("\n")
    assert lines[0] == head and lines[1] == "" and lines[2:4] == ["missing pyproject.toml",
                                                                  git(repo, "hash-object", ".flexgit.toml").strip()]
    assert not decided(lambda: (repo / "metrics.json").write_text('{"acc": 0.9}'))
    assert not decided(lambda: (repo / ".flexgit.toml").write_text('results = "metrics.json"\n'))
    assert not decided(lambda: (repo / "pyproject.toml").write_text("[project]\n"))
    assert not decided(lambda: cli(repo, "record", "-m", "acc=0.1"))  # another writer moved the runs


def test_installing_again_brings_an_older_script_up_to_date(repo):
    setup_project(repo)
    hook = repo / ".git" / "hooks" / "post-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n# flexgit post-commit hook: an older version\nexit 0\n")
    hook.chmod(0o755)
    assert cli(repo, "hook", "install").code == 0
    assert "hook-state" in hook.read_text() and not (hook.parent / "post-commit.flexgit-chained").exists()
    commit(repo, "first model", '{"acc": 0.8}')
    assert len(run_names(repo)) == 1
