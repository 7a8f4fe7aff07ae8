"""A watchdog process that stops a run's commands when the flexgit that started them dies.

`flexgit run` starts each command in its own process group and tells this process, on its
standard input, `+PGID` when a group starts and `-PGID` when it is done. When the input ends
without the groups being done (flexgit was killed, even with SIGKILL, which no handler
sees), each group left gets SIGTERM, then SIGKILL after a grace period. Standard library
only, and run as a script: it must start fast and cannot depend on the state of its parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_SECONDS = 5.0


def start() -> subprocess.Popen:
    """Start a watchdog; write `+PGID` / `-PGID` lines to its stdin, close it when all groups are done."""
    # -I -S: no site, no script folder on the path (a sibling module must not shadow the standard library)
    return subprocess.Popen([sys.executable, "-I", "-S", os.fspath(Path(__file__))], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            text=True, bufsize=1)


def watch(lines) -> set[int]:
    """The process groups still running when `lines` end."""
    groups: set[int] = set()
    for line in lines:
        sign, number = line[:1], line[1:].strip()
        if number.isdigit():
            (groups.add if sign == "+" else groups.discard)(int(number))
    return groups


def stop(groups: set[int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to each group, SIGKILL to those still there after `grace` seconds."""
    for group in groups:
        _signal(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = {group for group in groups if _signal(group, 0)}
        time.sleep(0.05)
    for group in groups:
        _signal(group, signal.SIGKILL)


def _signal(group: int, number: int) -> bool:
    """Send `number` to process group `group`; False when the group is gone."""
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        return False
    except PermissionError:  # not ours (the number was reused): leave it alone
        return False
    return True


if __name__ == "__main__":
    for ignored in (signal.SIGINT, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)  # a terminal's Ctrl-C or hang-up is flexgit's to handle
    stop(watch(sys.stdin))
