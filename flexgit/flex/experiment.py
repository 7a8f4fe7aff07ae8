"""FLEX's `Experiment` (load, preprocess, split, build, train, test, save) and `Application`.

`Experiment.save` records the run through flexgit's store: config, results, the code
snapshot and the trained model as an artifact. `Experiment().load` reads it back, and the
`Configuration` it holds tells `Application` where the run's model is.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .._context import RESERVED_META, branch_ref
from ..errors import InputError
from ..storage.run import Run
from ..verbs.record import record
from ..verbs.show import artifact, show
from .components import BaseDataLoader, BaseDataPreprocessor, BaseLearner, BaseModel
from .config import Configuration, RunRef

MODEL_ARTIFACT = "model"


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
        self.model.build()
        self.learner.train(train_data, self.model)
        metrics = dict(self.learner.test(test_data, self.model))
        config = self.config
        config.config = [config.meta_data, config.params, {**config.results, **metrics}]  # checks clashes
        return metrics

    def split(self, data: Any) -> tuple[Any, Any]:
        """Train and test parts, by the config's `test_size` (default 0.2), `seed` (0), `shuffle` (true)."""
        return split_data(data, test_size=self.config.get("test_size", 0.2), seed=self.config.get("seed", 0),
                          shuffle=self.config.get("shuffle", True))

    def save(self, where: Mapping[str, str] | None = None, repo: str | os.PathLike | None = None) -> Run:
        """Record this run: params, results, code snapshot and the trained model.

        `where` is FLEX's {'branch': ..., 'tag': ...}; the tag (run name) defaults to the
        config's meta_data name.
        """
        where = dict(where or {})
        name = where.get("tag") or self.config.meta_data.get("name")
        meta = {k: v for k, v in self.config.meta_data.items() if k != "name"}
        with tempfile.TemporaryDirectory(prefix="flexgit-model-") as temp:
            artifacts = {}
            if self.model is not None:
                model_file = Path(temp) / MODEL_ARTIFACT
                self.model.save(model_file)
                if model_file.exists():
                    artifacts[MODEL_ARTIFACT] = model_file
            run = record(name=name, message=str(meta.get("purpose", "")), params=self.config.params,
                         metrics=self.config.results, meta=meta, artifacts=artifacts,
                         branch=where.get("branch"), repo=repo)
        self.recorded = run
        self.config.run = _ref(run, repo)
        return run

    def load(self, where: Mapping[str, str], repo: str | os.PathLike | None = None) -> "Experiment":
        """Read a recorded run back: its Configuration (which knows where the model is) and its code.

        The code is the commit `self.recorded.id`; `flexgit checkout NAME --worktree DIR` puts
        it on disk.
        """
        if not where.get("tag"):
            raise InputError("say which run to load: Experiment().load({'branch': ..., 'tag': NAME})")
        run = show(where["tag"], repo=repo).run
        if where.get("branch") and run.branch != branch_ref(where["branch"]).name:
            raise InputError(f"run '{run.name}' is on branch '{run.branch}', not '{where['branch']}'")
        meta = {k: v for k, v in run.meta.items() if k not in RESERVED_META}
        self.config = Configuration([{"name": run.name, **meta}, dict(run.params), dict(run.metrics)])
        self.config.run = _ref(run, repo)
        self.recorded = run
        return self


class Application:
    """A trained model wrapped with its data loading and preprocessing, to predict."""

    def __init__(self, loader: BaseDataLoader | None = None, preprocessor: BaseDataPreprocessor | None = None,
                 model: BaseModel | None = None, config: Configuration | None = None):
        self.loader, self.preprocessor, self.model = loader, preprocessor, model
        self.config = config if config is not None else Configuration()

    def run(self) -> Any:
        """Load data, preprocess, load the model, predict."""
        raw = self.loader.load_data()
        data = self.preprocessor.preprocess_data(raw) if self.preprocessor is not None else raw
        self.load_model()
        return self.model.predict(data)

    def load_model(self) -> None:
        """Load the model recorded for the config's run, or the file its `model_path` / `model_file` names."""
        ref = self.config.run
        if ref is not None:
            data = artifact(ref.name, MODEL_ARTIFACT, repo=ref.repo)
            with tempfile.TemporaryDirectory(prefix="flexgit-model-") as temp:
                path = Path(temp) / MODEL_ARTIFACT
                path.write_bytes(data)
                self.model.load(path)
            return
        path = self.config.get("model_path") or self.config.get("model_file")
        if not path:
            raise InputError("the configuration names no recorded run and no model_path; "
                             "get one with Experiment().load({'tag': NAME}).config")
        self.model.load(path)


def split_data(data: Any, test_size: float = 0.2, seed: int = 0, shuffle: bool = True) -> tuple[Any, Any]:
    """Split a sequence, or a tuple of equally long sequences (X, y), into train and test parts.

    `test_size` below 1 is a fraction, otherwise a count. Lists, numpy arrays and pandas
    objects keep their type.
    """
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
