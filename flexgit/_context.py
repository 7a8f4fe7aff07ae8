"""What every verb needs: open the store, resolve the experiments branch, record a snapshot, write a run.

Verbs build on this module and never on each other; it is not public API.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ._version import __version__
from .errors import InputError
from .project import environment, live
from .project.datafiles import DIGEST_CACHE, fingerprints
from .project.files import write_atomic
from .project.history import ENV as HISTORY_ENV
from .project.history import PENDING, SET_ASIDE, flush, process_id, span, split_pending, summarize
from .project.outputs import Found, find_outputs
from .project.settings import Settings, load_settings
from .project.sources import merge_sources
from .project.values import check_text, flatten, is_safe_text
from .storage.gitrepo import GitRepo, Snapshot
from .storage.refs import ARTIFACTS_DIR, HISTORY_FILE, NOTES_REF, BranchRef, is_valid_branch_name
from .storage.run import Run, utc_now
from .storage.runfiles import Keeper, take_checkpoints
from .storage.store import Store, check_run

if TYPE_CHECKING:
    from .view.query import Table, TableQuery

PathLike = str | os.PathLike


def open_store(repo: PathLike | GitRepo | None = None) -> Store:
    """The store of the repository at `repo` (discovered from the current directory when None)."""
    return Store(repo if isinstance(repo, GitRepo) else GitRepo.open(repo))


def branch_ref(branch: str | None) -> BranchRef:
    """The experiments branch named `branch` (default: experiments), checked."""
    ref = BranchRef.parse(branch)
    if not is_valid_branch_name(ref.name):
        raise InputError(f"{ref.name!r} cannot be a branch name; use letters, digits, '/', '.', '_' and '-'")
    return ref


def target_branch(git: GitRepo, branch: str | None) -> BranchRef:
    """`branch` if given, else the project's configured branch, else experiments."""
    if branch is None and not git.is_bare:
        branch = load_settings(git.workdir, git.flexgit_dir(create=False)).branch
    return branch_ref(branch)


def table_of(store: Store, query: "TableQuery", notes_tree: str | None = None) -> "Table":
    """The table of runs a query asks for, as plain rows: what `flexgit table`, the report and the UI show.

    `notes_tree` reads another notes tree than the local one (ours joined with a remote's).
    """
    from .view.query import Table, build_table  # the query language: not paid by record's start-up

    if query.running:  # not recorded yet: this clone's live state, not the notes
        rows = live.rows(store.repo.flexgit_dir(create=False) / live.RUNNING_DIR)
        return build_table(rows, query) if rows else Table((), [])  # none: no column to name
    target = target_branch(store.repo, query.branch)
    store.branch_tip(target)
    rows = store.rows(target, with_meta=query.mentions_meta(), notes_tree=notes_tree, removed=query.removed)
    return build_table(rows, query)


def report_document(store: Store, query: "TableQuery", title: str | None = None,
                    running: bool = False) -> dict[str, Any]:
    """What the report and the UI show: the table `query` asks for, and for each of its runs the
    meta, notes, curves, output, kept and changed files and code (see `view.report.payload`);
    with `running` (the UI), the live runs of this clone beside them, with their curves so far."""
    from .storage.runcontents import RunFiles
    from .view.report import payload

    target = target_branch(store.repo, query.branch)
    table = table_of(store, query)
    shown = {str(row.get("id")) for row in table.rows}
    runs = [run for run in store.runs(target, removed=query.removed) if run.short_id in shown]
    files, snapshots = RunFiles(store.repo).details(runs)
    details = {run.id: {"id": run.id, "meta": dict(run.meta), "notes": [list(note) for note in run.notes],
                        "tags": list(run.tags), **found} for run, found in zip(runs, files, strict=True)}
    if running and not query.removed:
        table, live_details = _with_live_runs(store, query, table)
        details.update(live_details)
    folder = store.repo.common_dir if store.repo.is_bare else store.repo.workdir
    name = title or f"flexgit runs of {folder.name}"
    return payload(table, details, snapshots, name, target.name, utc_now()[:19] + "Z", tips_of(store, target))


def _with_live_runs(store: Store, query: "TableQuery", table: "Table") -> tuple["Table", dict[str, Any]]:
    """`table` with the live runs `query`'s condition keeps after its rows, each with an id of its own
    (`live` and 6 hex digits), and their details: the curves logged so far."""
    from .project.curves import HISTORY_POINTS, curves
    from .view.query import Table, TableQuery, build_table

    folder = store.repo.flexgit_dir(create=False)
    found = live.entries(folder / live.RUNNING_DIR)
    if not found:
        return table, {}
    rows = []
    for path, _, row in found:
        row["id"] = "live" + path.stem[:6]
    try:
        kept = {row["id"] for row in build_table([row for _, _, row in found], TableQuery(where=query.where)).rows}
    except InputError:  # a condition on columns live runs do not have yet
        kept = set()
    details = {}
    for _, state, row in found:
        if row["id"] in kept:
            rows.append(row)
            details[row["id"]] = {"id": row["id"], "live": True, "meta": {}, "notes": [], "tags": [],
                                  "history": curves(live.history(state, folder / PENDING), HISTORY_POINTS[0]),
                                  "changes": None, "snapshot": None, "files": [], "kept": [], "log": None,
                                  "environment": None}
    columns = list(table.columns)
    if not table.chosen:
        columns += [column for column in build_table(rows).columns if column not in table.columns]
    return Table(tuple(columns), table.rows + rows, table.chosen), details


def tips_of(store: Store, target: BranchRef) -> str:
    """What changes whenever a run is recorded, changed or removed, or a running run's state moves:
    the notes and branch tips, and the live-run state's files (names, sizes, times)."""
    git = store.repo
    running = git.flexgit_dir(create=False) / "running"
    try:
        live = sorted(f"{entry.name}:{entry.stat().st_size}:{entry.stat().st_mtime_ns}"
                      for entry in os.scandir(running))
    except OSError:
        live = []
    return " ".join([str(git.ref_target(NOTES_REF)), str(git.ref_target(target.ref)), *live])


def find_runs(store: Store, names: Iterable[str], example: str) -> list[Run]:
    """The runs `names` name (names or commit id prefixes), each once, in the order given;
    `example` is the command line the error for no names shows."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise InputError(f"name the runs, e.g. {example}")
    found = {}
    for name in names:
        run = store.find(name)
        found.setdefault(run.id, run)
    return list(found.values())


def runs_matching(store: Store, where: str, branch: str | None = None, removed: bool = False) -> list[Run]:
    """The runs of `branch` (the removed ones with `removed`) whose table row matches `where`, oldest first."""
    from .view.query import TableQuery, build_table  # the query language: not every command's start-up

    target = target_branch(store.repo, branch)
    store.branch_tip(target)
    query = TableQuery(branch=branch, where=where)
    rows = build_table(store.rows(target, with_meta=query.mentions_meta(), removed=removed), query).rows
    by_id: dict[str, list[Run]] = {}
    for run in store.runs(target, removed=removed):
        by_id.setdefault(run.short_id, []).append(run)
    return [run for row in rows for run in by_id.pop(row["id"], [])]


def pending_path(repo: PathLike | GitRepo | None = None) -> Path:
    """Where `flexgit.log` writes: $FLEXGIT_HISTORY, else a file in the repository's flexgit directory."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV])
    git = repo if isinstance(repo, GitRepo) else GitRepo.open(repo)
    return git.flexgit_dir() / PENDING


def record_working_tree(store: Store, name: str | None = None, message: str | None = None,
                        params: Mapping[str, Any] | None = None, metrics: Mapping[str, Any] | None = None,
                        config_files: Iterable[PathLike] | None = None,
                        results_files: Iterable[PathLike] | None = None, branch: str | None = None,
                        artifacts: Mapping[str, PathLike] | None = None,
                        meta: Mapping[str, Any] | None = None, outputs: Iterable[PathLike] | None = None,
                        status: str | None = None, group: str | None = None, parent: str | None = None) -> Run:
    """Record a run of the working tree as it is now (see `flexgit.record`)."""
    git = store.repo
    git.require_worktree()  # before anything else
    settings = load_settings(git.workdir, git.flexgit_dir(create=False))
    target = branch_ref(branch or settings.branch)
    if config_files is None:
        config_files = [git.workdir / f for f in settings.config if (git.workdir / f).is_file()]
    if results_files is None:
        results_files = [git.workdir / f for f in settings.results if (git.workdir / f).is_file()]
    if name:
        store.check_name_free(name)
    message = check_text(message or "", "the message")
    store.branch_tip(target)  # refuse a foreign branch before snapshotting
    params = merge_sources(config_files, params, "config")
    metrics = merge_sources(results_files, metrics, "results")
    extra_meta = flatten(meta or {}, "the meta given")
    check_meta_keys(extra_meta, "the meta given")
    grouping = run_grouping(store, status, group, parent)
    kept = {check_artifact_name(key): Path(path) for key, path in (artifacts or {}).items()}
    for path in kept.values():
        if not path.is_file():
            raise InputError(f"artifact '{path}' is not a file; pass the path of a file to keep with the run")
    found = named_outputs(git.workdir, settings, outputs)
    tree, left_out, _ = snapshot(git, settings, skip=found.files)
    extra_meta.update(left_out)  # listed in the run; the CLI warns
    keeper = Keeper(git, settings.lfs_threshold)
    files = {f"{ARTIFACTS_DIR}/{key}": keeper.keep(path, f"artifact {key}") for key, path in kept.items()}
    files.update(keeper.keep_found(found))
    extra_meta.update(output_meta(found, keeper))
    pending = pending_path(git)
    logged = read_history(pending)
    history = split_pending(logged, process_id())
    if history.set_aside_steps:
        extra_meta["history_set_aside"] = history.set_aside_steps  # the CLI warns
    run = Run(name=name or "", message=message or "", params=params, metrics=metrics, meta=extra_meta, **grouping)
    written = write_run(store, target, tree, run, files, Path.cwd(), history.taken,
                        private=settings.private_meta)
    _settle_pending(pending, logged, history.set_aside, git.flexgit_dir() / SET_ASIDE)
    live.settle(git.flexgit_dir() / live.RUNNING_DIR, history.procs)  # these runs are no longer live
    return written


STATUSES = ("ok", "failed", "interrupted", "pruned")


def run_grouping(store: Store, status: str | None, group: str | None, parent: str | None) -> dict[str, str]:
    """The `status`, `group` and `parent` (a run's full id) of a recorded run, checked."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if group is not None and (not group.strip() or len(group) > 200 or not is_safe_text(group) or "\n" in group):
        raise InputError(f"group {group!r} cannot be a group; give one line of text, 200 characters at most")
    return {"status": status or "", "group": group or "", "parent": store.find(parent).id if parent else ""}


def named_outputs(workdir: Path, settings: Settings, outputs: Iterable[PathLike] | None) -> Found:
    """The output files a record keeps: `outputs` (relative to the current directory, globs allowed)
    when given, else the settings' (from the top of the working tree). A path outside the working
    tree, or a link to outside it, is refused: nothing is recorded."""
    if outputs is None:
        found = find_outputs(workdir, settings.outputs)
    else:
        found = find_outputs(workdir, [os.fspath(path) for path in outputs], base=Path.cwd())
    if found.refused:
        raise InputError(f"output {found.refused[0]} cannot be kept with the run: name files inside the working "
                         "tree; nothing was recorded")
    return found


RUN_FILES = (".flexgit-*",)  # flexgit's own files at the top of a `flexgit run` checkout: never outputs


def collect_outputs(git: GitRepo, settings: Settings, root: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The settings' outputs found in `root` (a run's checkout), stored: their tree entries inside
    `.flexgit/`, and the meta that says what was missing or refused (kept going: the command ran)."""
    found = find_outputs(root, settings.outputs, skip=RUN_FILES)
    keeper = Keeper(git, settings.lfs_threshold)
    return keeper.keep_found(found), output_meta(found, keeper)


def output_meta(found: Found, keeper: Keeper) -> dict[str, Any]:
    """What a run's meta says of its outputs: the patterns that matched nothing (`outputs_missing`),
    those refused (`outputs_refused`), and the large files kept as plain blobs for want of git-lfs
    (`not_in_lfs`). The CLI warns of each."""
    found_meta = {"outputs_missing": found.missing, "outputs_refused": found.refused, "not_in_lfs": keeper.not_in_lfs}
    return {key: list(value) for key, value in found_meta.items() if value}


def snapshot_meta(snapshot: Snapshot) -> dict[str, Any]:
    """What a run's meta says of a snapshot that differs from the working tree: the git repositories
    inside it that were left out (`nested_repos`), and the number of files outside a sparse checkout
    whose committed version it holds (`outside_sparse`). The CLI warns of both."""
    meta: dict[str, Any] = {}
    if snapshot.nested:
        meta["nested_repos"] = list(snapshot.nested)
    if snapshot.sparse:
        meta["outside_sparse"] = len(snapshot.sparse)
    return meta


def read_history(path: Path) -> bytes:
    """The lines logged to `path` so far, this process's buffered ones included (none when it does not exist)."""
    flush()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _settle_pending(pending: Path, read: bytes, set_aside: bytes, set_aside_path: Path) -> None:
    """Keep the lines no run took in the set-aside file, and drop what this record read from the pending
    file; lines a process logged since it was read stay pending."""
    if set_aside:
        with open(set_aside_path, "ab") as out:
            out.write(set_aside)
    now = read_history(pending)
    rest = now[len(read):] if now.startswith(read) else now
    if rest:
        write_atomic(pending, rest)
    else:
        pending.unlink(missing_ok=True)


def snapshot(git: GitRepo, settings: Settings, skip: Iterable[str] = ()) -> tuple[str, dict[str, Any], list[str]]:
    """The tree of the working tree by the project's settings; the meta that says what it left out
    (`left_out` for size, `secrets_left_out`, `nested_repos`), which tracked files in it look like
    secrets (`secrets_tracked`: already in the user's history, so only reported) and how many
    files outside a sparse checkout it holds as committed (`outside_sparse`); and every path it
    left out, for whatever reason (include, exclude, size, secrets, a repository of its own)."""
    rules = settings.snapshot_filter(skip)
    taken = git.snapshot_tree(rules.keep)
    tracked = [path for path in git.files_matching(taken.tree, rules.pathspecs()) if settings.is_secret(path)]
    found = {"left_out": rules.too_large, "secrets_left_out": sorted(rules.secrets), "secrets_tracked": tracked}
    meta: dict[str, Any] = {key: paths for key, paths in found.items() if paths}
    return taken.tree, {**meta, **snapshot_meta(taken)}, taken.left_out


def write_run(store: Store, target: BranchRef, tree: str, run: Run, files: Mapping[str, str], data_dir: Path,
              history: bytes = b"", private: bool = False) -> Run:
    """Record `run` with code `tree`: adds the date, flexgit's meta (which wins over the run's),
    fingerprints of its data (relative paths read from `data_dir`) and the step-wise metrics
    of `history`, if any (kept whole, their summary under the run's own metrics, their count
    and start in its meta), and the environment (`.flexgit/environment.txt`, `env.*` meta).
    `private` leaves the host name, platform details and absolute paths out of the meta
    (`private_meta`)."""
    git = store.repo
    now = utc_now()
    files = dict(files)
    metrics = dict(run.metrics)
    meta = dict(run.meta)
    history, checkpoint_files, checkpoint_meta = take_checkpoints(git, history)
    files.update(checkpoint_files)
    meta.update(checkpoint_meta)
    if history:
        metrics = {**summarize(history), **metrics}
        steps, since = span(history)
        meta.update({"history_steps": steps, **({"history_since": since} if since else {})})
    data = fingerprints(run.params, git.workdir, data_dir, git.flexgit_dir() / DIGEST_CACHE)
    requirements, env_meta = environment.capture(git.flexgit_dir())
    meta = {**meta, **collect_meta(git, tree), **env_meta}
    if private:
        meta = environment.private(private_meta(meta, git.workdir))
    run = replace(run, metrics=metrics, meta=meta, date=now[:19] + "Z", time=now, data=data)
    check_run(run)  # a refused run writes nothing, not even these blobs
    if history:
        files[HISTORY_FILE] = git.write_blob(history)
    files[environment.ENVIRONMENT_FILE] = git.write_blob(requirements.encode())
    return store.write([run], [tree], target, [files])[0]


def check_artifact_name(name: str) -> str:
    """An artifact name is a plain file name."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or any(ord(c) < 32 for c in name):
        raise InputError(f"{name!r} cannot be an artifact name; use a plain file name such as model.pkl")
    return name


AUTO_META = ("user", "email", "host", "platform", "python", "flexgit", "command", "source", "source_branch",
             "dirty")
# flexgit's own meta keys, which it writes and reads back (`show` diffs against `source`, skips
# `imported` runs): never taken from the meta a caller gives or from an imported CSV.
RESERVED_META = AUTO_META + ("imported", "left_out", "secrets_left_out", "secrets_tracked", "outputs_missing",
                             "outputs_refused", "not_in_lfs", "checkpoints", "checkpoints_lost", "resumed")


def is_reserved_meta(key: str) -> bool:
    """True for a meta key flexgit writes itself: `RESERVED_META` and the environment's `env.*`."""
    return key in RESERVED_META or key.startswith(environment.PREFIX)


def check_meta_keys(keys: Iterable[str], where: str) -> None:
    """Refuse meta keys that are flexgit's own."""
    taken = [key for key in keys if is_reserved_meta(key)]
    if taken:
        raise InputError(f"{where} sets {', '.join(map(repr, taken))}, which flexgit writes itself "
                         f"({', '.join(RESERVED_META)}, env.*); give yours other names")


def collect_meta(git: GitRepo, snapshot_tree: str) -> dict[str, Any]:
    """What is known about the circumstances of a run, without asking the user."""
    name, email = git.identity()
    source = git.head_commit()
    source_tree = git.commit(source)[0] if source else git.update_tree(None, {})
    meta = {"user": name, "email": email, "host": socket.gethostname(), "platform": environment.platform_name(),
            "python": environment.python_version(), "flexgit": __version__,
            "command": command_line(),
            "source": source, "source_branch": git.head_branch(), "dirty": snapshot_tree != source_tree}
    return {key: value for key, value in meta.items() if value is not None}


def private_meta(meta: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    """`meta` for a run that may be shared: no host name, the platform's name only, and the command
    lines' absolute paths made relative to the working tree (or cut to their last part outside it)."""
    private = {key: value for key, value in meta.items() if key != "host"}
    if "platform" in private:
        import platform  # only for private meta: a record does without the module

        private["platform"] = platform.system()
    for key in ("command", "run_command", "results_error"):
        if isinstance(private.get(key), str):
            private[key] = private_text(private[key], workdir)
    return private


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/[^\s'\"=:,;]*")


def private_text(text: str, workdir: Path) -> str:
    """`text` with absolute paths inside `workdir` made relative to it, and others cut to `.../NAME`."""
    tops = {str(workdir).rstrip("/") + "/", str(workdir.resolve()).rstrip("/") + "/"}

    def shorten(found: re.Match) -> str:
        path = found.group()
        top = next((top for top in tops if (path + "/").startswith(top)), None)
        if top is not None:
            return path[len(top):] or "."
        return ".../" + posixpath.basename(path.rstrip("/"))

    return _ABSOLUTE_PATH.sub(shorten, text)


def command_line() -> str:
    """The command that is recording, with the program named by its file name only."""
    if not sys.argv or not sys.argv[0]:
        return ""
    program = [os.path.basename(sys.argv[0])]
    if program == ["__main__.py"]:
        program = ["python", "-m", os.path.basename(os.path.dirname(sys.argv[0]))]
    return shlex.join(program + sys.argv[1:])
