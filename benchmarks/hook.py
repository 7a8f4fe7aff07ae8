"""What the post-commit hook adds to `git commit`, against the floor `python -c "import pygit2, click"`.

Two projects commit the same changes in turn, one with `flexgit hook install`; every commit
changes the results file, so every hooked commit records a run (the worst case).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable


def _project(path: Path, hooked: bool) -> Path:
    path.mkdir(parents=True)
    for args in (["init", "-q"], ["config", "user.name", "bench"], ["config", "user.email", "bench@example.com"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    (path / ".flexgit.toml").write_text('results = "metrics.json"\n')
    (path / "train.py").write_text("x = 0\n")
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "project"], cwd=path, check=True)
    if hooked:
        subprocess.run([PYTHON, "-m", "flexgit", "hook", "install"], cwd=path, check=True, capture_output=True)
    return path


def measure(root: Path, repeat: int) -> str:
    plain, hooked = _project(root / "plain", False), _project(root / "hooked", True)
    times: dict[str, list[float]] = {"plain": [], "hooked": [], "floor": []}
    for i in range(max(repeat, 9)):
        for name, repo in (("plain", plain), ("hooked", hooked)):
            (repo / "metrics.json").write_text('{"acc": %d}' % i)
            (repo / "train.py").write_text(f"x = {i + 1}\n")
            subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
            start = time.perf_counter()
            subprocess.run(["git", "commit", "-q", "-m", f"change {i}"], cwd=repo, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import pygit2, click"], check=True)
        times["floor"].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    added = median["hooked"] - median["plain"]
    return (f"post-commit hook: git commit {median['plain'] * 1000:.0f} ms without, {median['hooked'] * 1000:.0f} ms "
            f"with (each commit recorded a run): adds {added * 1000:.0f} ms = {added / median['floor']:.2f}x the floor "
            f"({median['floor'] * 1000:.0f} ms)")
