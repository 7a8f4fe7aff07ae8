"""`flexgit ui`: a real server process, asked over real sockets; started and stopped by its pid.
(In a browser: test_browser.py.)"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import flexgit as cli, git, make_repo, repo_state

STARTUP_S = 60  # generous: a shared machine may be slow to start Python; no test measures speed


class Server:
    def __init__(self, process: subprocess.Popen, url: str):
        self.process, self.url = process, url
        self.port = int(url.rsplit(":", 1)[1].strip("/"))

    def get(self, path: str, method: str = "GET", host: str | None = None) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=STARTUP_S)
        headers = {"Host": host} if host is not None else {}
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        return answer.status, dict(answer.getheaders()), body

    def json(self, path: str) -> dict:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)


@contextlib.contextmanager
def serving(repo: Path, *args: str) -> Iterator[Server]:
    """`flexgit ui --port 0 ARGS` in `repo`, until the block ends; then Ctrl-C (SIGINT) to its pid."""
    process = subprocess.Popen([sys.executable, "-m", "flexgit", "ui", "--port", "0", *args], cwd=repo,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _first_line(process)
        assert line.startswith("flexgit ui: serving http://"), line + process.stderr.read()
        yield Server(process, line.split()[3])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STARTUP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _first_line(process: subprocess.Popen) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=STARTUP_S):
            process.kill()
            raise AssertionError("flexgit ui printed nothing")
    return process.stdout.readline()


@pytest.fixture
def project(tmp_path) -> Path:
    repo = make_repo(tmp_path / "project")
    for lr in ("0.1", "0.3"):
        assert cli(repo, "record", "--name", f"lr{lr}", "-p", f"lr={lr}", "-m", "acc=0.5").code == 0
    return repo


def test_it_serves_the_page_and_the_runs(project):
    with serving(project) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = server.get("/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'data-live="1">null</script>' in body and b"connect-src 'self'" in body
        document = server.json("/data.json")
        assert [row[document["columns"].index("name")] for row in document["rows"]] == ["lr0.1", "lr0.3"]
        assert server.json("/tips.json")["tips"] == document["tips"]
        status, headers, body = server.get("/data.json", method="HEAD")
        assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_a_new_run_changes_the_tips_and_the_data(project):
    with serving(project) as server:
        before = server.json("/tips.json")["tips"]
        assert cli(project, "record", "--name", "later", "-m", "acc=0.9").code == 0
        after = server.json("/tips.json")["tips"]
        assert after != before
        document = server.json("/data.json")
        assert document["tips"] == after and len(document["rows"]) == 3


def test_it_is_read_only_and_answers_only_to_this_machine(project):
    git(project, "status")
    before = repo_state(project)
    with serving(project) as server:
        for method in ("POST", "PUT", "DELETE"):
            assert server.get("/data.json", method=method)[0] == 501
        assert server.get("/../.git/config")[0] == 404
        assert server.get("/.git/config")[0] == 404
        status, _, body = server.get("/data.json", host="attacker.example:80")  # a name pointed at 127.0.0.1
        assert status == 403 and b"rows" not in body
        assert server.get("/tips.json", host="localhost")[0] == 200
    assert repo_state(project) == before


def test_ctrl_c_and_sigterm_stop_it_cleanly(project):
    for stop in (signal.SIGINT, signal.SIGTERM):
        with serving(project) as server:
            server.process.send_signal(stop)
            out, err = server.process.communicate(timeout=STARTUP_S)
            assert server.process.returncode == 0, err
            assert out == "flexgit ui: stopped\n" and err == ""
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_a_port_in_use_is_one_error_line(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(project, "ui", "--port", str(port))
    assert done.code == 1 and done.out == ""
    assert done.err == f"Error: port {port} is in use on 127.0.0.1; pick another with --port (0 picks a free one)\n"


def test_another_host_is_served_with_a_warning(project):
    with serving(project, "--host", "0.0.0.0") as server:
        assert server.url.startswith("http://0.0.0.0:")
        assert server.get("/tips.json", host="192.0.2.1")[0] == 200  # not loopback: any name
        server.process.send_signal(signal.SIGINT)
        _, err = server.process.communicate(timeout=STARTUP_S)
    assert err == ("warning: serving on 0.0.0.0: anyone who can reach this machine there can read every run, "
                   "code included\n")


def test_outside_a_repository_it_does_not_start(tmp_path):
    done = cli(tmp_path, "ui", "--port", "0")
    assert done.code == 1 and len(done.err.splitlines()) == 1 and done.err.startswith("Error: ")



def _history(steps: range, proc: str = "1@x") -> bytes:
    return "".join(json.dumps({"step": i, "t": f"2026-01-01T00:00:{i % 60:02d}.000000Z",
                               "metrics": {"loss": 1 / (i + 1)}, "proc": proc}) + "\n" for i in steps).encode()


def _run_state(checkout: Path, **changes) -> dict:
    from flexgit.project import live

    return {"v": 1, "kind": "run", "name": "training", "pid": os.getpid(), "pid_start": live.process_start(os.getpid()),
            "host": live.HOST, "started": live.now_text(), "command": "python train.py", "step": 2,
            "metrics": {"loss": 0.33}, "checkout": str(checkout), **changes}


@pytest.fixture
def checkout():
    """A folder named as `flexgit run` names a command's checkout (in TMPDIR, with this process's id)."""
    folder = Path(tempfile.mkdtemp(prefix=f"flexgit-run-{os.getpid()}-"))
    (folder / ".flexgit-history.jsonl").write_bytes(_history(range(3)))
    yield folder
    shutil.rmtree(folder)


def test_running_runs_are_served_beside_recorded_ones_with_their_curves(project, checkout):
    from flexgit.project import live

    running = project / ".git" / "flexgit.d" / live.RUNNING_DIR
    running.mkdir(parents=True, exist_ok=True)
    live.write(live.state_path(running, "run 1 0"), _run_state(checkout))
    git(project, "status")
    before = repo_state(project)
    with serving(project) as server:
        document = server.json("/data.json")
        columns = document["columns"]
        rows = {row[columns.index("name")]: row for row in document["rows"]}
        assert set(rows) == {"lr0.1", "lr0.3", "training"}
        row = rows["training"]
        assert row[columns.index("status")] == "running" and row[columns.index("id")].startswith("live")
        details = document["details"][document["rows"].index(row)]
        block, = details["history"]
        assert details["live"] is True and [r.split(",")[0] for r in block["rows"].split(";")] == ["0", "1", "2"]
        with open(checkout / ".flexgit-history.jsonl", "ab") as out:  # the command logs on
            out.write(_history(range(3, 5)))
        live.write(live.state_path(running, "run 1 0"), _run_state(checkout, step=4))
        document = server.json("/data.json")
        details = next(d for d in document["details"] if d and d.get("live"))
        assert details["history"][0]["rows"].count(";") == 4
    assert repo_state(project) == before


def test_a_live_state_cannot_make_the_ui_read_elsewhere(project, checkout, tmp_path):
    """A state file is local, but read like input: only a checkout flexgit made, for that process, on this
    machine, of this user, never through a link; a script's own lines of the pending history."""
    from flexgit.project import live

    pending = project / ".git" / "flexgit.d" / "history.jsonl"
    assert live.history(_run_state(checkout), pending) == _history(range(3))
    elsewhere = tmp_path / f"flexgit-run-{os.getpid()}-x"  # not in TMPDIR itself
    elsewhere.mkdir()
    (elsewhere / ".flexgit-history.jsonl").write_bytes(_history(range(3)))
    linked = Path(tempfile.gettempdir()) / f"flexgit-run-{os.getpid()}-linked{os.getpid()}"
    linked.symlink_to(elsewhere)
    try:
        refused = [_run_state(elsewhere), _run_state(linked), _run_state(checkout, pid=os.getpid() + 1),
                   _run_state(checkout, host="another-machine"), _run_state(checkout, kind="log"),
                   _run_state(Path(str(checkout) + "/../" + checkout.name)), {**_run_state(checkout), "checkout": 3}]
        assert [live.history(state, pending) for state in refused] == [b""] * len(refused)
    finally:
        linked.unlink()
    (checkout / ".flexgit-history.jsonl").unlink()
    (checkout / ".flexgit-history.jsonl").symlink_to(elsewhere / ".flexgit-history.jsonl")
    assert live.history(_run_state(checkout), pending) == b""  # the file itself a link
    pending.write_bytes(_history(range(2), proc="7@a") + _history(range(5), proc="8@b") + b'{"cut by a cra')
    assert live.history({"kind": "log", "proc": "7@a"}, pending) == _history(range(2), proc="7@a")


def test_a_long_live_history_is_read_in_samples_of_whole_lines(checkout):
    from flexgit.project import live

    data = _history(range(120_000))
    (checkout / ".flexgit-history.jsonl").write_bytes(data)
    assert len(data) > live.HISTORY_READ_LIMIT
    found = live.history(_run_state(checkout), Path("unused"))
    assert 0 < len(found) <= live.HISTORY_READ_LIMIT
    lines = found.splitlines()
    assert all(line in data for line in lines[:50]) and all(json.loads(line) for line in lines)
    assert lines[0] == data.splitlines()[0] and lines[-1] == data.splitlines()[-1]  # from the first step to the last
