"""`flexgit hook`: the post-commit hook: every commit that changed the configured results becomes a run.

`install` puts a small script into the repository's real hooks directory (honouring
`core.hooksPath`); a post-commit hook the user already had is kept beside it and run first,
and `uninstall` puts it back exactly. The hook never fails a commit: whatever goes wrong
becomes one warning line and an entry in `.git/flexgit.d/hook.log`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from .._context import open_store, record_working_tree
from ..errors import FlexgitError, InputError, RunExistsError
from ..project.settings import load_settings
from ..project.values import escape_control, one_line
from ..storage.gitrepo import GitRepo
from ..storage.run import utc_now

MARKER = "# flexgit post-commit hook"
CHAINED = "post-commit.flexgit-chained"
STATE_FILE = "hook.json"
LOG_FILE = "hook.log"


@dataclass(frozen=True)
class HookStatus:
    """Whether the hook is installed, where, and what the last auto-record did."""

    installed: bool
    path: Path
    chained: Path | None
    last: str | None


def hook_path(git: GitRepo) -> Path:
    """The post-commit hook git runs: in `core.hooksPath` when set, else in the git directory."""
    configured = git.config_value("core.hooksPath")
    if configured:
        base = Path(os.path.expanduser(configured))
        directory = base if base.is_absolute() else git.workdir / base
    else:
        directory = git.common_dir / "hooks"
    return directory / "post-commit"


def script() -> str:
    """The installed hook: run the user's own hook first, then flexgit; never fail the commit."""
    python = shlex.quote(sys.executable)
    return (f"#!/bin/sh\n{MARKER}: records a run when a commit changed the results (flexgit hook status).\n"
            f'chained="$(dirname "$0")/{CHAINED}"\n'
            'if [ -x "$chained" ]; then "$chained" "$@"; fi\n'
            f"{python} -m flexgit hook post-commit || true\n")


def install(repo: str | os.PathLike | None = None) -> HookStatus:
    """Install the hook, keeping a post-commit hook that is already there."""
    git = GitRepo.open(repo)
    path = hook_path(git)
    if _is_ours(path):
        return status(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    chained = path.with_name(CHAINED)
    if path.exists() or path.is_symlink():
        if chained.exists():
            raise InputError(f"both {path} and {chained} exist; move one away, then install again")
        path.rename(chained)
    path.write_text(script())
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return status(repo)


def uninstall(repo: str | os.PathLike | None = None) -> HookStatus:
    """Remove the hook and put back the one it had kept, as it was."""
    git = GitRepo.open(repo)
    path = hook_path(git)
    if path.exists() and not _is_ours(path):
        raise InputError(f"{path} is not flexgit's hook; nothing to uninstall")
    if path.exists():
        path.unlink()
    chained = path.with_name(CHAINED)
    if chained.exists() or chained.is_symlink():
        chained.rename(path)
    return status(repo)


def status(repo: str | os.PathLike | None = None) -> HookStatus:
    git = GitRepo.open(repo)
    path = hook_path(git)
    chained = path.with_name(CHAINED)
    log = git.flexgit_dir(create=False) / LOG_FILE
    last = log.read_text(encoding="utf-8").splitlines()[-1] if log.is_file() and log.stat().st_size else None
    return HookStatus(installed=_is_ours(path), path=path, chained=chained if chained.exists() else None, last=last)


def post_commit(repo: str | os.PathLike | None = None) -> str:
    """Record a run for the new commit when the results changed since the last auto-record.

    Returns what happened, in one line; the caller logs it and never fails the commit.
    """
    git = GitRepo.open(repo)
    operation = git.operation_in_progress()
    if operation or os.environ.get("GIT_REFLOG_ACTION", "").startswith(("rebase", "cherry-pick", "merge")):
        return f"skipped: a {operation or os.environ['GIT_REFLOG_ACTION'].split()[0]} is in progress"
    settings = load_settings(git.workdir)
    if not settings.results:
        return "skipped: no results file configured (results = [...] in .flexgit.toml)"
    files = [git.workdir / name for name in settings.results if (git.workdir / name).is_file()]
    if not files:
        return f"skipped: no results file ({', '.join(settings.results)}) exists"
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    state_path = git.flexgit_dir() / STATE_FILE
    state = _read_state(state_path)
    if state.get("results_sha256") == digest:
        return f"skipped: results unchanged since {state.get('run', 'the last run')}"
    head = git.head_commit() or ""
    subject = escape_control(git.commit(head)[2].strip().split("\n", 1)[0]) if head else ""
    try:
        run = record_working_tree(open_store(git), name=f"commit-{head[:10]}", message=subject)
    except RunExistsError:
        return f"skipped: commit {head[:10]} already has a run"
    state_path.write_text(json.dumps({"results_sha256": digest, "run": run.name, "commit": head}))
    secrets = run.meta.get("secrets_left_out")
    return (f"recorded {run.name} ({run.short_id}) for commit {head[:10]}"
            + (f"; left out as they look like secrets: {one_line(', '.join(secrets))}" if secrets else ""))


def log(repo: str | os.PathLike | None, line: str) -> Path | None:
    """Append a timestamped line to the hook log; returns its path (None when it cannot be written)."""
    try:
        path = GitRepo.open(repo).flexgit_dir() / LOG_FILE
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{utc_now()[:19]}Z {line}\n")
        return path
    except (OSError, FlexgitError):
        return None


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _read_state(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
