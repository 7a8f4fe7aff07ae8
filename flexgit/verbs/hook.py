"""`flexgit hook`: the post-commit hook: every commit that changed the configured results becomes a run.

`install` puts a small script into the repository's real hooks directory (honouring
`core.hooksPath`); a post-commit hook the user already had is kept beside it and run first,
and `uninstall` puts it back exactly. The hook never fails a commit: whatever goes wrong
becomes one warning line and an entry in `.git/flexgit.d/hook.log`.

The script starts Python only when it cannot tell that the commit left the results as they were:
after each decision Python writes `hook-watch` (the experiments branch and the results files)
and `hook-state` (the commit decided on, the notes and branch refs, the blob ids of the settings
and results files, as `git for-each-ref` and `git hash-object` print them). A commit whose first
parent is that commit, with the same refs and ids, cannot have changed the results, so the script
logs the skip itself; anything else, including a file it cannot read, starts Python.
"""

from __future__ import annotations

import math
import os
import shlex
import stat
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

from .._context import branch_ref, open_store, record_working_tree
from ..errors import FlexgitError, InputError, RunExistsError
from ..project.history import SET_ASIDE
from ..project.settings import SETTINGS_FILE, Settings, load_settings
from ..project.sources import merge_sources
from ..project.values import escape_control, one_line
from ..storage.gitrepo import GitRepo
from ..storage.refs import NOTES_REF, BranchRef
from ..storage.run import Run, utc_now
from ..storage.store import Store

MARKER = "# flexgit post-commit hook"
CHAINED = "post-commit.flexgit-chained"
LOG_FILE = "hook.log"
WATCH_FILE = "hook-watch"  # what Python decided on: the branch ref, then the results files, one a line
STATE_FILE = "hook-state"  # the fingerprint of the last decision (see the module's docstring)
SETTINGS_FILES = (SETTINGS_FILE, "pyproject.toml")  # where the settings may come from, in the state's order


class HookStatus(NamedTuple):  # a named tuple, not a dataclass: the hook's start-up pays for every class
    """Whether the hook is installed, where, and what the last auto-record did."""

    installed: bool
    path: Path
    chained: Path | None
    last: str | None
    results: tuple[str, ...] = ()  # the results files the hook watches; none: it records nothing
    settings_error: str | None = None  # why the settings cannot be read, when they cannot


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
    """The installed hook: run the user's own hook first, then flexgit, only when the results may have
    changed (see the module's docstring); never fail the commit."""
    python = shlex.quote(sys.executable)
    return f"""#!/bin/sh
{MARKER}: records a run when a commit changed the results (flexgit hook status).
case "$0" in */*) hooks="${{0%/*}}" ;; *) hooks=. ;; esac
if [ -x "$hooks/{CHAINED}" ]; then "$hooks/{CHAINED}" "$@"; fi
nl='
'
decide() {{ {python} -m flexgit hook post-commit || true; exit 0; }}  # Python decides and keeps the state
where() {{  # the commit, its first parent and flexgit's directory, from one git call (none for a first commit)
  found=$(git rev-parse --git-common-dir HEAD HEAD^1 2>/dev/null) || return 1
  parent=${{found##*"$nl"}}; found=${{found%"$nl"*}}; head=${{found##*"$nl"}}; dir=${{found%"$nl"*}}/flexgit.d
}}
watched() {{  # the settings files, then the results files Python named (the branch is the first line)
  {{ IFS= read -r branch || return 1
    printf '%s\\n' {" ".join(SETTINGS_FILES)}
    while IFS= read -r file; do printf '%s\\n' "$file"; done
  }} < "$dir/{WATCH_FILE}"
}}
sums() {{  # the blob id of each watched file, or that it is missing (the missing ones first)
  list=$(watched) || return 1
  set --; set -f; IFS=$nl
  for file in $list; do
    if [ -f "$file" ]; then set -- "$@" "$file"; else printf 'missing %s\\n' "$file"; fi
  done
  set +f; unset IFS
  git hash-object --no-filters -- "$@" </dev/null
}}
refs() {{  # where the runs are: the notes ref and the experiments branch Python named
  IFS= read -r branch < "$dir/{WATCH_FILE}" || return 1
  git for-each-ref --format='%(objectname) %(refname)' {NOTES_REF} "refs/heads/$branch" </dev/null
}}
head= parent= dir=
# A plain repository (.git a folder, GIT_DIR unset) needs no git call to find flexgit's directory.
if [ -z "${{GIT_DIR-}}" ] && [ -d .git ] && [ ! -f .git/commondir ]; then dir=.git/flexgit.d; else where || decide; fi
saved=
if [ -f "$dir/{STATE_FILE}" ] && [ -f "$dir/{WATCH_FILE}" ]; then
  while IFS= read -r line; do saved="$saved$line$nl"; done < "$dir/{STATE_FILE}"
fi
[ -n "$saved" ] && files=$(sums) || decide
# The files first: when the results changed, they differ, and neither the commit nor the refs are asked.
case "$saved" in *"$nl$files$nl") ;; *) decide ;; esac
if [ -z "$head" ]; then where || decide; fi
runs=$(refs) && [ "$saved" = "$parent$nl$runs$nl$files$nl" ] || decide
printf '%s\\n%s\\n%s\\n' "$head" "$runs" "$files" > "$dir/{STATE_FILE}"
printf '%sZ skipped: results unchanged since the commit before (decided by the hook script)\\n' \\
  "$(date -u +%Y-%m-%dT%H:%M:%S)" >> "$dir/{LOG_FILE}"
exit 0
"""


def install(repo: str | os.PathLike | None = None) -> HookStatus:
    """Install the hook, keeping a post-commit hook that is already there."""
    git = GitRepo.open(repo)
    path = hook_path(git)
    if _is_ours(path):
        if path.read_text(encoding="utf-8", errors="replace") != script():  # from another version: brought up to date
            _write_script(git, path)
        return status(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    chained = path.with_name(CHAINED)
    if path.exists() or path.is_symlink():
        if chained.exists():
            raise InputError(f"both {path} and {chained} exist; move one away, then install again")
        path.rename(chained)
    _write_script(git, path)
    return status(repo)


def _write_script(git: GitRepo, path: Path) -> None:
    path.write_text(script())
    (git.flexgit_dir() / STATE_FILE).unlink(missing_ok=True)  # a state kept from an earlier install is not trusted
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


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
    """Whether the hook is installed, the results files it watches and the last line of its log."""
    git = GitRepo.open(repo)
    path = hook_path(git)
    chained = path.with_name(CHAINED)
    log = git.flexgit_dir(create=False) / LOG_FILE
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    results, problem = (), None
    try:
        results = load_settings(git.workdir, git.flexgit_dir(create=False)).results
    except FlexgitError as exc:  # status must still answer; the hook reports the same error at each commit
        problem = str(exc)
    return HookStatus(installed=_is_ours(path), path=path, chained=chained if chained.exists() else None,
                      last=lines[-1].strip() if lines else None, results=results, settings_error=problem)


def post_commit(repo: str | os.PathLike | None = None) -> str:
    """Record a run for the new commit when its results differ from those of the run recorded for
    its nearest first-parent ancestor that has one (or when no ancestor has one).

    Comparing with the commit's own history, not with the last run recorded anywhere, keeps a
    branch switch from recording a copy of a run the new commit's history already has.
    Returns what happened, in one line; the caller logs it and never fails the commit.
    """
    git = GitRepo.open(repo)
    folder = git.flexgit_dir()
    (folder / WATCH_FILE).unlink(missing_ok=True)  # both written again only once this commit is decided
    (folder / STATE_FILE).unlink(missing_ok=True)
    seen = _Fingerprint(git)
    outcome, settings = _post_commit(git, seen)
    if settings is not None:  # decided on the results: the script may decide the next commits alike
        names = [branch_ref(settings.branch).name, *settings.results]
        if not any("\n" in name or "\r" in name for name in names):
            (folder / WATCH_FILE).write_text("".join(name + "\n" for name in names), encoding="utf-8")
            seen.keep(folder / STATE_FILE, branch_ref(settings.branch), settings.results)
    return outcome


class _Fingerprint:
    """What a decision read: the blob ids of the settings files (taken before they are read) and of
    the results files (before theirs), and the runs' refs; kept as `hook-state` only when all are
    still the same once the decision is made. The lines are those the script compares: `git
    for-each-ref`'s and `git hash-object`'s, missing files first."""

    def __init__(self, git: GitRepo):
        self.git = git
        self.head = ""
        self.files = self._ids(SETTINGS_FILES)  # before the settings are read
        self.refs: list[str] | None = None

    def _ids(self, names: Iterable[str]) -> list[tuple[str, str | None]]:
        found = []
        for name in names:
            path = self.git.workdir / name
            found.append((name, self.git.hash_file(path) if path.is_file() else None))
        return found

    def results(self, head: str, branch: BranchRef, names: Iterable[str]) -> None:
        """Before the results files are read: their ids, the commit decided on and the runs' refs."""
        self.head, self.files = head, self.files[:len(SETTINGS_FILES)] + self._ids(names)
        self.refs = self._refs(branch)

    def _refs(self, branch: BranchRef) -> list[str]:
        targets = ((ref, self.git.ref_target(ref)) for ref in sorted((NOTES_REF, branch.ref)))
        return [f"{target} {ref}" for ref, target in targets if target]

    def recorded(self, branch: BranchRef, run: Run) -> None:
        """The refs this process's record left: the decision is on them, if nothing else moved them."""
        if self.refs is not None:
            tips = self._refs(branch)
            self.refs = tips if f"{run.id} {branch.ref}" in tips else None

    def keep(self, path: Path, branch: BranchRef, results: Iterable[str]) -> None:
        """Write the state when a decision was made on files and refs that have not moved since."""
        try:
            now = self._ids(SETTINGS_FILES) + self._ids(results)
            if not self.head or self.refs is None or now != self.files or self._refs(branch) != self.refs:
                return
            lines = [f"missing {name}" for name, oid in now if oid is None] + [oid for _, oid in now if oid]
            runs, files = "\n".join(self.refs), "\n".join(lines)  # as the script prints them
            path.write_text(f"{self.head}\n{runs}\n{files}\n", encoding="utf-8")
        except (OSError, FlexgitError):  # no state: the next commit starts Python again
            path.unlink(missing_ok=True)


def _post_commit(git: GitRepo, seen: _Fingerprint) -> tuple[str, Settings | None]:
    """What the hook did, and the settings when the outcome depends only on the results files, the
    settings and the runs (not on the operation in progress or an error)."""
    operation = git.operation_in_progress()
    if operation or os.environ.get("GIT_REFLOG_ACTION", "").startswith(("rebase", "cherry-pick", "merge")):
        return f"skipped: a {operation or os.environ['GIT_REFLOG_ACTION'].split()[0]} is in progress", None
    settings = load_settings(git.workdir, git.flexgit_dir(create=False))
    head = git.head_commit() or ""
    branch = branch_ref(settings.branch)
    seen.results(head, branch, settings.results)
    if not settings.results:
        return "skipped: no results file configured (results = [...] in .flexgit.toml)", settings
    files = [git.workdir / name for name in settings.results if (git.workdir / name).is_file()]
    if not files:
        return f"skipped: no results file ({', '.join(settings.results)}) exists", settings
    store = open_store(git)
    earlier = _ancestor_run(store, branch, head)
    if earlier is not None and _same_results(merge_sources(files, None, "results"), earlier.metrics):
        return f"skipped: results unchanged since {earlier.name} (commit {str(earlier.source)[:10]})", settings
    subject = escape_control(git.commit(head)[2].strip().split("\n", 1)[0]) if head else ""
    try:
        run = record_working_tree(store, name=f"commit-{head[:10]}", message=subject)
    except RunExistsError:
        return f"skipped: commit {head[:10]} already has a run", None
    seen.recorded(branch, run)
    left_out, set_aside = run.meta.get("left_out") or [], run.meta.get("history_set_aside")
    secrets = run.meta.get("secrets_left_out")
    return f"recorded {run.name} ({run.short_id}) for commit {head[:10]}" + (
        f"; left out of the snapshot, larger than max_file_size: {', '.join(left_out)}" if left_out else "") + (
        f"; left out as they look like secrets: {one_line(', '.join(secrets))}" if secrets else "") + (
        f"; set aside {set_aside} steps an earlier process logged (.git/flexgit.d/{SET_ASIDE})" if set_aside else ""
    ), settings


def log(repo: str | os.PathLike | None, line: str) -> Path | None:
    """Append a timestamped line to the hook log; returns its path (None when it cannot be written)."""
    try:
        path = GitRepo.open(repo).flexgit_dir() / LOG_FILE
        one_line = " ".join(part.strip() for part in line.splitlines() if part.strip())  # `status` shows the last line
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{utc_now()[:19]}Z {one_line}\n")
        return path
    except (OSError, FlexgitError):
        return None


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _ancestor_run(store: Store, branch: BranchRef, head: str) -> Run | None:
    """The run recorded for `head` or its nearest first-parent ancestor that has one (the newest such run)."""
    return store.run_from(branch, store.repo.first_parents(head)) if head else None


def _same_results(results: Mapping[str, Any], recorded: Mapping[str, Any]) -> bool:
    """True when the run recorded every value of `results` as it is now (NaN equals NaN)."""
    return all(key in recorded and _same(recorded[key], value) for key, value in results.items())


def _same(a: Any, b: Any) -> bool:
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return nan or (a == b and isinstance(a, bool) == isinstance(b, bool))
