"""`flexgit ui`: a real server process, asked over real sockets; started and stopped by its pid.
(In a browser: test_browser.py.)"""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import signal
import socket
import subprocess
import sys
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

