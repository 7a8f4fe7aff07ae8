"""What every framework integration's test checks: a run it recorded has the shape of one recorded by hand."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import flexgit_in_process as cli, make_repo

import flexgit


def shown(repo: Path, name: str) -> dict[str, object]:
    """`flexgit show NAME` read back: the top lines by their label, and each section's keys."""
    result = cli(repo, "show", name)
    assert result.code == 0, result
    found: dict[str, object] = {}
    section = None
    for line in result.out.splitlines():
        if not line.startswith(" "):
            section = None
        if line.endswith(":") and not line.startswith(" "):
            section = line[:-1]
            found[section] = {}
        elif line.startswith("  ") and section in ("params", "metrics", "meta") and " = " in line:
            key, _, value = line.strip().partition(" = ")
            found[section][key] = value
        elif line.startswith("  ") and section in ("outputs", "artifacts"):
            found[section][line.strip()] = ""
        elif re.match(r"[a-z]+  ", line):
            key, _, value = line.partition(" ")
            found[key] = value.strip()
            section = None
    return found


def by_hand(place: Path) -> dict[str, object]:
    """A run recorded by hand in a project of its own in `place`: params, logged steps, metrics, a kept file."""
    repo = place / "by-hand"
    if not repo.exists():
        make_repo(repo)
    model = repo / "model.bin"
    model.write_bytes(b"weights")
    for step in range(2):
        flexgit.log(step=step, loss=1.0 / (step + 1), repo=repo)
    run = flexgit.record(params={"lr": 0.1}, metrics={"acc": 0.9}, outputs=[model], status="ok",
                         repo=repo)
    return shown(repo, run.name)


def assert_same_shape(repo: Path, name: str, status: str = "ok", history: bool = True,
                      files: bool = False) -> dict[str, object]:
    """The run `name` lists what a run recorded by hand lists: status, params, metrics, history in its meta,
    and (`files`) outputs or artifacts."""
    mine, theirs = shown(repo, name), by_hand(repo.parent)
    for part in ("run", "id", "date", "status", "source", "params", "metrics", "meta", "outputs"):
        assert part in theirs, (part, theirs)
    for part in ("run", "id", "date", "status", "source", "params", "metrics", "meta"):
        assert part in theirs and part in mine, (part, mine)
    assert mine["status"] == status
    assert mine["params"], mine
    if status == "ok":
        assert mine["metrics"], mine
    if history:
        assert int(mine["meta"]["history_steps"]) > 0, mine["meta"]
    if files:
        assert mine.get("outputs") or mine.get("artifacts"), mine
    return mine
