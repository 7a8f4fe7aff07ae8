"""`flexgit run`: run a training command, keep its output, record the run; grids of runs in parallel.

Each run executes in a temporary checkout of the snapshot of the working tree taken at launch,
with its `-S key=value` overrides written into the project's config file there (the user's copy
is never touched). Top-level folders that git ignores (a `data/` folder) and files the snapshot
left out (`exclude`, `include`, `max_file_size`) are linked into the checkout, and top-level
files git ignores are copied, so the command finds what it would find in the working tree; not
those holding a results file, which the command writes. The run records the overridden config as
its params, the results files the command wrote as its metrics, its output as
`.flexgit/output.log`, and its status, exit code and duration. Temporary checkouts are always
removed: SIGTERM and SIGHUP stop the commands as Ctrl-C does; if flexgit itself is killed
(SIGKILL), a watchdog process stops the commands, and the next `flexgit run` removes the
checkouts of a flexgit that is no longer running (their folder names carry the owner's process
id).

`--on slurm` hands the grid to a cluster instead (`flexgit.executors`): every checkout is prepared
at launch in the shared folder, the engine runs them, and each run is recorded here by the same
`_prepare` and `_record` as a local run, exactly once, attached or by `flexgit collect`.
`--gpus-per-run N` lends each local run its own GPUs (`CUDA_VISIBLE_DEVICES`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .._context import (branch_ref, collect_outputs, open_store, private_text, read_history, snapshot, target_branch,
                        write_run)
from ..errors import InputError, RunExistsError, UnknownRunError
from ..executors import Executor, JobState, cluster, executor_for
from ..project.gpus import GpuPool
from ..project.sweepdir import SweepDir
from ..project.formats import dumps, loads
from ..project import live, watchdog
from ..project.monitor import Monitor
from ..project.checkpoints import REPO_ENV, ROOT_ENV
from ..project.history import ENV as HISTORY_ENV
from ..project.outputs import is_output, literal, output_tops
from ..project.settings import load_settings
from ..project.sources import load_flat, merge_sources
from ..project.values import Scalar, check_key, escape_control, format_value, parse_scalar
from ..storage.refs import OUTPUT_LOG
from ..storage.run import Run
from ..storage.runfiles import place_checkpoints, resumable

STOP_GRACE_SECONDS = 10
TEMP_PREFIX = live.CHECKOUT_PREFIX  # then the owner's process id: flexgit-run-4242-k3j2x9
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP asked `flexgit run` to stop: handled as Ctrl-C is."""

    def __init__(self, number: int):
        super().__init__(f"signal {number}")
        self.signal = number


def expand_grid(assignments: Sequence[str]) -> list[dict[str, Scalar]]:
    """`-S lr=0.1,0.01 -S depth=3,5` -> the 4 combinations, in order; no assignment -> one run."""
    axes = []
    for text in assignments:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not values.strip():
            raise InputError(f"-S {text!r} has no value; write -S KEY=VALUE or -S KEY=V1,V2")
        check_key(key, "-S")
        axes.append([(key, parse_scalar(v.strip())) for v in values.split(",")])
    return [dict(combination) for combination in itertools.product(*axes)]


@dataclass
class Outcome:
    """What happened to one run of a sweep."""

    overrides: dict[str, Scalar]
    status: str = "not started"  # ok, failed, interrupted, not started
    exit_code: int | None = None
    run: Run | None = None
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # more for the run's meta (its Slurm job, its GPUs)
    files: dict[str, Path] = field(default_factory=dict)  # more files for its .flexgit/ (Slurm's logs)


@dataclass
class Progress:
    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    interrupted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Sweep:
    """One `flexgit run`: a command and the grid of overrides it runs with."""

    def __init__(self, command: Sequence[str], grid: list[dict[str, Scalar]], name: str | None = None,
                 branch: str | None = None, repo: str | os.PathLike | None = None, parent: str | None = None,
                 on_output: Callable[[str, str], None] = lambda label, line: None,
                 on_progress: Callable[[Progress], None] = lambda progress: None, resume: str | None = None,
                 gpus_per_run: int = 0):
        if not command:
            raise InputError("give the command to run after --, e.g. flexgit run -- python train.py")
        self.command = list(command)
        self.grid = grid
        self.store = open_store(repo)
        git = self.store.repo
        git.require_worktree()
        self.target = target_branch(git, branch)
        self.store.branch_tip(self.target)
        self.settings = load_settings(git.workdir)
        self.placed: tuple[str, ...] = ()  # top-level entries that hold the resumed run's checkpoints
        self.resumed = self._resumed(resume)
        self.parent = self._parent(parent) or (self.resumed.id if self.resumed else "")
        self.group = name if name and not TEMPLATE_FIELD.search(name) else self._new_group()
        self.names = self._names(name)
        self.config_file = self._config_file()
        self.subdir = _relative_cwd(git.workdir)
        self.on_output, self.on_progress = on_output, on_progress
        self.progress = Progress(total=len(grid))
        self.stopping = threading.Event()
        self.children: dict[int, subprocess.Popen] = {}
        self.watchdog: subprocess.Popen | None = None
        self.watch_lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        # One repository object serves all workers; libgit2 objects are not for concurrent use.
        self.git_lock = threading.Lock()
        tree, self.left_meta, self.left_out = snapshot(git, self.settings)  # left out of the record, not of sight
        if self.resumed:  # the resumed run's code, not the working tree's
            tree = self.store.code_tree(self.resumed)
        self.snapshot = git.update_tree(tree, {f: None for f in self.settings.results})
        self.gpus = GpuPool(gpus_per_run) if gpus_per_run else None
        self.gpu_env: dict[int, dict[str, str]] = {}

    def _resumed(self, name: str | None) -> Run | None:
        """The run `--resume` names, its checkpoints fetched here if they are elsewhere."""
        if not name:
            return None
        try:
            run = self.store.find(name)
        except UnknownRunError as exc:
            raise UnknownRunError(f"--resume: {exc}") from None
        self.placed = output_tops(map(literal, resumable(self.store.repo, run)))  # never linked from here
        return run

    def _parent(self, name: str | None) -> str:
        if not name:
            return ""
        try:
            return self.store.find(name).id
        except UnknownRunError as exc:
            raise UnknownRunError(f"--parent: {exc}") from None

    def _new_group(self) -> str:
        """`g-` and 6 hex digits that no group has yet (1,000 sweeps would share one 3% of the time)."""
        while True:
            group = "g-" + secrets.token_hex(3)
            if not any(row.get("group") == group for row in self.store.rows(None, removed=None)):
                return group

    def _names(self, name: str | None) -> list[str]:
        """The runs' names: from a template (`lr{lr}-d{depth}`), NAME-1, NAME-2, ... for a grid under a
        plain name, else the group and the overrides that vary. Checked, all of them, before any run."""
        if name is not None and TEMPLATE_FIELD.search(name):
            names = [fill_template(name, point) for point in self.grid]
        elif name is not None:
            names = [name] if len(self.grid) == 1 else [f"{name}-{i + 1}" for i in range(len(self.grid))]
        else:
            names = default_names(self.group, self.grid)
        twice = next((each for i, each in enumerate(names) if each in names[:i]), None)
        if twice is not None:
            raise InputError(f"--name {name!r} gives the name '{twice}' to two runs; put every -S key that has "
                             "several values in it, e.g. {lr}")
        for each in names:
            self.store.check_name_free(each)
        return names

    def _config_file(self) -> str | None:
        overridden = {key for point in self.grid for key in point}
        if not overridden:
            return None
        if not self.settings.config:
            raise InputError("-S overrides the config file, and none is set: put config = [\"params.toml\"] in "
                             ".flexgit.toml")
        name = self.settings.config[0]
        known = load_flat(self.store.repo.workdir / name, "config")
        missing = sorted(overridden - set(known))
        if missing:
            raise InputError(f"-S {missing[0]}: there is no key '{missing[0]}' in {name}; the keys are "
                             f"{', '.join(sorted(known))}")
        return name

    def run(self, jobs: int = 1) -> list[Outcome]:
        """Run the grid, `jobs` at a time. Ctrl-C, SIGTERM and SIGHUP stop the workers and record them
        as interrupted (a signal raises `Stopped`, a KeyboardInterrupt)."""
        remove_orphaned_checkouts()
        self.outcomes = outcomes = [Outcome(dict(point)) for point in self.grid]
        pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        with _signals_interrupt():
            one = self._one_on_gpus if self.gpus else self._one
            futures = [pool.submit(one, i, outcome) for i, outcome in enumerate(outcomes)]
            try:
                for future in futures:
                    future.result()
            except KeyboardInterrupt:
                self.stop()
                for future in futures:
                    future.cancel()
                pool.shutdown(wait=True)
                raise
            finally:
                pool.shutdown(wait=True)
                self._end_watch()
        return outcomes

    def stop(self) -> None:
        """Interrupt the running commands (SIGINT to their process groups, SIGKILL after a grace period)."""
        self.stopping.set()
        for child in list(self.children.values()):
            _signal(child, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in list(self.children.values()):
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(child, signal.SIGKILL)

    def _one_on_gpus(self, index: int, outcome: Outcome) -> None:
        """`_one` holding GPUs of its own, which no other run has until it ends."""
        devices = self.gpus.take(self.stopping)
        if devices is None:
            return
        self.gpu_env[index] = {"CUDA_VISIBLE_DEVICES": ",".join(devices)}
        outcome.meta["cuda_visible_devices"] = ",".join(devices)
        try:
            self._one(index, outcome)
        finally:
            self.gpus.give(devices)

    def _one(self, index: int, outcome: Outcome) -> None:
        if self.stopping.is_set():
            return
        self._count(running=1)
        checkout = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
        try:
            with self.git_lock:
                tree = self._prepare(checkout, outcome.overrides)
            label = self.names[index]
            started = time.monotonic()
            outcome.exit_code = self._execute(checkout, label, index)
            duration = round(time.monotonic() - started, 3)
            outcome.status = ("interrupted" if self.stopping.is_set() and outcome.exit_code != 0
                              else "ok" if outcome.exit_code == 0 else "failed")
            with self.git_lock:
                outcome.run = self._record(index, checkout, tree, outcome, duration)
        except Exception as exc:  # noqa: BLE001 - one failed run must not stop the others
            outcome.status, outcome.error = "failed", str(exc)
        finally:
            shutil.rmtree(checkout, ignore_errors=True)
            live.remove(self._live_path(index))  # recorded, or never will be
            self._count(running=-1, done=1, failed=int(outcome.status == "failed"),
                        interrupted=int(outcome.status == "interrupted"))

    def _prepare(self, checkout: Path, overrides: dict[str, Scalar]) -> str:
        git = self.store.repo
        tree = self.snapshot
        if overrides:  # applied to the config as it was at launch, whatever happened to it since
            original = git.read_blob(git.tree_entry(self.snapshot, self.config_file)).decode("utf-8")
            text = _with_overrides(original, Path(self.config_file).suffix.lower(), overrides)
            tree = git.update_tree(tree, {self.config_file: git.write_blob(text.encode())})
        git.export_tree(tree, checkout)
        git.link_ignored_top_level(checkout, outputs=self.settings.results + output_tops(self.settings.outputs)
                                   + self.placed)
        self._link_left_out(checkout)
        if self.resumed:
            place_checkpoints(git, self.resumed, git.commit(self.resumed.id)[0], checkout)
        return tree

    def _link_left_out(self, checkout: Path) -> None:
        """Link the files the snapshot left out (exclude, include, max_file_size) into the checkout, so the
        command sees what it would see in the working tree; the results files are the command's to write."""
        workdir = self.store.repo.workdir
        for path in self.left_out:
            source, target = workdir / path, checkout / path
            if path in self.settings.results or is_output(path, self.settings.outputs) or \
                    not (source.exists() or source.is_symlink()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() or target.is_symlink():
                target.unlink()  # the committed version of a file whose working copy was left out
            target.symlink_to(source)

    def _execute(self, checkout: Path, label: str, index: int) -> int:
        cwd = checkout / self.subdir
        env = {**os.environ, "FLEXGIT_RUN": label, HISTORY_ENV: str(checkout / ".flexgit-history.jsonl"),
               REPO_ENV: str(self.store.repo.workdir), ROOT_ENV: str(checkout), **self.gpu_env.get(index, {})}
        with open(checkout / ".flexgit-output.log", "wb") as log:
            child = subprocess.Popen(self.command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            self.children[index] = child
            self._watch(f"+{child.pid}")  # its own session: its process group has its id
            monitor = self._monitor(child.pid, checkout, label, index)
            try:
                for raw in child.stdout:
                    log.write(raw)
                    self.on_output(label, raw.decode(errors="replace").rstrip("\n"))
                return child.wait()
            finally:
                monitor.stop()
                child.stdout.close()
                self.children.pop(index, None)
                if child.poll() is not None:
                    self._watch(f"-{child.pid}")

    def _monitor(self, pid: int, checkout: Path, label: str, index: int) -> Monitor:
        """Sample the command's processes into its history (`sys.*`) and show it in `table --running`."""
        state = {"name": label, "command": " ".join(self.command), "group": self.group, "checkout": str(checkout),
                 "params": self.outcomes[index].overrides if index < len(self.outcomes) else {}}
        return Monitor(pid, checkout / ".flexgit-history.jsonl", self._live_path(index), state,
                       self.settings.system_metrics)

    def _live_path(self, index: int) -> Path:
        return live.state_path(self.store.repo.flexgit_dir() / live.RUNNING_DIR, f"run {os.getpid()} {index}")

    def _watch(self, line: str) -> None:
        """Tell the watchdog (started with the first command) that a process group started or ended."""
        with self.watch_lock:
            try:
                if self.watchdog is None:
                    self.watchdog = watchdog.start()
                self.watchdog.stdin.write(line + "\n")
                self.watchdog.stdin.flush()
            except OSError:  # a watchdog that cannot start or died cannot help; the run goes on
                pass

    def _end_watch(self) -> None:
        """Let the watchdog go: every command has ended."""
        with self.watch_lock:
            if self.watchdog is not None:
                with contextlib.suppress(OSError):
                    self.watchdog.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.watchdog.wait(timeout=STOP_GRACE_SECONDS)
                self.watchdog = None

    def _record(self, index: int, checkout: Path, tree: str, outcome: Outcome, duration: float) -> Run:
        git = self.store.repo
        root = checkout / self.subdir
        params = merge_sources([checkout / f for f in self.settings.config if (checkout / f).is_file()], None, "config")
        meta: dict[str, Any] = {"run_command": " ".join(self.command), "exit_code": outcome.exit_code,
                                "duration_s": duration, **self.left_meta, **outcome.meta}
        # a job the engine ended before its command did (node failure, cancelled while pending) has no exit
        # code, and may have no duration: a value of meta is never None, or no reader takes the run
        meta = {key: value for key, value in meta.items() if value is not None}
        try:  # a failed command may leave no results, or broken ones: it is recorded all the same
            metrics = merge_sources([checkout / f for f in self.settings.results if (checkout / f).is_file()],
                                    None, "results")
        except InputError as exc:
            metrics, meta["results_error"] = {}, str(exc)
        if self.resumed:
            meta["resumed"] = self.resumed.id
        outputs, output_meta = collect_outputs(git, self.settings, checkout)  # partial ones too, if it failed
        meta.update(output_meta)
        log = git.write_blob_from_file(checkout / ".flexgit-output.log")
        kept = {name: git.write_blob_from_file(path) for name, path in outcome.files.items()}
        message = escape_control(f"flexgit run {' '.join(self.command)}")
        if self.settings.private_meta:
            message = private_text(message, git.workdir)
        run = Run(name=self.names[index], params=params, metrics=metrics, meta=meta, status=outcome.status,
                  message=message, group=self.group, parent=self.parent)
        # The history file is this run's own: every line in it is the run's, whichever process logged it.
        return write_run(self.store, self.target, tree, run, {OUTPUT_LOG: log, **outputs, **kept}, root,
                         read_history(checkout / ".flexgit-history.jsonl"), private=self.settings.private_meta)

    def _count(self, running: int = 0, done: int = 0, failed: int = 0, interrupted: int = 0) -> None:
        with self.progress.lock:
            self.progress.running += running
            self.progress.done += done
            self.progress.failed += failed
            self.progress.interrupted += interrupted
        if done:
            self.on_progress(self.progress)

    # -- on a cluster's engine (`--on slurm`): see flexgit.executors.cluster ---------------------------

    def submit(self, on: str, options: dict[str, Any], jobs: int = 1, detach: bool = False,
               on_state: Callable[[dict[str, int]], None] = lambda counts: None,
               on_record: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
        """Hand the grid to engine `on` as one submission, `jobs` at once; unless `detach`, record each run
        as it ends. KeyboardInterrupt stops the watching, never the jobs: `flexgit collect` records them."""
        executor = executor_for(on, options, self.settings.slurm)
        self.outcomes = [Outcome(dict(point)) for point in self.grid]
        self.sweepdir = cluster.launch(self, executor, jobs)
        self.manifest = self.sweepdir.manifest()
        self.trees = self.manifest["trees"]
        if not detach:
            cluster.watch(self, self.sweepdir, executor, self.manifest["handle"], on_state, on_record,
                          executor.poll)
        return self.outcomes

    @classmethod
    def reopen(cls, store, sweepdir: SweepDir, manifest: dict[str, Any]) -> "Sweep":
        """A sweep submitted earlier, from its manifest: what recording its runs needs."""
        sweep = cls.__new__(cls)
        git = store.repo
        first = next((sweepdir.job_dir(i) for i in range(len(manifest["grid"])) if sweepdir.job_dir(i).is_dir()),
                     git.workdir)
        sweep.store, sweep.sweepdir, sweep.manifest = store, sweepdir, manifest
        sweep.settings = load_settings(first)  # as they were at launch: the snapshot holds them
        sweep.command, sweep.grid, sweep.names = list(manifest["command"]), manifest["grid"], manifest["names"]
        sweep.group, sweep.parent, sweep.trees = manifest["group"], manifest.get("parent") or "", manifest["trees"]
        sweep.target, sweep.subdir = branch_ref(manifest.get("branch")), Path(manifest["subdir"])
        sweep.left_meta = manifest["left_meta"]
        sweep.resumed = store.find(manifest["resumed"]) if manifest.get("resumed") else None
        sweep.placed = ()  # used when preparing checkouts, which a reopened sweep never does
        sweep.outcomes = [Outcome(dict(point)) for point in sweep.grid]
        sweep.git_lock = threading.Lock()
        return sweep

    def _record_job(self, index: int, state: JobState, executor: Executor, handle: dict[str, Any]) -> Outcome:
        """Record job `index`, which the engine says has ended (under the sweep's lock)."""
        outcome = self.outcomes[index]
        checkout = self.sweepdir.job_dir(index)
        info = cluster.ended_info(checkout, state)
        outcome.status, outcome.exit_code = state.status, info["exit_code"]
        outcome.meta = {f"{executor.name}_job": state.job_id, f"{executor.name}_node": info["node"],
                        f"{executor.name}_state": state.engine_state}
        if info["attempts"] > 1:
            outcome.meta[f"{executor.name}_attempts"] = info["attempts"]
        outcome.files = executor.logs(handle, index)
        try:
            outcome.run = self._recorded_before(index, outcome.meta)
            if outcome.run is None:
                cluster.output_file(checkout)
                with self.git_lock:
                    outcome.run = self._record(index, checkout, self.trees[index], outcome, info["duration_s"])
        except Exception as exc:  # noqa: BLE001 - one job that cannot be recorded must not stop the others
            outcome.error = str(exc)
        return outcome

    def _recorded_before(self, index: int, job: dict[str, Any]) -> Run | None:
        """The run of this job if a recorder killed before marking it recorded it already."""
        name = self.names[index]
        if self.store.name_target(name) is None:
            return None
        run = self.store.find(name)
        key = next(iter(job))  # slurm_job: the engine's id of the job
        if run.group == self.group and run.meta.get(key) == job[key]:
            return run
        raise RunExistsError(f"a run named '{name}' was recorded since the sweep started; rename it "
                             f"('flexgit rename {name} NEW') and collect again")


def collect(repo: str | os.PathLike | None = None,
            on_record: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """`flexgit collect`: record every job that has ended of every sweep submitted from this repository and
    not recorded yet. Safe to run at any time, from many processes at once: a job is recorded once."""
    store = open_store(repo)
    store.repo.require_worktree()
    outcomes: list[Outcome] = []

    def keep(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_record(outcome)

    for sweepdir, manifest in cluster.waiting(store):
        sweep = Sweep.reopen(store, sweepdir, manifest)
        cluster.collect_once(sweep, sweepdir, executor_for(manifest["engine"]), manifest["handle"], keep)
    return outcomes


def status(group: str | None = None, repo: str | os.PathLike | None = None) -> list[cluster.SweepStatus]:
    """`flexgit status [GROUP]`: the jobs of the sweeps that are submitted and not all recorded."""
    store = open_store(repo)
    store.repo.require_worktree()
    found = cluster.status(store, group)
    if group is not None and not found:
        recorded = any(row.get("group") == group for row in store.rows(None, removed=None))
        raise InputError(f"sweep '{group}' is recorded, every run of it: 'flexgit table --where \"group = {group}\"'"
                         if recorded else f"no sweep '{group}' is waiting; 'flexgit status' lists those that are")
    return found


TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.+=%@-]+")
_DOTS = re.compile(r"\.{2,}")


def fill_template(template: str, point: dict[str, Scalar]) -> str:
    """`lr{lr}-d{depth}` with the values of one grid point: `lr0.1-d3`."""
    def value(match: re.Match) -> str:
        key = match.group(1).strip()
        if key not in point:
            keys = ", ".join(point) or "none, as no -S is given"
            raise InputError(f"--name {template!r} names {{{key}}}, which no -S sets; the keys are {keys}")
        return format_value(point[key])
    return TEMPLATE_FIELD.sub(value, template)


def default_names(group: str, grid: list[dict[str, Scalar]]) -> list[str]:
    """The group, then each override that varies (all of a single run's): `g-1a2b3c-lr0.1-depth3`.

    Values are cut to the characters a name may hold; should two runs still get one name, the
    names are numbered instead.
    """
    keys = [key for key in dict.fromkeys(k for point in grid for k in point)
            if len(grid) == 1 or len({format_value(point.get(key)) for point in grid}) > 1]
    names = [_DOTS.sub(".", "-".join([group] + [_NOT_IN_NAME.sub("_", f"{key}{format_value(point[key])}")[:24]
                                                for key in keys if key in point]))[:100].rstrip(".") for point in grid]
    if len(set(names)) < len(names):
        names = [f"{group}-{i + 1}" for i in range(len(grid))]
    return names


def _with_overrides(text: str, kind: str, overrides: dict[str, Scalar]) -> str:
    """The config file's text with dotted keys set to new values, in the file's own format."""
    data = loads(text, kind)
    for key, value in overrides.items():
        _set_dotted(data, key, value)
    return dumps(data, kind)


def _set_dotted(data: dict[str, Any], key: str, value: Scalar) -> None:
    if key in data:
        data[key] = value
        return
    head, _, rest = key.partition(".")
    _set_dotted(data[head], rest, value)


def _relative_cwd(workdir: Path) -> Path:
    try:
        return Path.cwd().resolve().relative_to(workdir.resolve())
    except ValueError:
        return Path(".")


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Stopped` in the main thread while the block runs, once: the commands
    are then stopped and recorded as on Ctrl-C. Handlers set by others (or SIG_IGN, as under nohup)
    are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    mine = [number for number in STOP_SIGNALS if signal.getsignal(number) == signal.SIG_DFL]

    def stop(number: int, frame: Any) -> None:
        for each in mine:
            signal.signal(each, signal.SIG_IGN)  # a second signal must not break off the stopping
        raise Stopped(number)

    for number in mine:
        signal.signal(number, stop)
    try:
        yield
    finally:
        for number in mine:
            signal.signal(number, signal.SIG_DFL)


def remove_orphaned_checkouts() -> list[Path]:
    """Remove the temporary checkouts of `flexgit run`s that are no longer running (killed before they
    could); returns them. Those of a live process, or of another user, stay."""
    removed = []
    for entry in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        owner = re.fullmatch(re.escape(TEMP_PREFIX) + r"(\d+)-.+", entry.name)
        try:
            mine = entry.is_dir() and not entry.is_symlink() and entry.lstat().st_uid == os.getuid()
        except (OSError, AttributeError):
            continue
        if owner and mine and not _running(int(owner.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _signal(child: subprocess.Popen, number: int) -> None:
    try:
        os.killpg(child.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def run(command: Sequence[str], sets: Sequence[str] = (), name: str | None = None, jobs: int = 1,
        branch: str | None = None, repo: str | os.PathLike | None = None,
        on_output: Callable[[str, str], None] = lambda label, line: None, parent: str | None = None,
        resume: str | None = None, gpus_per_run: int = 0, on: str = "local", slurm: dict[str, Any] | None = None,
        detach: bool = False) -> list[Outcome]:
    """`flexgit run` from Python: run `command` once per point of the `-S` grid `sets`, `jobs` at a time,
    and record each run, all in one group; `name` may be a template (`lr{lr}-d{depth}`), `parent` a run
    they belong to; `resume` a run whose code and last checkpoints they start from (its id goes in
    their meta as `resumed`, and it is their parent unless `parent` says otherwise). `on="slurm"`
    submits them to Slurm (`slurm`: partition, time, gpus, cpus, mem, account, extra={sbatch option:
    value}); `detach` returns once submitted (`collect` records). Returns what happened to each."""
    sweep = Sweep(command, expand_grid(sets), name=name, branch=branch, repo=repo, on_output=on_output,
                  parent=parent, resume=resume, gpus_per_run=gpus_per_run)
    return sweep.run(jobs) if on == "local" else sweep.submit(on, slurm or {}, jobs, detach)
