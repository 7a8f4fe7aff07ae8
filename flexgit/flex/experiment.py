"""FLEX's `Experiment` (load, preprocess, split, build, train, test, save) and `Application`.

`Experiment.save` records the run through flexgit's store: config, results, the code
snapshot and the trained model as an artifact. `Experiment().load` reads it back, and the
`Configuration` it holds tells `Application` where the run's model is.

Components written for FLEX itself work too: a model whose `save()` / `load()` take no path
keeps its own file (the config's `model_file`), a learner's `test` may return nothing, and
`save` / `load` also take FLEX's `config_file=` and `git_info={'branch', 'tag'}`.
"""

from __future__ import annotations

import inspect
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .._context import branch_ref, is_reserved_meta, open_store
from ..errors import InputError, TrustError
from ..storage.run import Run
from ..storage.store import Store
from ..verbs.record import record
from ..verbs.show import artifact, show
from .components import BaseDataLoader, BaseDataPreprocessor, BaseLearner, BaseModel, RawData
from .config import Configuration, RunRef

MODEL_ARTIFACT = "model"
TRUSTED_RUNS = "flexgit.trustedRuns"  # git config (never transferred): run names or commit ids to trust


class Experiment:
    """Loader, preprocessor, model and learner mixed into one experiment."""

    def __init__(self, loader: BaseDataLoader | None = None, preprocessor: BaseDataPreprocessor | None = None,
                 model: BaseModel | None = None, learner: BaseLearner | None = None,
                 config: Configuration | None = None):
        self.loader, self.preprocessor, self.model, self.learner = loader, preprocessor, model, learner
        self.config = config if config is not None else Configuration()
        self.recorded: Run | None = None

    def run(self) -> dict[str, Any]:
        """Load, preprocess, split, build, train and test; the test metrics become the results."""
        for part in ("loader", "model", "learner"):
            if getattr(self, part) is None:
                raise InputError(f"this Experiment has no {part}; pass {part}=... to Experiment()")
        raw = self.loader.load_data()
        data = self.preprocessor.preprocess_data(raw) if self.preprocessor is not None else raw
        train_data, test_data = self.split(data)
        model_file = self.config.get("model_file")
        if model_file and Path(str(model_file)).is_file():  # as FLEX's run: go on from the model it names
            _call_with_path(self.model.load, model_file)
        else:
            self.model.build()
        # By keyword: FLEX's learners take (model, train_data), flexgit's (train_data, model).
        self.learner.train(train_data=train_data, model=self.model)
        metrics = dict(self.learner.test(test_data=test_data, model=self.model) or {})
        config = self.config
        config.config = [config.meta_data, config.params, {**config.results, **metrics}]  # checks clashes
        return metrics

    def split(self, data: Any) -> tuple[Any, Any]:
        """Train and test parts, by the config's `test_size` (default 0.2), `seed` (0), `shuffle` (true)."""
        return split_data(data, test_size=self.config.get("test_size", 0.2), seed=self.config.get("seed", 0),
                          shuffle=self.config.get("shuffle", True))

    def save(self, where: Mapping[str, str] | str | os.PathLike | None = None, repo: str | os.PathLike | None = None,
             if_exists: str = "error", *, config_file: str | os.PathLike | None = None,
             git_info: Mapping[str, str] | None = None) -> Run:
        """Record this run: params, results, code snapshot and the trained model; returns the Run
        (its `name` and `short_id`).

        `where` (or FLEX's `git_info=`) is {'branch': ..., 'tag': ...}; the tag (run name)
        defaults to the config's name. A tag that a run already has is refused, unless
        `if_exists` is "number": then the run gets the first free name of tag-2, tag-3, ...
        `config_file` (FLEX's first argument; default: the config's `config_file` key, if any)
        is written with `save_config` first, so the snapshot holds it.
        """
        config_file, where, repo = _flex_arguments(where, repo, config_file, git_info)
        name = where.get("tag") or self.config.get("name")
        if if_exists not in ("error", "number"):
            raise InputError(f"if_exists is 'error' or 'number', not {if_exists!r}")
        if name:
            name = _name_to_save(open_store(repo), str(name), if_exists)
        config_file = config_file or self.config.get("config_file")
        if config_file:
            self.config.save_config(config_file)
        meta = {k: v for k, v in self.config.meta_data.items() if k != "name"}
        with tempfile.TemporaryDirectory(prefix="flexgit-model-") as temp:
            artifacts = {}
            if self.model is not None:
                model_file = self._save_model(Path(temp) / MODEL_ARTIFACT)
                if model_file is not None:
                    artifacts[MODEL_ARTIFACT] = model_file
            run = record(name=name, message=str(meta.get("purpose", "")), params=self.config.params,
                         metrics=self.config.results, meta=meta, artifacts=artifacts,
                         branch=where.get("branch"), repo=repo)
        self.recorded = run
        self.config.run = _ref(run, repo)
        return run

    def _save_model(self, path: Path) -> Path | None:
        """Save the model to `path` (or, for a model whose save() takes no path, where it saves
        itself: the config's `model_file`); the file to keep, if any."""
        _call_with_path(self.model.save, path)
        if path.exists():
            return path
        own = self.config.get("model_file")
        return Path(str(own)) if own and Path(str(own)).is_file() else None

    def load(self, where: Mapping[str, str] | str | os.PathLike | None = None, repo: str | os.PathLike | None = None,
             *, config_file: str | os.PathLike | None = None,
             git_info: Mapping[str, str] | None = None) -> "Experiment":
        """Read a recorded run back: its Configuration (which knows where the model is) and its code.

        `where` (or FLEX's `git_info=`) is {'branch': ..., 'tag': NAME}. The code is the commit
        `self.recorded.id`; `flexgit checkout NAME --worktree DIR` puts it on disk. With only a
        `config_file` (FLEX's first argument), the configuration is read from that file; with
        both, from the run (the file is what `save` wrote into the run's code).
        """
        config_file, where, repo = _flex_arguments(where, repo, config_file, git_info)
        if not where.get("tag") and config_file:
            self.config = Configuration(config_file)
            return self
        if not where.get("tag"):
            raise InputError("say which run to load: Experiment().load({'branch': ..., 'tag': NAME})")
        run = show(where["tag"], repo=repo).run
        if where.get("branch") and run.branch != branch_ref(where["branch"]).name:
            raise InputError(f"run '{run.name}' is on branch '{run.branch}', not '{where['branch']}'")
        meta = {k: v for k, v in run.meta.items() if not is_reserved_meta(k)}
        self.config = Configuration([{"name": run.name, **meta}, dict(run.params), dict(run.metrics)])
        self.config.run = _ref(run, repo)
        self.recorded = run
        return self


class Application:
    """A trained model wrapped with its data loading and preprocessing, to predict.

    A recorded model is loaded only from a run this clone recorded itself (see `trusted`);
    one pulled or imported needs `trust=True`, since loading a model (a pickle, `torch.load`)
    can run any code its author put in it. `repo` is the repository of the config's run
    (default: the one the run was loaded from, else the current one; never one a config file names).
    """

    def __init__(self, loader: BaseDataLoader | None = None, preprocessor: BaseDataPreprocessor | None = None,
                 model: BaseModel | None = None, config: Configuration | None = None, *, trust: bool = False,
                 repo: str | os.PathLike | None = None):
        self.loader, self.preprocessor, self.model = loader, preprocessor, model
        self.config = config if config is not None else Configuration()
        self.trust, self.repo = trust, repo

    def run(self) -> Any:
        """Load data, preprocess, load the model, predict."""
        raw = self.loader.load_data()
        data = self.preprocessor.preprocess_data(raw) if self.preprocessor is not None else raw
        self.load_model()
        return self.model.predict(data)

    def load_model(self, trust: bool | None = None) -> None:
        """Load the model recorded for the config's run, or the file its `model_path` / `model_file` names.
        `trust` (default: the Application's) loads a run's model that this clone did not record."""
        ref = self.config.run
        if ref is not None:
            repo = self.repo if self.repo is not None else ref.repo
            store = open_store(repo)
            run = store.find(ref.commit if len(ref.commit) == 40 else ref.name)
            if not (self.trust if trust is None else trust):
                refuse_untrusted(store, run)
            data = artifact(run.id, MODEL_ARTIFACT, repo=repo)
            with tempfile.TemporaryDirectory(prefix="flexgit-model-") as temp:
                path = Path(temp) / MODEL_ARTIFACT
                path.write_bytes(data)
                _call_with_path(self.model.load, path)
            return
        path = self.config.get("model_path") or self.config.get("model_file")
        if not path:
            if not _takes_a_path(self.model.load):
                self.model.load()  # a FLEX model that knows its own file
                return
            raise InputError("the configuration names no recorded run and no model_path; "
                             "get one with Experiment().load({'tag': NAME}).config")
        _call_with_path(self.model.load, path)


def trusted(store: Store, run: Run) -> bool:
    """May `run`'s model be loaded without the user saying so? When git config `flexgit.trustedRuns`
    names it (or its commit), or when this clone recorded it: its branch's reflog shows a write of
    this clone bringing it in (a reflog is never pulled), its meta names this user and email (and
    this host, when it names one), and it was not imported from a CSV."""
    if {run.name, run.id} & set(store.repo.config_values(TRUSTED_RUNS)):
        return True
    user, email = store.repo.identity()
    meta = run.meta
    mine = meta.get("user") == user and meta.get("email") == email and \
        meta.get("host", socket.gethostname()) == socket.gethostname() and "imported" not in meta
    return mine and store.recorded_here(run)


def refuse_untrusted(store: Store, run: Run) -> None:
    """Refuse to load the model of a run `trusted` does not vouch for, saying why and how to trust it."""
    if not trusted(store, run):
        who = f"{run.meta.get('user', '?')} <{run.meta.get('email', '?')}>"
        raise TrustError(f"run '{run.name}' was not recorded by you in this clone (it says {who}): loading its "
                         "model can run any code its author put in it; if you trust it, pass trust=True to "
                         f"Application (or load_model), or run 'git config --add {TRUSTED_RUNS} {run.name}'")


def _flex_arguments(where: Any, repo: Any, config_file: Any, git_info: Any) -> tuple[Any, dict[str, str], Any]:
    """(config_file, where, repo) from save/load's arguments: FLEX passes (config_file, git_info),
    flexgit ({'branch', 'tag'}, repo)."""
    if isinstance(where, (str, os.PathLike)):
        if config_file is not None:
            raise InputError("the config file is given twice; pass it once, as config_file=")
        where, config_file = None, where
        if isinstance(repo, Mapping):  # FLEX's second argument: git_info
            repo, git_info = None, repo if git_info is None else git_info
    if where is not None and git_info is not None:
        raise InputError("say where to record once: {'branch': ..., 'tag': ...} or git_info=, not both")
    where = where if where is not None else git_info
    if where is not None and not isinstance(where, Mapping):
        raise InputError("where to record is a dict: {'branch': 'experiments', 'tag': NAME}")
    return config_file, dict(where or {}), repo


def _takes_a_path(method: Any) -> bool:
    try:
        inspect.signature(method).bind("path")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): assume flexgit's form
        return True
    return True


def _call_with_path(method: Any, path: Any) -> Any:
    """`method(path)`, or `method()` for FLEX's save()/load() that keep their own file."""
    return method(path) if _takes_a_path(method) else method()


def _name_to_save(store: Store, name: str, if_exists: str) -> str:
    """The run name `save` records under: `name`, or with if_exists="number" the next free name-N."""
    if if_exists == "number":
        return store.free_name(name)
    store.check_name_free(name, f"save under another tag, or pass if_exists='number' to record it as "
                                f"'{store.free_name(name)}'")
    return name


def split_data(data: Any, test_size: float = 0.2, seed: int = 0, shuffle: bool = True) -> tuple[Any, Any]:
    """Split a sequence, or a tuple of equally long sequences (X, y), into train and test parts.

    `test_size` below 1 is a fraction, otherwise a count. Lists, numpy arrays and pandas
    objects keep their type; FLEX's RawData / Data split into two of their kind.
    """
    if isinstance(data, RawData):
        (train_x, train_y), (test_x, test_y) = split_data((data.x, data.y), test_size, seed, shuffle)
        return type(data)(train_x, train_y), type(data)(test_x, test_y)
    parts = data if isinstance(data, tuple) else (data,)
    length = len(parts[0])
    if any(len(part) != length for part in parts):
        raise InputError("the data to split has parts of different lengths; give (X, y) of equal length")
    count = round(length * test_size) if 0 < test_size < 1 else int(test_size)
    if not 0 < count < length:
        raise InputError(f"test_size {test_size} leaves no train or no test data out of {length} items")
    order = list(range(length))
    if shuffle:
        random.Random(seed).shuffle(order)
    test_index, train_index = order[:count], order[count:]
    train = tuple(_take(part, train_index) for part in parts)
    test = tuple(_take(part, test_index) for part in parts)
    return (train, test) if isinstance(data, tuple) else (train[0], test[0])


def _take(sequence: Any, index: list[int]) -> Any:
    if hasattr(sequence, "iloc"):
        return sequence.iloc[index]
    if hasattr(sequence, "shape"):
        return sequence[index]
    return [sequence[i] for i in index]


def _ref(run: Run, repo: str | os.PathLike | None) -> RunRef:
    return RunRef(name=run.name, branch=run.branch, commit=run.id, repo=str(Path(repo or ".").resolve()))
