"""`make demo` runs its real training three times and reproduces the best run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "demo.py"


def test_demo_records_three_runs_and_reproduces_the_metric(tmp_path):
    pytest.importorskip("sklearn")
    temp = tmp_path / "tmp"  # the demo's system temporary directory, watched for leftovers
    temp.mkdir()
    done = subprocess.run([sys.executable, str(DEMO), "--clean"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "TMPDIR": str(temp)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(") on experiments\n") == 3
    assert "logreg-C1" in done.stdout and "forest-d4" in done.stdout
    assert ": the same" in done.stdout
    assert "the report: " in done.stdout and "report.html" in done.stdout and "curves.png" in done.stdout
    assert f"in {temp}" in done.stdout and "explore it yourself" not in done.stdout
    assert list(temp.iterdir()) == []
