"""The layers import one way: only gitrepo talks to pygit2, only the CLI to click."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flexgit"


def importers(module: str) -> set[str]:
    pattern = re.compile(rf"^\s*(import {module}\b|from {module}\b)", re.M)
    return {p.stem for p in PACKAGE.glob("*.py") if pattern.search(p.read_text())}


def test_only_gitrepo_imports_pygit2():
    assert importers("pygit2") == {"gitrepo"}


def test_only_the_cli_imports_click():
    assert importers("click") == {"cli"}


def test_nothing_below_the_api_imports_the_api_or_the_cli():
    for low in ("gitrepo", "store", "record", "query", "render", "runcache", "textcache", "values", "refs"):
        text = (PACKAGE / f"{low}.py").read_text()
        assert not re.search(r"from \.(api|cli|runs|restore|importcsv) import|from \. import api", text), low
