"""`flexgit ui`: the report's pages served live from this machine, read-only, refreshed as runs land;
the runs still running (their live state) shown beside them, their curves growing.

The page polls `/tips.json` (the notes and branch tips and the live-run state, a few bytes)
and fetches `/data.json` again only when that changes. Only GET and HEAD exist; nothing a
request says can write anything. On a loopback address, requests must name it in their Host
header, so a web page elsewhere cannot read the runs through a name it points at 127.0.0.1.
"""

from __future__ import annotations

import errno
import json
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from .._context import PathLike, open_store, report_document, target_branch, tips_of
from ..errors import InputError
from ..view.query import TableQuery
from ..view.report import page, script_json

DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Pages:
    """The documents of one repository and query, built again only when its tips move."""

    def __init__(self, repo: PathLike | None, query: TableQuery):
        self.repo, self.query = repo, query
        self._lock = threading.Lock()
        self._cached: tuple[str, bytes] | None = None
        store = open_store(repo)
        self.target = target_branch(store.repo, query.branch)
        self.document()  # a bad branch or condition is an error now, not a broken page later
        folder = store.repo.common_dir if store.repo.is_bare else store.repo.workdir
        self.title = f"flexgit runs of {folder.name}"

    def tips(self) -> str:
        return tips_of(open_store(self.repo), self.target)

    def document(self) -> bytes:
        with self._lock:  # one build at a time; the others wait for it and share it
            store = open_store(self.repo)  # per build: libgit2 objects are not shared between threads
            tips = tips_of(store, self.target)
            if self._cached is None or self._cached[0] != tips:
                document = report_document(store, self.query, running=True)  # live runs beside recorded ones
                self._cached = (tips, script_json(document).encode("utf-8"))
            return self._cached[1]


def serve(port: int = DEFAULT_PORT, host: str = "127.0.0.1", branch: str | None = None, where: str | None = None,
          repo: PathLike | None = None) -> ThreadingHTTPServer:
    """A server of the pages on `host`:`port` (0: any free port), not yet serving; `serve_forever` runs it.

    A port in use (or an address this machine does not have) is an InputError.
    """
    pages = Pages(repo, TableQuery(branch=branch, where=where))
    loopback = host in LOOPBACK

    class Handler(BaseHTTPRequestHandler):
        server_version = "flexgit"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            if loopback and not _local_host(self.headers.get("Host", "")):
                return self._send(403, "text/plain", b"flexgit ui answers only to 127.0.0.1 and localhost\n", send_body)
            path = self.path.split("?", 1)[0]
            if path == "/":
                body = page(None, pages.title, live=True)
                return self._send(200, "text/html; charset=utf-8", body, send_body)
            if path == "/data.json":
                return self._send(200, "application/json", pages.document(), send_body)
            if path == "/tips.json":
                return self._send(200, "application/json", json.dumps({"tips": pages.tips()}).encode(), send_body)
            return self._send(404, "text/plain", b"not found\n", send_body)

        def _send(self, status: int, kind: str, body: bytes, send_body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass  # the terminal is the user's: no line per request

    server_class = type("Server", (ThreadingHTTPServer,), {
        "daemon_threads": True, "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    try:
        return server_class((host, port), Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} is in use on {host}; pick another with --port "
                             "(0 picks a free one)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise InputError(f"port {port} needs privileges on this machine; pick one above 1023 with --port") from None
        raise InputError(f"cannot serve on {host}:{port} ({exc.strerror or exc}); pick another --host or --port") \
            from None


def _local_host(header: str) -> bool:
    """True when a Host header names this machine's loopback address (with any port)."""
    name = header if header.endswith("]") or header.count(":") != 1 else header.rsplit(":", 1)[0]
    if name.startswith("[") and "]:" in name:
        name = name.rsplit(":", 1)[0]
    return name.strip("[]").lower() in LOOPBACK


def ui(port: int = DEFAULT_PORT, host: str = "127.0.0.1", branch: str | None = None, where: str | None = None,
       repo: PathLike | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the pages until Ctrl-C (or SIGTERM); `on_ready` gets the address once it is listening."""
    server = serve(port, host, branch, where, repo)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_address[1]}/"
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)  # stopped as by Ctrl-C: the socket is closed
    try:
        if on_ready is not None:
            on_ready(url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt

