"""`flexgit run`: one command or a grid, in temporary checkouts; failures and Ctrl-C recorded too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

import flexgit
from conftest import flexgit as cli, git, repo_state

TRAIN = """\
import json, sys, time
import tomllib
p = tomllib.load(open("params.toml", "rb"))
n = int(open("data/n.txt").read())
print("training", p["lr"], p["depth"], n, flush=True)
time.sleep(p.get("sleep", 0))
if p["lr"] > 1:
    sys.exit(3)
json.dump({"acc": round(1 - p["lr"] / 10 + p["depth"] / 100 + n, 4)}, open("metrics.json", "w"))
"""


def project(repo, sleep=0):
    (repo / "data").mkdir()
    (repo / "data" / "n.txt").write_text("5\n")
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.toml").write_text(f"lr = 0.1\ndepth = 3\nsleep = {sleep}\n")
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project")
    return repo


def temp_env(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    return {"TMPDIR": str(temp)}, temp


def test_a_single_run_streams_its_output_and_records_everything(repo, tmp_path):
    project(repo)
    env, temp = temp_env(tmp_path)
    before = repo_state(repo)
    result = cli(repo, "run", "--name", "one", "--", sys.executable, "train.py", env=env)
    assert result.code == 0, result
    assert result.out == "training 0.1 3 5\n"
    assert result.err.startswith("recorded one (")
    run = flexgit.show("one", repo=repo).run
    assert run.status == "ok" and run.params == {"lr": 0.1, "depth": 3, "sleep": 0} and run.metrics == {"acc": 6.02}
    assert run.meta["exit_code"] == 0 and run.meta["duration_s"] >= 0 and "train.py" in run.meta["run_command"]
    assert git(repo, "show", "exp/one:.flexgit/output.log") == "training 0.1 3 5\n"
    assert "metrics.json" not in git(repo, "ls-tree", "--name-only", "exp/one")
    after = repo_state(repo)
    assert after["index"] == before["index"] and after["status"] == before["status"]
    assert list(temp.iterdir()) == []


def test_a_grid_runs_in_parallel_and_failures_are_recorded(repo, tmp_path):
    project(repo)
    env, temp = temp_env(tmp_path)
    result = cli(repo, "run", "-S", "lr=0.1,5", "-S", "depth=3,4", "-j", "2", "--", sys.executable, "train.py",
                 env=env)
    assert result.code == 1, result
    runs = flexgit.list_runs(repo=repo)
    assert sorted((r.params["lr"], r.params["depth"], r.status) for r in runs) == [
        (0.1, 3, "ok"), (0.1, 4, "ok"), (5, 3, "failed"), (5, 4, "failed")]
    assert all(r.meta["exit_code"] == 3 for r in runs if r.status == "failed")
    assert (repo / "params.toml").read_text() == "lr = 0.1\ndepth = 3\nsleep = 0\n"
    table = cli(repo, "table", "--format", "csv", "--columns", "status,lr,depth,acc", "--sort-by", "acc").out
    assert table.splitlines()[:3] == ["status,params.lr,params.depth,metrics.acc", "ok,0.1,3,6.02", "ok,0.1,4,6.03"]
    group = runs[0].group
    assert re.fullmatch(r"g-[0-9a-f]{6}", group) and {r.group for r in runs} == {group}
    assert sorted(r.name for r in runs) == [f"{group}-lr0.1-depth3", f"{group}-lr0.1-depth4", f"{group}-lr5-depth3",
                                            f"{group}-lr5-depth4"]  # the group and the overrides that vary
    assert f"[{group}-lr5-depth3] training 5 3 5" in result.out
    assert result.err.endswith(f"group {group}: summed up by 'flexgit table --group-by group'\n")
    assert list(temp.iterdir()) == []


def test_an_ignored_results_file_of_the_working_tree_is_not_linked_and_so_never_written(repo, tmp_path):
    """The temporary checkout links the ignored data/, not the ignored metrics.json: the command's
    results go to its own file, not through a link into (and across a grid, over) the user's."""
    project(repo)
    (repo / ".gitignore").write_text("*.log\ndata/\nmetrics.json\n")
    git(repo, "commit", "-qam", "ignore the results")
    (repo / "metrics.json").write_text('{"acc": -1}\n')
    env, _ = temp_env(tmp_path)
    result = cli(repo, "run", "-S", "lr=0.1,0.2", "-j", "2", "--", sys.executable, "train.py", env=env)
    assert result.code == 0, result
    assert (repo / "metrics.json").read_text() == '{"acc": -1}\n'
    assert sorted(r.metrics["acc"] for r in flexgit.list_runs(repo=repo)) == [6.01, 6.02]
    target = tmp_path / "wt"
    assert cli(repo, "checkout", flexgit.list_runs(repo=repo)[0].name,
               "--worktree", str(target)).out.endswith(
        "; from your working tree (folders linked, files copied): data\n")
    assert not (target / "metrics.json").exists()


@pytest.mark.slow
def test_a_sweep_of_24_with_4_workers_leaves_nothing_behind(repo, tmp_path):
    project(repo)
    env, temp = temp_env(tmp_path)
    result = cli(repo, "run", "--name", "grid", "-S", "lr=0.1,0.2,0.3,0.4,0.5,0.6", "-S", "depth=1,2,3,4", "-j", "4",
                 "--", sys.executable, "train.py", env=env)
    assert result.code == 0, result
    runs = flexgit.list_runs(repo=repo)
    assert sorted(r.name for r in runs) == sorted(f"grid-{i}" for i in range(1, 25))
    assert len({(r.params["lr"], r.params["depth"]) for r in runs}) == 24
    assert list(temp.iterdir()) == []
    assert not list((repo / ".git").rglob("*.lock"))
    refs = git(repo, "for-each-ref", "--format=%(refname)").split()
    assert sorted(refs) == sorted(["refs/heads/main", "refs/heads/experiments", "refs/notes/flexgit"]
                                  + [f"refs/exp/grid-{i}" for i in range(1, 25)])
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


@pytest.mark.slow
def test_ctrl_c_records_what_finished_and_marks_the_rest_interrupted(repo, tmp_path):
    project(repo, sleep=1.5)
    env, temp = temp_env(tmp_path)
    (repo / "params.toml").write_text("lr = 0.1\ndepth = 3\nsleep = 0.2\n")
    git(repo, "commit", "-q", "-am", "fast by default")
    proc = subprocess.Popen([sys.executable, "-m", "flexgit", "run", "-S", "sleep=0.2,0.2,30,30,30,30", "-j", "2",
                             "--", sys.executable, "train.py"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
                            # As in a terminal: a test runner started in the background may
                            # ignore SIGINT, and children would inherit that.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and len(flexgit.list_runs(repo=repo)) < 2:
        time.sleep(0.2)
    time.sleep(1.0)  # the long runs are now running
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    statuses = sorted(r.status for r in flexgit.list_runs(repo=repo))
    assert statuses == ["interrupted", "interrupted", "ok", "ok"], err
    assert "interrupted: finished runs are recorded" in err
    progress = [line for line in err.splitlines() if line.startswith("flexgit: ")]
    assert progress[-1] == "flexgit: 4/6 done, 0 running, 0 failed, 2 interrupted", err  # not counted as failed
    assert list(temp.iterdir()) == []
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""
    assert cli(repo, "record", "--name", "after").code == 0


def test_files_left_out_of_the_snapshot_are_there_for_the_command(repo, tmp_path):
    project(repo)
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\nexclude = ["*.ckpt"]\n'
                                        'max_file_size = "1MB"\n')
    (repo / "pretrained.ckpt").write_bytes(b"\x07" * 3000)                     # excluded by name
    (repo / "weights").mkdir()
    (repo / "weights" / "embeddings.bin").write_bytes(b"\x08" * (2 * 1024 ** 2))  # over max_file_size
    (repo / "train.py").write_text(
        TRAIN + "import json\nckpt = open('pretrained.ckpt', 'rb').read()\n"
        "emb = open('weights/embeddings.bin', 'rb').read()\n"
        "json.dump({'ckpt': len(ckpt), 'emb': len(emb), 'byte': ckpt[0]}, open('metrics.json', 'w'))\n"
        "open('new.ckpt', 'w').write('made by the run')\n")  # tracked train.py changed: in the snapshot
    env, temp = temp_env(tmp_path)
    result = cli(repo, "run", "--name", "sees", "--", sys.executable, "train.py", env=env)
    assert result.code == 0, result
    assert flexgit.show("sees", repo=repo).run.metrics == {"ckpt": 3000, "emb": 2 * 1024 ** 2, "byte": 7}
    paths = git(repo, "ls-tree", "-r", "--name-only", "exp/sees").split()
    assert "train.py" in paths and "pretrained.ckpt" not in paths and "weights/embeddings.bin" not in paths
    assert not (repo / "new.ckpt").exists() and not (repo / "metrics.json").exists()  # the user's tree untouched
    assert (repo / "pretrained.ckpt").read_bytes() == b"\x07" * 3000
    assert list(temp.iterdir()) == []


def test_bad_run_requests_write_nothing(repo):
    project(repo)
    before = repo_state(repo)
    result = cli(repo, "run", "-S", "lrr=1", "--", sys.executable, "train.py")
    assert result.code == 1 and result.err.startswith("Error: -S lrr: there is no key 'lrr' in params.toml")
    assert cli(repo, "run", "-S", "lr", "--", "true").err.startswith("Error: -S 'lr' has no value")
    assert cli(repo, "run").code == 2
    (repo / ".flexgit.toml").write_text('results = "metrics.json"\n')
    assert "none is set" in cli(repo, "run", "-S", "lr=1", "--", "true").err
    assert repo_state(repo)["refs"] == before["refs"]


LOOP = "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\nwhile True:\n    time.sleep(0.1)\n"


def alive(pid):
    """True while process `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def gone(pid, seconds=20):
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def start_long_run(repo, tmp_path, env):
    """`python -m flexgit run` of a command that loops forever; returns flexgit's process and the command's pid."""
    pid_file = tmp_path / "child.pid"
    proc = subprocess.Popen([sys.executable, "-m", "flexgit", "run", "--name", "long", "--", sys.executable, "-c",
                             LOOP, str(pid_file)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env},
                            # as in a terminal, whatever the test runner ignores
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL)
                                                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, int(pid_file.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_command_and_clean_up_as_ctrl_c_does(repo, tmp_path, number):
    env, temp = temp_env(tmp_path)
    proc, child = start_long_run(repo, tmp_path, env)
    assert [p.name.startswith(f"flexgit-run-{proc.pid}-") for p in temp.iterdir()] == [True]
    proc.send_signal(number)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + number, err
    assert gone(child)
    assert "interrupted: finished runs are recorded" in err
    assert [(r.name, r.status) for r in flexgit.list_runs(repo=repo)] == [("long", "interrupted")]
    assert list(temp.iterdir()) == []


@pytest.mark.slow
def test_after_a_sigkill_the_command_stops_and_the_next_run_removes_the_checkout(repo, tmp_path):
    env, temp = temp_env(tmp_path)
    proc, child = start_long_run(repo, tmp_path, env)
    proc.kill()
    proc.communicate(timeout=60)
    assert gone(child)
    left = [p.name for p in temp.iterdir()]
    assert len(left) == 1 and left[0].startswith(f"flexgit-run-{proc.pid}-")  # no handler sees SIGKILL
    (temp / f"flexgit-run-{os.getpid()}-live").mkdir()  # a live process's checkout
    (temp / "flexgit-run-notapid").mkdir()              # not named by a flexgit that says its owner
    result = cli(repo, "run", "--name", "next", "--", sys.executable, "-c", "pass", env=env)
    assert result.code == 0, result
    assert sorted(p.name for p in temp.iterdir()) == sorted([f"flexgit-run-{os.getpid()}-live", "flexgit-run-notapid"])


def test_the_watchdog_stops_the_groups_left_when_its_input_ends():
    from flexgit.project import watchdog

    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN)\nprint(flush=True)\ntime.sleep(60)"], start_new_session=True,
                                stdout=subprocess.PIPE)
    stubborn.stdout.readline()  # SIGTERM is ignored from here on: SIGKILL must follow
    ended = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    ended.wait()
    assert watchdog.watch([f"+{stubborn.pid}\n", f"+{ended.pid}\n", f"-{ended.pid}\n", "noise\n"]) == {stubborn.pid}
    started = time.monotonic()
    watchdog.stop({stubborn.pid}, grace=0.5)
    assert stubborn.wait(timeout=10) == -signal.SIGKILL and time.monotonic() - started < 10
