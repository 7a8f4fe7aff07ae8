"""Step history: the lines `flexgit.log` writes, whose they are, their summary in a run's row, and their curves.

A history is JSON lines: `{"step", "t", "metrics", "proc"}` per logged step, `{"t", "finish":
{"min", "max"}, "proc"}` when training asks for extremes; `proc` names the process that logged
the line. A run keeps the lines of one process as `.flexgit/history.jsonl`; its row gets the
last value of each metric, and `KEY.min` / `KEY.max` for the keys asked about. System metrics
(`sys.*`, sampled by `flexgit run`) are peaks: the row gets `sys.KEY.max` only.

`append` buffers lines in memory and writes them in batches, each batch one append of whole
lines: at most about the last second is lost when a process is killed, never part of a line.
A batch is written by the first `append` a second after the last one, at interpreter exit, and
by `flush`, which whoever reads a pending file in the same process calls first.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import math
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from . import live
from .values import is_number

ENV = "FLEXGIT_HISTORY"
PENDING = "history.jsonl"
SET_ASIDE = "history-set-aside.jsonl"  # steps of processes that no run took: kept, never attached

FLUSH_AFTER_S = 1.0  # the most a crash may lose
SYSTEM_PREFIX = "sys."  # system metrics (project/sysmetrics.py): their summary is their peak

_process: tuple[int, str] | None = None


def _encoder() -> Any:
    """A line's JSON text, as `json.JSONEncoder(ensure_ascii=False).encode` writes it. Its C encoder is
    made once here (`encode` makes one per call: a third of a logged step's time); lines hold checked
    values only, so no cycle can need the check it leaves out."""
    plain = json.JSONEncoder(ensure_ascii=False)
    c_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_encoder is None:  # a Python without the C accelerator
        return plain.encode
    encode = c_encoder(None, plain.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda line: "".join(encode(line, 0))


_encode = _encoder()
_second: tuple[int, str] = (-1, "")  # the last whole second stamped, formatted
_lock = threading.Lock()
_queued: dict[Path, list[tuple[float, dict[str, Any]]]] = {}  # path -> (time.time(), line without "t")
_flushed_at = time.monotonic()
_at_exit = False


def process_id() -> str:
    """This process's tag on the lines it logs: its pid and when it first logged (pids are reused)."""
    global _process
    if _process is None:
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        _process = (os.getpid(), f"{os.getpid()}@{started}")
    return _process[1]


def _forget_process() -> None:
    global _process
    _process = None


if hasattr(os, "register_at_fork"):  # a forked child is a process of its own (no pid asked for per step)
    os.register_at_fork(after_in_child=_forget_process)


def append(path: Path, line: dict[str, Any], now: float | None = None) -> None:
    """Queue `line` for `path`, stamped `t` with the time of this call (or `now`); written within
    about a second, at exit, or at the next `flush`."""
    global _at_exit
    stamp = time.time() if now is None else now
    with _lock:
        _queued.setdefault(path, []).append((stamp, line))
        if not _at_exit:
            atexit.register(_flush_at_exit)
            _at_exit = True
    if time.monotonic() - _flushed_at >= FLUSH_AFTER_S:
        flush()


def flush() -> None:
    """Write every queued line: one append per file, of whole lines."""
    global _flushed_at
    with _lock:
        batches = {path: lines for path, lines in _queued.items() if lines}
        _queued.clear()
        _flushed_at = time.monotonic()
        for path, lines in batches.items():
            for stamp, line in lines:  # queued lines are flexgit's own: stamped in place, not copied
                line["t"] = _stamp(stamp)
            _write(path, "".join(_encode(line) + "\n" for _, line in lines).encode())
            live.logged(path, [line for _, line in lines])  # a script's live run: once per batch, not per step


def _stamp(stamp: float) -> str:
    """`stamp` as `utc_now` writes it; the second is formatted once for all the lines logged in it."""
    global _second
    micros = round(stamp * 1_000_000)
    second, fraction = divmod(micros, 1_000_000)
    if _second[0] != second:
        _second = (second, dt.datetime.fromtimestamp(second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{fraction:06d}Z"


def _write(path: Path, data: bytes) -> None:
    """Append `data` with O_APPEND, in one write unless the system cuts it short."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


def _flush_at_exit() -> None:
    try:
        flush()
        live.exited()
    except OSError as exc:  # nothing above can catch it any more; say what was lost
        warnings.warn(f"flexgit.log could not write its last steps: {exc}", RuntimeWarning, stacklevel=1)


def _forget_in_child() -> None:
    """A forked child starts with no queued lines: those are its parent's to write."""
    global _lock
    _lock = threading.Lock()
    _queued.clear()


os.register_at_fork(after_in_child=_forget_in_child)


class Pending(NamedTuple):  # a named tuple, not a dataclass: every record imports this module
    """Pending history split by process: the lines a run takes, and those set aside."""

    taken: bytes = b""
    set_aside: bytes = b""
    set_aside_steps: int = 0
    procs: tuple[str, ...] = ()  # every process whose lines were taken or set aside


def split_pending(data: bytes, own: str | None = None) -> Pending:
    """The lines of one process, `own` if it logged any, else the process that logged last; the
    lines of every other process (and lines a crash cut) are set aside."""
    lines = [(raw, _parse(raw)) for raw in data.splitlines(keepends=True) if raw.strip()]
    procs = [line.get("proc") for _, line in lines if line is not None]
    if not procs:
        return Pending(set_aside=data)
    chosen = own if own is not None and own in procs else procs[-1]
    taken = [raw for raw, line in lines if line is not None and line.get("proc") == chosen]
    others = [(raw, line) for raw, line in lines if line is None or line.get("proc") != chosen]
    return Pending(taken=_joined(taken), set_aside=_joined([raw for raw, _ in others]),
                   set_aside_steps=sum(1 for _, line in others if line is not None and "metrics" in line),
                   procs=tuple(dict.fromkeys(str(proc) for proc in procs)))


def span(data: bytes) -> tuple[int, str | None]:
    """How many steps a history holds, and the time of the first."""
    steps = [line for line in map(_parse, data.splitlines()) if line is not None and "metrics" in line]
    return len(steps), (str(steps[0].get("t")) if steps and steps[0].get("t") else None)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        line = json.loads(raw)
    except (ValueError, RecursionError):
        return None  # a line cut by a crash; one nested past Python's stack (a pulled run's history is input)
    return line if isinstance(line, dict) else None


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(raw if raw.endswith(b"\n") else raw + b"\n" for raw in lines)


def summarize(data: bytes) -> dict[str, Any]:
    """The summary of a history: last value of each metric, and the min / max asked for."""
    last: dict[str, Any] = {}
    series: dict[str, list[float]] = {}
    wanted: dict[str, set[str]] = {"min": set(), "max": set()}
    for raw in data.splitlines():
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            continue  # a line cut by a crash: the rest still counts
        if not isinstance(line, dict):
            continue
        for key, value in (line.get("metrics") or {}).items():
            last[key] = value
            if is_number(value) and not (isinstance(value, float) and math.isnan(value)):
                series.setdefault(key, []).append(value)
        for kind in ("min", "max"):
            wanted[kind].update((line.get("finish") or {}).get(kind) or [])
    for key in [key for key in last if key.startswith(SYSTEM_PREFIX)]:
        del last[key]  # the last sample says little (the command was ending); the peak says a lot
        wanted["max"].add(key)
    for kind, keys in wanted.items():
        for key in keys:
            if series.get(key):
                last[f"{key}.{kind}"] = (min if kind == "min" else max)(series[key])
    return last


class Point(NamedTuple):
    """One logged value of a metric: its step, the seconds since the history's first line, the value."""

    step: float
    seconds: float | None  # None when the line has no readable time
    value: float
    stepped: bool = True  # False for a line logged without a step (system metrics are sampled so)


def series(data: bytes) -> dict[str, list[Point]]:
    """Each metric's numeric values in the order logged (a curve per metric). A line without a step
    counts as the next one after the step before it; text, NaN and infinite values, and lines a crash
    cut, are left out."""
    curves: dict[str, list[Point]] = {}
    start: dt.datetime | None = None
    step = -1.0
    for raw in data.splitlines():
        line = _parse(raw)
        if line is None or not isinstance(line.get("metrics"), dict):
            continue
        given = _finite(line.get("step"))
        stepped = given is not None
        step = given if stepped else step + 1
        moment = _moment(line.get("t"))
        if start is None and moment is not None:
            start = moment
        seconds = (moment - start).total_seconds() if moment is not None and start is not None else None
        for key, value in line["metrics"].items():
            number = _finite(value)
            if number is not None:
                curves.setdefault(str(key), []).append(Point(step, seconds, number, stepped))
    return curves


def _finite(value: Any) -> float | None:
    """`value` as a finite float, or None (text, NaN, infinities, an integer beyond a float's range)."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _moment(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
