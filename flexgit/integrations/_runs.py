"""What the framework integrations share: a framework's values made storable, and a training run
recorded once, with its status, even when training fails.

A `Training` gathers params and metrics while a framework trains, logs step metrics with
`flexgit.log` as they come (so a crash loses at most the last second of them), and records the run
when the framework says training ended, or when it failed: on an exception that leaves its `with`
block, or at interpreter exit when training began and never ended (a script that died of an
uncaught exception: `failed`; of Ctrl-C: `interrupted`).

The rule for errors: what a user gets wrong before training starts (not a repository, a run name
already taken) raises at once, when the callback or logger is made. Once training runs, flexgit
never stops it: what flexgit cannot do inside a framework's hook (read the settings to keep as
params, log a step, record the run) is a `RuntimeWarning` and training goes on; a run name taken
while it trained gets a generated name instead. `FLEXGIT_DEBUG=1` raises those errors instead.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import math
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .._context import open_store
from ..errors import InputError, RunExistsError, UnknownRunError
from ..project.formats import is_int64
from ..storage.run import Run
from ..verbs.log import log
from .notebook import record

MAX_TEXT = 200  # characters of an object's description kept as a param
MAX_ITEMS = 100  # items of a list kept as a list param; a longer one (data, not a setting) is described

Scalar = str | int | float | bool


def value_of(value: Any) -> Scalar | list | None:
    """`value` as flexgit stores it: a scalar or a list of scalars; None for what has no such form
    (a nested table is flattened by `params_of`, not here)."""
    if value is None:
        return "None"  # a setting left at None is a setting: "None", as the framework prints it
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if is_int64(value) else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, enum.Enum):
        return value_of(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = _item(value)
    if item is not None:
        return value_of(item)
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) <= MAX_ITEMS:
        items = [value_of(v) for v in (sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value)]
        if all(isinstance(v, Scalar) for v in items):
            return items
    return describe(value)


def _item(value: Any) -> Any:
    """The Python number of a numpy scalar or a one-element tensor, else None."""
    if isinstance(value, (list, tuple, dict)) or not callable(getattr(value, "item", None)):
        return None
    size = getattr(value, "size", None)
    size = size() if callable(size) else size  # torch's size is a method, numpy's a number
    if size not in (None, 1) and not (isinstance(size, tuple) and math.prod(size) == 1):
        return None
    try:
        item = value.item()
    except (ValueError, RuntimeError, TypeError):
        return None
    return item if isinstance(item, (int, float, bool, str)) else None


def describe(value: Any) -> str:
    """A short, stable text for an object: a class or function by its name, anything else by its repr
    (but never a memory address, which would make two identical runs differ)."""
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip(".")
    text = repr(value)
    if " at 0x" in text or " object at " in text:
        return type(value).__qualname__
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + "..."


def params_of(values: Mapping[Any, Any], prefix: str = "") -> dict[str, Scalar | list]:
    """Flat params of a framework's settings: nested mappings become dotted keys, values as `value_of`."""
    flat: dict[str, Scalar | list] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if not str(key).strip() or any(ord(c) < 32 for c in name):
            continue  # not a column name; a framework's internal entry
        if isinstance(value, Mapping):
            flat.update(params_of(value, name + "."))
        else:
            stored = value_of(value)
            if stored is not None:
                flat[name] = stored
    return flat


def metrics_of(values: Mapping[Any, Any], prefix: str = "") -> dict[str, int | float]:
    """The numeric values of a framework's logs (numbers, numpy scalars, one-element tensors)."""
    found: dict[str, int | float] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            found.update(metrics_of(value, f"{prefix}{key}."))
            continue
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else _item(value)
        if isinstance(number, (int, float)) and not isinstance(number, bool) and str(key).strip():
            found[f"{prefix}{key}"] = number if not isinstance(number, int) or is_int64(number) else float(number)
    return found


@contextlib.contextmanager
def never_stops_training(what: str) -> Iterator[None]:
    """Inside a framework's hook: an error of flexgit's doing `what` is a warning, and training goes on."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - whatever it is, a days-long training is worth more than a run
        if os.environ.get("FLEXGIT_DEBUG"):
            raise
        warnings.warn(f"flexgit could not {what} ({type(exc).__name__}: {exc}); training goes on",
                      RuntimeWarning, stacklevel=3)


def require(module: str, extra: str) -> Any:
    """Import a framework, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"flexgit's {extra} integration needs {module.split('.')[0]}, which is not installed: "
                          f"pip install 'flexgit[{extra}]' ({exc})") from exc


class Training:
    """One training run: params and metrics gathered as the framework reports them, recorded once.

    `finish(status)` records it (a second call adds nothing); `with training:` records it `failed`
    (`interrupted` for Ctrl-C) when an exception leaves the block before it was recorded. Once
    `begin()` was called, a process that exits before `finish` records it too.
    """

    def __init__(self, name: str | None = None, message: str | None = None, group: str | None = None,
                 parent: str | None = None, repo: str | os.PathLike | None = None, branch: str | None = None,
                 artifacts: Mapping[str, str | os.PathLike] | None = None, meta: Mapping[str, Any] | None = None):
        self.name, self.message, self.group, self.parent = name, message, group, parent
        self.repo, self.branch = repo, branch
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.meta: dict[str, Any] = dict(meta or {})
        self.artifacts: dict[str, Path] = {key: Path(path) for key, path in (artifacts or {}).items()}
        self.outputs: list[Path] = []  # files in the working tree kept with the run (`record(outputs=...)`)
        self.run: Run | None = None
        self._lock = threading.Lock()
        self._begun = False
        self._tried = False
        self._log_failed = False  # a step that could not be logged is said once, not at every step
        open_store(repo)  # not a repository: say so before training, not after it
        if name:
            check_name_free(name, repo)

    def begin(self) -> None:
        """Training started: from now on the process's exit records the run if nothing else did."""
        if not self._begun:
            self._begun = True
            _watch(self)

    def log(self, metrics: Mapping[Any, Any], step: int | None = None) -> None:
        """One step's metrics, kept as the run's history (numbers only); never raises."""
        if self._log_failed:
            return
        failed = True
        with never_stops_training("log a step of this training; its later steps are not logged either"):
            numbers = metrics_of(metrics)
            if numbers:
                log(step=step, repo=self.repo, **numbers)
            failed = False
        self._log_failed = failed

    def finish(self, status: str = "ok") -> Run | None:
        """Record the run (once) with `status`; returns it, or the one recorded before (None when the
        record failed: a warning said why, and training went on)."""
        with self._lock:
            if self.run is not None or self._tried:
                return self.run
            self._tried = True  # a record that failed is not tried again (its warning is the one to see)
            _unwatch(self)
            with never_stops_training("record this training"):
                try:
                    self.run = self._record(status, self.name)
                except RunExistsError:  # taken while it trained: keep the run, under another name
                    self.run = self._record(status, None)
                    warnings.warn(f"run name '{self.name}' was taken while this training ran; it is recorded as "
                                  f"'{self.run.name}'", RuntimeWarning, stacklevel=2)
            return self.run

    def _record(self, status: str, name: str | None) -> Run:
        return record(name=name, message=self.message, params=self.params, metrics=self.metrics, repo=self.repo,
                      branch=self.branch, artifacts=self.artifacts or None, outputs=self.outputs or None,
                      meta=self.meta or None, status=status, group=self.group, parent=self.parent)

    def __enter__(self) -> "Training":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None and not self._tried:
            self.finish(status_of(kind))


def status_of(kind: type[BaseException] | None) -> str:
    """The status of a run that an exception of `kind` ended (None: the process just stopped)."""
    if kind is None or issubclass(kind, (KeyboardInterrupt, SystemExit)):
        return "interrupted"
    return "failed"


def name_taken(name: str, repo: str | os.PathLike | None) -> bool:
    """True when a run of the repository has `name` (or an id starting with it)."""
    try:
        open_store(repo).find(name)
    except UnknownRunError:
        return False
    return True


def check_name_free(name: str, repo: str | os.PathLike | None) -> None:
    """Refuse a run name that is taken before training starts, not after it ends."""
    if name_taken(name, repo):
        raise InputError(f"run name '{name}' exists; pick another name")


def built_on_use(module: str, **builders: Callable[[], type]) -> Callable[[str], type]:
    """A module's `__getattr__` that builds each class from `builders` when first asked for it, so
    that importing the module does not import the framework the class subclasses."""
    def __getattr__(name: str) -> type:
        if name in builders:
            return builders[name]()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return __getattr__


class RecordsTraining:
    """What a framework callback that records one `Training` shares: the run it recorded, and
    `with callback:` to record a failure the framework has no hook for."""

    training: Training

    @property
    def run(self) -> Run | None:
        """The recorded run (None until training ends)."""
        return self.training.run

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.training.__exit__(kind, error, trace)


_watched: set[Training] = set()  # held until they finish: a training dropped early is still recorded at exit
_watching = False


def _watch(training: Training) -> None:
    global _watching
    _watched.add(training)
    if not _watching:
        atexit.register(_record_unfinished)
        _watching = True


def _unwatch(training: Training) -> None:
    _watched.discard(training)


def _record_unfinished() -> None:
    """At exit, record the trainings that began and never finished; `sys.last_type` is the uncaught
    exception that ends the process, if one does."""
    status = status_of(getattr(sys, "last_type", None))
    for training in list(_watched):
        try:
            training.finish(status)
        except Exception as exc:  # nothing above can catch it any more; say what was lost
            warnings.warn(f"flexgit could not record an unfinished training: {exc}", RuntimeWarning, stacklevel=1)

