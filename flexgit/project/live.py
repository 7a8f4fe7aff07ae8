"""Live runs: runs still training, visible before they are recorded (`flexgit table --running`).

Local state, never pushed: one small JSON file per live run under `.git/flexgit.d/running/`,
written by `flexgit run` for each running command (the recording process is flexgit), and by a
training script from its first `flexgit.log` until its record (the process is the script); the
record removes it. A file names the process that will record the run, with its start time, so a
reused pid is not mistaken for it: a file whose process is gone is a run that died without
being recorded, `lost`; a script that exited normally without a record is `ended`.

Scripts write their file from `flexgit.log`'s batched flush (at most about once a second), never
per call; `flexgit run` from the thread that samples the command (project/monitor.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from .files import write_atomic
from .values import one_line

RUNNING_DIR = "running"
VERSION = 1
CHECKOUT_PREFIX = "flexgit-run-"  # a `flexgit run` command's checkout: TMPDIR/flexgit-run-<pid>-<random>
CHECKOUT_HISTORY = ".flexgit-history.jsonl"  # in it: the steps the command logs ($FLEXGIT_HISTORY)
HISTORY_READ_LIMIT = 4 << 20  # the most of a live run's history read at once: a larger one is sampled
RUNNING, LOST, ENDED = "running", "lost", "ended"
# A file from another machine (a .git on a shared file system) cannot be checked by its pid: it is
# running while it is updated, lost an hour after its last update.
OTHER_HOST_LOST_AFTER_S = 3600
FORGET_AFTER_S = 7 * 86400  # a lost or ended run's file goes a week after its last update

HOST = socket.gethostname()


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def process_start(pid: int) -> str | None:
    """When process `pid` started, in a form that tells two processes with one pid apart; None where
    it cannot be read (then the pid alone is checked)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
        return "boot+" + raw[raw.rindex(b")") + 2:].split()[19].decode()  # clock ticks since boot
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # optional: the `system` extra
        return f"epoch+{psutil.Process(pid).create_time():.2f}"
    except Exception:  # noqa: BLE001 - not installed, no such process, no permission: unknown
        return None


def is_running(pid: int, start: str | None) -> bool:
    """True while process `pid` runs and is the one that started at `start`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except (OverflowError, ValueError):
        return False
    if _zombie(pid):
        return False
    now = process_start(pid) if start is not None else None
    return start is None or now is None or now == start


def _zombie(pid: int) -> bool:
    """A dead process that its parent has not reaped yet still answers kill(0); /proc says it is a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except OSError:
        return False


def state_path(directory: Path, key: str) -> Path:
    """The file of live run `key` in `directory` (`.git/flexgit.d/running`)."""
    import hashlib  # here: a record with no live run never needs it

    return directory / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"


def write(path: Path, state: dict[str, Any]) -> None:
    """Replace the live state at `path`; a failure to write only costs visibility."""
    try:
        write_atomic(path, json.dumps({"v": VERSION, **state, "updated": now_text()}, allow_nan=True).encode())
    except OSError:
        pass


def remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def settle(directory: Path, procs: Iterable[str]) -> None:
    """A record took (or set aside) the steps of the processes `procs`: their live runs end here."""
    for proc in procs:
        remove(state_path(directory, proc))
        _scripts_forget(proc)


# -- a training script's own state, fed by flexgit.log's flush ----------------------------------

_scripts: dict[Path, dict[str, Any]] = {}  # pending history file -> its live state in this process
_directories: dict[Path, Path] = {}  # pending history file -> the running/ folder beside it


def track(pending: Path, directory: Path) -> None:
    """Steps logged to `pending` (the repository's own pending history) make this process a live run."""
    _directories[pending] = directory


def logged(pending: Path, lines: list[dict[str, Any]]) -> None:
    """A batch of lines was written to `pending`: update this process's live state (once per batch)."""
    directory = _directories.get(pending)
    if directory is None or not lines:
        return
    proc = str(lines[-1].get("proc") or "")
    state = _scripts.get(pending)
    if state is None or state["proc"] != proc:
        state = _scripts[pending] = {
            "kind": "log", "proc": proc, "name": "", "pid": os.getpid(), "pid_start": process_start(os.getpid()),
            "host": HOST, "started": now_text(), "command": _command(), "step": None, "metrics": {}}
    for line in lines:
        if isinstance(line.get("metrics"), dict):
            state["metrics"].update(line["metrics"])
            if line.get("step") is not None:
                state["step"] = line["step"]
    write(state_path(directory, proc), state)


def exited() -> None:
    """The process ends normally: its live runs are `ended` (steps pending, not recorded), not lost."""
    for pending, state in list(_scripts.items()):
        write(state_path(_directories[pending], state["proc"]), {**state, "exited": True})


def _scripts_forget(proc: str) -> None:
    for pending, state in list(_scripts.items()):
        if state["proc"] == proc:
            del _scripts[pending]  # the next step starts the next run's state


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return shlex.join(argv)


# -- reading: rows for the table ----------------------------------------------------------------

def rows(directory: Path) -> list[dict[str, Any]]:
    """One table row per live run in `directory`, oldest first: name, date (started), message (the
    command), status (`running`, `lost`, `ended`), group, params (the `-S` values) and the latest
    logged metrics. Files that cannot be read are skipped; lost and ended runs are forgotten a
    week after their last update."""
    return [row for _, _, row in entries(directory)]


def entries(directory: Path) -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, state, row) of each live run in `directory`, as `rows` gives the rows."""
    found = []
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError:
        return []
    for path in paths:
        state = read(path)
        if state is None:
            continue
        status = status_of(state)
        if status != RUNNING and _age(state.get("updated")) > FORGET_AFTER_S:
            remove(path)
            continue
        found.append((path, state, _row(state, status)))
    return sorted(found, key=lambda entry: entry[2]["date"])


def history(state: dict[str, Any], pending: Path) -> bytes:
    """The steps a live run has logged so far (at most about HISTORY_READ_LIMIT bytes, sampled evenly
    when there are more), read only from where flexgit itself writes them: a `flexgit run` command's
    history file in its checkout, or, for a script, its own lines of the repository's pending history
    `pending`. A state that names any other place (a state file is local, but checked like input)
    gives nothing."""
    if state.get("kind") == "log":
        proc = state.get("proc")
        if not isinstance(proc, str) or not proc or '"' in proc or "\\" in proc:
            return b""
        mark = f'"proc": {json.dumps(proc, ensure_ascii=False)}'.encode()
        return b"".join(line + b"\n" for line in _read_bounded(pending).split(b"\n") if mark in line)
    checkout = _checkout(state)
    return _read_bounded(checkout / CHECKOUT_HISTORY) if checkout is not None else b""


def _checkout(state: dict[str, Any]) -> Path | None:
    """The checkout a `flexgit run` live state names, when it is one flexgit made on this machine for
    that process: `TMPDIR/flexgit-run-<its pid>-...`, a real folder (no link) of this user."""
    import tempfile

    named, pid = state.get("checkout"), state.get("pid")
    if state.get("kind") != "run" or not isinstance(named, str) or state.get("host") != HOST:
        return None
    path = Path(named)
    if not path.is_absolute() or path.parent != Path(tempfile.gettempdir()) or \
            not path.name.startswith(f"{CHECKOUT_PREFIX}{pid}-") or len(path.name) > 100 or \
            not all(c.isalnum() or c in "-_" for c in path.name):
        return None
    try:
        found = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        return None
    return path


def _read_bounded(path: Path) -> bytes:
    """The whole lines of a regular file (never through a link), at most about HISTORY_READ_LIMIT bytes:
    a larger file is read in evenly spaced windows, its last one included."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode):
            return b""
        if found.st_size <= HISTORY_READ_LIMIT:
            data = os.read(handle, HISTORY_READ_LIMIT)
            return data[:data.rfind(b"\n") + 1]
        windows, size = 64, HISTORY_READ_LIMIT // 64
        parts = []
        for i in range(windows):
            at = (found.st_size - size) * i // (windows - 1)
            window = os.pread(handle, size, at)
            start = 0 if at == 0 else window.find(b"\n") + 1  # the first line is cut: from the next one
            end = window.rfind(b"\n") + 1
            if 0 < start < end or (at == 0 and end):
                parts.append(window[start:end])
        return b"".join(parts)
    except OSError:
        return b""
    finally:
        os.close(handle)


def read(path: Path) -> dict[str, Any] | None:
    """The live state at `path` when it has the expected shape, else None."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(state, dict) or state.get("v") != VERSION:
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if not all(isinstance(state.get(key, ""), str) for key in ("name", "host", "started", "command", "group")):
        return None
    return state


def status_of(state: dict[str, Any]) -> str:
    if state.get("exited") is True:
        return ENDED
    if state.get("host", HOST) != HOST:
        return RUNNING if _age(state.get("updated")) < OTHER_HOST_LOST_AFTER_S else LOST
    start = state.get("pid_start")
    return RUNNING if is_running(state["pid"], start if isinstance(start, str) else None) else LOST


def _age(stamp: Any) -> float:
    try:
        moment = dt.datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return float("inf")
    return time.time() - moment.timestamp()


def _plain(values: Any) -> dict[str, Any]:
    """The scalar values of a table of them (what a row may hold); anything else is dropped."""
    if not isinstance(values, dict):
        return {}
    return {one_line(key): one_line(value) if isinstance(value, str) else value for key, value in values.items()
            if isinstance(value, (str, int, float, bool)) and isinstance(key, str) and key}


def _row(state: dict[str, Any], status: str) -> dict[str, Any]:
    started = state.get("started") or ""
    # the file is written by any process of this machine (a command line, a name): no terminal escapes
    row: dict[str, Any] = {"name": one_line(state.get("name") or f"pid-{state['pid']}"), "id": "",
                           "date": one_line(started[:19]) + "Z" if started else "",
                           "message": one_line(state.get("command", "")), "status": status}
    if state.get("group"):
        row["group"] = one_line(state["group"])
    row.update({f"params.{key}": value for key, value in _plain(state.get("params")).items()})
    row.update({f"metrics.{key}": value for key, value in _plain(state.get("metrics")).items()})
    if isinstance(state.get("step"), int):
        row["meta.step"] = state["step"]
    row.update({"meta.pid": state["pid"], "meta.host": one_line(state.get("host", "")),
                "meta.updated": one_line(str(state.get("updated", "")))})
    return row
