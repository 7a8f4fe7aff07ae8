"""What the post-commit hook adds to `git commit`, against the floor `python -c "import pygit2, click"`.

Three projects commit the same changes in turn: one without the hook, one with it whose every commit
changes the results file (each hooked commit records a run: Python starts), and one with it whose
commits leave the results alone (the hook script decides that without starting Python).
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


def measure(root: Path, repeat: int) -> dict[str, float]:
    """Medians in ms: `git commit` without the hook (plain_ms), what the hook adds when the results
    changed (changed_ms) and when they did not (same_ms), and the floor (floor_ms)."""
    plain, changed, same = (_project(root / "plain", False), _project(root / "changed", True),
                            _project(root / "same", True))
    times: dict[str, list[float]] = {"plain": [], "changed": [], "same": [], "floor": []}
    for i in range(max(repeat, 9) + 2):  # the first two hooked commits of `same` start Python: left out
        for name, repo in (("plain", plain), ("changed", changed), ("same", same)):
            (repo / "metrics.json").write_text('{"acc": %d}' % (0 if name == "same" else i))
            (repo / "train.py").write_text(f"x = {i + 1}\n")
            subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
            start = time.perf_counter()
            subprocess.run(["git", "commit", "-q", "-m", f"change {i}"], cwd=repo, check=True, capture_output=True)
            if i >= 2:
                times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import pygit2, click"], check=True)
        times["floor"].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    return {"plain_ms": median["plain"] * 1000, "floor_ms": median["floor"] * 1000,
            "changed_ms": (median["changed"] - median["plain"]) * 1000,
            "same_ms": (median["same"] - median["plain"]) * 1000}
