"""Live runs: `flexgit table --running` shows runs not recorded yet; a dead process's run is `lost`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli, git
from flexgit.project import live

# Logs a step every 0.1 s until the file named by argv[1] exists (at most a minute).
LOGGING = """
import os, sys, time
sys.path.insert(0, {root!r})
import flexgit
step, deadline = 0, time.time() + 60
while not os.path.exists(sys.argv[1]) and time.time() < deadline:
    step += 1
    flexgit.log(step=step, loss=1 / step)
    time.sleep(0.1)
print("stopped" if time.time() < deadline else "never stopped")
""".format(root=str(Path(__file__).resolve().parent.parent))


def running(repo: Path, *args: str) -> list[dict[str, str]]:
    """`flexgit table --running` as CSV rows."""
    result = cli(repo, "table", "--running", "--format", "csv", *args)
    assert result.code == 0, result
    lines = result.out.splitlines()
    return [dict(zip(lines[0].split(","), line.split(","), strict=True)) for line in lines[1:]] if lines else []


def wait_for(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_running_flexgit_run_shows_with_its_latest_metrics_and_goes_when_recorded(repo, tmp_path):
    (repo / "params.toml").write_text("lr = 0.1\n")
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nsystem_metrics = 0.5\n')
    (repo / "train.py").write_text(LOGGING)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-m", "flexgit", "run", "--name", "live-{lr}", "-S", "lr=0.3", "--",
                             sys.executable, "train.py", str(stop)], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        rows = wait_for(lambda: [row for row in running(repo)
                                 if row.get("metrics.loss") and row.get("metrics.sys.rss")])
        assert [(row["name"], row["status"], row["params.lr"]) for row in rows] == [("live-0.3", "running", "0.3")]
        assert float(rows[0]["metrics.loss"]) < 1 and float(rows[0]["metrics.sys.rss"]) > 0
        assert "train.py" in rows[0]["message"] and rows[0]["group"].startswith("g-")
        assert flexgit.table(running=True, repo=repo)["status"].tolist() == ["running"]
        assert cli(repo, "table").code == 0 and "live-0.3" not in cli(repo, "table").out  # not recorded yet
    finally:
        stop.write_text("")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out == "stopped\n", err
    assert running(repo) == []
    assert "no runs running here" in cli(repo, "table", "--running").err
    assert flexgit.show("live-0.3", repo=repo).run.metrics["loss"] < 1


def start_script(repo: Path, stop: Path) -> subprocess.Popen:
    (repo / "train.py").write_text(LOGGING)
    return subprocess.Popen([sys.executable, "train.py", str(stop)], cwd=repo, stdout=subprocess.PIPE, text=True)


def test_a_script_is_live_from_its_first_log_a_sigkill_makes_it_lost_and_a_record_settles_it(repo, tmp_path):
    script = start_script(repo, tmp_path / "never")
    rows = wait_for(lambda: running(repo))
    assert [(row["name"], row["status"]) for row in rows] == [(f"pid-{script.pid}", "running")]
    assert rows[0]["message"] == f"train.py {tmp_path / 'never'}"
    script.send_signal(signal.SIGKILL)  # no handler, no atexit: only the pid says it is gone
    wait_for(lambda: [row for row in running(repo) if row["status"] == "lost"])
    script.wait(timeout=60)  # reaped: the pid may be reused now, and the run is still lost
    assert [row["status"] for row in running(repo)] == ["lost"]
    assert cli(repo, "record", "--name", "after-crash").code == 0  # takes the lost process's steps
    assert running(repo) == []
    assert flexgit.show("after-crash", repo=repo).run.meta["history_steps"] > 0


def test_a_script_that_ends_without_a_record_is_ended_until_recorded(repo, tmp_path):
    stop = tmp_path / "stop"
    script = start_script(repo, stop)
    wait_for(lambda: running(repo))
    stop.write_text("")
    assert script.communicate(timeout=60)[0] == "stopped\n"
    assert [row["status"] for row in running(repo)] == ["ended"]
    assert cli(repo, "record").code == 0
    assert running(repo) == []


def test_a_script_that_records_itself_leaves_no_live_run(repo):
    code = ("import flexgit\nfor run in range(2):\n    for step in range(3):\n"
            "        flexgit.log(step=step, acc=step)\n    flexgit.record(name=f'own{run}')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert running(repo) == []
    assert [run.meta["history_steps"] for run in flexgit.list_runs(repo=repo)] == [3, 3]


def state_dir(repo: Path) -> Path:
    path = repo / ".git" / "flexgit.d" / live.RUNNING_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_states_that_cannot_be_trusted_are_skipped_or_judged_by_what_can_be_checked(repo):
    folder = state_dir(repo)
    week_ago = "2020-01-01T00:00:00.000000Z"
    now = live.now_text()
    hours_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - 2 * 3600))
    states = {
        "garbage": b"{not json",
        "list": b"[1, 2]",
        "no-pid": json.dumps({"v": 1, "name": "x"}).encode(),
        "bool-pid": json.dumps({"v": 1, "pid": True}).encode(),
        "newer": json.dumps({"v": 2, "pid": os.getpid()}).encode(),
        "odd-name": json.dumps({"v": 1, "pid": os.getpid(), "name": ["a"]}).encode(),
        # this test's own process, but started at another time: a reused pid
        "reused": json.dumps({"v": 1, "pid": os.getpid(), "pid_start": "boot+1", "name": "reused",
                              "host": live.HOST, "started": now, "updated": now}).encode(),
        "mine": json.dumps({"v": 1, "pid": os.getpid(), "pid_start": live.process_start(os.getpid()), "name": "mine",
                            "host": live.HOST, "started": now, "updated": now,
                            "metrics": {"acc": 0.5, "bad": {"nested": 1}, "": 3}}).encode(),
        "elsewhere": json.dumps({"v": 1, "pid": 1, "name": "elsewhere", "host": "another-machine",
                                 "started": now, "updated": now}).encode(),
        "elsewhere-old": json.dumps({"v": 1, "pid": 1, "name": "elsewhere-old", "host": "another-machine",
                                     "started": hours_ago, "updated": hours_ago}).encode(),
        "forgotten": json.dumps({"v": 1, "pid": 2 ** 22 + 1, "name": "forgotten", "host": live.HOST,
                                 "started": week_ago, "updated": week_ago}).encode(),
        "deep": b'{"v": 1, "pid": 1, "metrics": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }
    for name, data in states.items():
        (folder / f"{name}.json").write_bytes(data)
    rows = flexgit.table(running=True, repo=repo, columns="name,status,metrics.acc")
    found = {row["name"]: row["status"] for row in rows.to_dict("records")}
    assert found == {"reused": "lost", "mine": "running", "elsewhere": "running", "elsewhere-old": "lost"}
    assert rows.set_index("name").loc["mine", "metrics.acc"] == 0.5
    assert not (folder / "forgotten.json").exists() and (folder / "garbage.json").exists()


def test_running_goes_with_neither_removed_nor_remote(repo):
    for extra in ("--removed", "--remote=origin"):
        result = cli(repo, "table", "--running", extra)
        assert result.code == 1 and result.err.startswith("Error: --running lists the runs of this machine")


@pytest.mark.slow
def test_a_killed_flexgit_run_leaves_a_lost_run(repo, tmp_path):
    (repo / "train.py").write_text(LOGGING)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "train")
    proc = subprocess.Popen([sys.executable, "-m", "flexgit", "run", "--name", "doomed", "--", sys.executable,
                             "train.py", str(tmp_path / "never")], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: running(repo))
    proc.kill()
    proc.wait(timeout=60)
    assert wait_for(lambda: [row["status"] for row in running(repo) if row["status"] == "lost"]) == ["lost"]
    assert running(repo)[0]["name"] == "doomed"


def test_a_live_state_prints_no_terminal_escapes(repo):
    """Any process of the machine writes these files (a script's command line is in them): the table
    shows their text with its control characters escaped, never sent to the terminal."""
    now = live.now_text()
    escape = "\x1b]0;owned\x07\x1b[2J"
    state = {"v": 1, "pid": os.getpid(), "pid_start": live.process_start(os.getpid()), "host": live.HOST,
             "name": "evil" + escape, "command": "train.py " + escape, "group": escape, "started": now,
             "updated": now, "metrics": {"loss" + escape: 0.5}, "params": {"lr": escape}}
    (state_dir(repo) / "evil.json").write_text(json.dumps(state))
    for fmt in ("table", "csv", "json"):
        shown = cli(repo, "table", "--running", "--format", fmt)
        assert shown.code == 0, shown
        assert "evil" in shown.out and "\x1b" not in shown.out and "\x07" not in shown.out, shown.out
