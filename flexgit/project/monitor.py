"""The thread that watches one command of `flexgit run` while it runs.

Every `interval` seconds it samples the command's process tree (project/sysmetrics.py) and
appends the `sys.*` values to the run's history file as a step line; about once a second it
reads what the command logged since (`flexgit.log`) and rewrites the run's live state
(project/live.py) with the latest values, so `flexgit table --running` shows them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from . import live
from .history import process_id
from .sysmetrics import ProcessTree

TICK_S = 1.0  # how often the live state may change
HEARTBEAT_S = 30.0  # rewritten at least this often, so another machine sees it is still running


class Monitor:
    """Watches the command `pid` of a run: samples into `history`, keeps the live state at `state_path`."""

    def __init__(self, pid: int, history: Path, state_path: Path, state: dict[str, Any],
                 interval: float | None):
        self.history, self.state_path, self.interval = history, state_path, interval
        self.state = {"kind": "run", "pid": os.getpid(), "pid_start": live.process_start(os.getpid()),
                      "command_pid": pid, "host": live.HOST, "started": live.now_text(), "step": None,
                      "metrics": {}, **state}
        self.tree = ProcessTree(pid) if interval else None
        self.offset = 0
        self.stopping = threading.Event()
        live.write(self.state_path, self.state)
        self.thread = threading.Thread(target=self._watch, name=f"flexgit-monitor-{pid}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """The command ended: stop sampling (the live state stays until the run is recorded)."""
        self.stopping.set()
        self.thread.join()

    def _watch(self) -> None:
        tick = min(TICK_S, self.interval) if self.interval else TICK_S
        next_sample = time.monotonic() + tick
        written = time.monotonic()
        while not self.stopping.wait(tick):
            changed = False
            if self.tree is not None and time.monotonic() >= next_sample:
                next_sample = time.monotonic() + self.interval
                changed = self._sample()
            changed = self._read_logged() or changed
            if changed or time.monotonic() - written >= HEARTBEAT_S:
                live.write(self.state_path, self.state)
                written = time.monotonic()

    def _sample(self) -> bool:
        try:
            values = self.tree.sample()
        except Exception:  # noqa: BLE001 - a sampler failure must never disturb the run
            self.tree = None
            return False
        if not values:
            return False
        line = {"step": None, "t": live.now_text(), "metrics": values, "proc": process_id()}
        try:
            fd = os.open(self.history, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, (json.dumps(line) + "\n").encode())  # one write of one line, as flexgit.log appends
            finally:
                os.close(fd)
        except OSError:
            return False
        return True  # the file's reader below picks the values up with the command's own

    def _read_logged(self) -> bool:
        """Take the latest values of the lines appended to the history since the last look."""
        try:
            with open(self.history, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return False
        whole = data[:data.rfind(b"\n") + 1]  # a line being written is read next time
        self.offset += len(whole)
        changed = False
        for raw in whole.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and isinstance(line.get("metrics"), dict):
                self.state["metrics"].update(line["metrics"])
                if line.get("step") is not None:
                    self.state["step"] = line["step"]
                changed = True
        return changed
