"""Which files a run produced: output paths and globs, matched in a working tree or a run's checkout.

Globs match paths from the top of the tree as the settings' do (`fnmatch`: `*` also crosses
`/`); a folder named outright stands for every file below it. What may be kept is checked
here: a path outside the tree, or a symbolic link whose target is outside it, is refused;
links to folders are never followed while matching.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable

from .checkpoints import is_clean_path

_MAGIC = ("*", "?", "[")
# What a run's reader refuses to write back (project/checkpoints.py), so never kept: it would be lost.
_UNCLEAN = "a name with control characters, a backslash or a .git folder, which no run can give back"


class Found:  # a plain class: every record imports it, and a dataclass costs ~0.5 ms to make
    """The files found (path from the top of the tree -> the file), the patterns that matched
    nothing, and the paths refused (`"path (why)"`)."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.missing: list[str] = []
        self.refused: list[str] = []


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in _MAGIC)


def literal(path: str) -> str:
    """A glob that matches `path` only (its `*`, `?` and `[` escaped)."""
    import glob

    return glob.escape(path)


def find_outputs(root: Path, patterns: Iterable[str], base: Path | None = None,
                 skip: Iterable[str] = (), also: Path | None = None) -> Found:
    """The files of the tree at `root` that `patterns` name, each relative to `base` (default: `root`)
    or absolute; `skip`: globs of paths never taken (flexgit's own files in a run's checkout); `also`:
    a second tree that links may point into (the working tree a run's checkout links folders of)."""
    found = Found()
    root_abs = Path(os.path.abspath(root))
    real_root = [root_abs.resolve()] + ([Path(also).resolve()] if also is not None else [])
    base_abs = Path(os.path.abspath(base or root))
    skipped = tuple(skip)
    for pattern in dict.fromkeys(patterns):
        full = Path(os.path.normpath(base_abs / pattern))
        try:
            relative = full.relative_to(root_abs).as_posix()
        except ValueError:
            found.refused.append(f"{pattern} (outside the working tree)")
            continue
        if relative == "." or relative.split("/")[0] == ".git":
            found.refused.append(f"{pattern} (not a file of the working tree)")
            continue
        before = len(found.files) + len(found.refused)
        candidates = _matching(root_abs, relative) if is_glob(relative) else _named(root_abs, relative)
        for path in candidates:
            if any(fnmatch.fnmatchcase(path, g) for g in skipped):
                continue
            problem = None if is_clean_path(path) else _UNCLEAN
            problem = problem or _problem(root_abs / path, real_root)
            if problem:
                found.refused.append(f"{path} ({problem})")
            else:
                found.files.setdefault(path, root_abs / path)
        if len(found.files) + len(found.refused) == before:
            found.missing.append(pattern)
    found.files = dict(sorted(found.files.items()))
    return found


def _named(root: Path, relative: str) -> list[str]:
    """The file `relative` names, or every file below the folder it names (links not followed)."""
    full = root / relative
    if full.is_dir() and not full.is_symlink():
        return sorted(_walk(root, relative))
    return [relative] if os.path.lexists(full) else []  # a FIFO, a socket: refused as what it is, not missing


def _matching(root: Path, pattern: str) -> list[str]:
    """The files below the pattern's fixed leading folders that match it."""
    parts = pattern.split("/")
    fixed = []
    for part in parts[:-1]:
        if is_glob(part):
            break
        fixed.append(part)
    start = "/".join(fixed)
    if start and not (root / start).is_dir() or start and (root / start).is_symlink():
        return []
    return sorted(path for path in _walk(root, start) if fnmatch.fnmatchcase(path, pattern))


def _walk(root: Path, start: str) -> Iterable[str]:
    top = root / start if start else root
    for folder, folders, files in os.walk(top):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        folders[:] = [f for f in folders if not (prefix == "" and f == ".git")]
        # links to folders are listed as entries, never walked into: they are checked like files
        for name in files + [f for f in folders if (Path(folder) / f).is_symlink()]:
            yield prefix + name


def _problem(path: Path, real_roots: list[Path]) -> str | None:
    """Why `path` cannot be kept, or None: a link whose target is outside the trees, a folder link,
    something that is not a regular file."""
    if path.is_symlink():
        target = path.resolve()
        if not any(target.is_relative_to(root) for root in real_roots):
            return f"a symbolic link to {os.readlink(path)}, outside the working tree"
        if target.is_dir():
            return "a symbolic link to a folder"
    if not path.is_file():
        return "not a regular file"
    if not any(path.resolve().is_relative_to(root) for root in real_roots):
        return "outside the working tree, through a symbolic link"
    return None


def is_output(path: str, patterns: Iterable[str]) -> bool:
    """True when `path` (from the top of the tree) is one that output globs `patterns` name."""
    return any(fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/")
               for pattern in patterns)


def output_tops(patterns: Iterable[str]) -> tuple[str, ...]:
    """The top-level entries (globs) that hold the outputs `patterns` name: a run's checkout gets them
    from the command, never from the working tree."""
    return tuple(dict.fromkeys(pattern.strip("/").split("/")[0] for pattern in patterns if pattern.strip("/")))
