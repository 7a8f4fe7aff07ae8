"""What keeping a 50 MB output costs a record: against `sha256sum` of the file plus a record without it.

The target: recording with the output costs at most 2x that sum. The file is changed (its first
bytes) before each repetition, so every record stores a new git-lfs object; the file stays in the
page cache for all three measurements alike. Medians of interleaved repetitions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PYTHON = sys.executable
SIZE = 50 * 1024 * 1024

# In one process: a record without the output, then `sha256sum`, then a record with it, interleaved.
LOOP = """
import json, os, statistics, subprocess, sys, time, flexgit
repeat = int(sys.argv[1])
flexgit.record(metrics={"acc": 0.5})  # warm-up: imports, caches
flexgit.record(metrics={"acc": 0.5}, outputs=["model.bin"])
plain, summed, kept = [], [], []
for i in range(repeat):
    with open("model.bin", "r+b") as out:
        out.write(i.to_bytes(8, "big"))
    start = time.perf_counter(); flexgit.record(metrics={"acc": 0.5, "i": i})
    plain.append(time.perf_counter() - start)
    start = time.perf_counter(); subprocess.run(["sha256sum", "model.bin"], check=True, capture_output=True)
    summed.append(time.perf_counter() - start)
    start = time.perf_counter(); flexgit.record(metrics={"acc": 0.5, "i": i}, outputs=["model.bin"])
    kept.append(time.perf_counter() - start)
print(json.dumps({key: statistics.median(values) for key, values in
                  (("plain", plain), ("sha256sum", summed), ("kept", kept))}))
"""


def measure(root: Path, repeat: int) -> str:
    """One line: the record with a 50 MB output against sha256sum + a record without it."""
    if shutil.which("git-lfs") is None or shutil.which("sha256sum") is None:
        return "50 MB output: not measured (git-lfs or sha256sum is not installed)"
    project = root / "outputs"
    project.mkdir(parents=True)
    for args in (["init", "-q"], ["config", "user.name", "bench"], ["config", "user.email", "bench@example.com"]):
        subprocess.run(["git", *args], cwd=project, check=True)
    (project / ".gitignore").write_text("*.bin\n")
    (project / "train.py").write_text("x = 0\n")
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "project"], cwd=project, check=True)
    (project / "model.bin").write_bytes(os.urandom(SIZE))
    out = json.loads(subprocess.run([PYTHON, "-c", LOOP, str(max(repeat, 5))], cwd=project, check=True,
                                    capture_output=True, text=True).stdout)
    floor = out["sha256sum"] + out["plain"]
    return (f"record with a 50 MB output (git-lfs): {out['kept'] * 1000:.0f} ms, {out['kept'] / floor:.2f}x "
            f"sha256sum of it ({out['sha256sum'] * 1000:.0f} ms) + a record without it ({out['plain'] * 1000:.0f} ms)"
            " (target <= 2x)")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flexgit-bench-") as directory:
        print(measure(Path(directory), 7))
