"""scikit-learn: `autolog()` records every fit as a run, at once.

    from flexgit.integrations import sklearn as flexgit_sklearn
    flexgit_sklearn.autolog()

Each outermost `fit` (or `fit_transform`, `fit_predict`) of an estimator, pipelines and searches
included, is recorded as soon as it returns, not at the next `flexgit.record`: a script that fits
three models gets three runs, each with the code as it was when it fitted. Fits made inside
another (a pipeline's steps, a search's candidates, in any thread) are part of it. A run holds
`get_params()` with scikit-learn's own names (`C`, `svc__C`; estimators by their class name), the
training score (`training_score`, `estimator.score` on the data it was fitted on), and the fitted
model, pickled, as the artifact `model.pkl`. A fit that raises is recorded with status `failed`.

A search (`GridSearchCV`, `RandomizedSearchCV`, any `BaseSearchCV`) is a run with its best
params (`best_params.C`) and `best_cv_score`, and each candidate a run of its own in a group named
after the search's run, its parent: the estimator's params with the candidate's values, its
`cv_results_` numbers as metrics (`mean_test_score`, `rank_test_score`, ...), status `failed`
when its fits failed (a NaN score).

Estimators are patched where they are defined: every subclass of `BaseEstimator` imported so far,
and each one defined later (through `__init_subclass__`), so no module is imported for it.
"""

from __future__ import annotations

import functools
import inspect
import os
import pickle
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from ..storage.run import Run
from ._runs import Training, never_stops_training, params_of, require, value_of
from .notebook import record

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
MODEL_FILE = "model.pkl"

_settings: dict[str, Any] = {}
_patched: dict[tuple[type, str], Callable] = {}  # (class, method) -> the original
_busy = threading.Lock()  # held by the outermost fit: fits made meanwhile are part of it
_last: list[Run] = []
_hook: tuple[type, Any] | None = None  # BaseEstimator and its own __init_subclass__ before autolog


def autolog(disable: bool = False, models: bool = True, training_score: bool = True,
            candidates: bool = True, repo: str | os.PathLike | None = None, branch: str | None = None) -> None:
    """Record every fit of a scikit-learn estimator as a run (`disable=True` stops it).

    `models=False` keeps no pickled model; `training_score=False` skips scoring on the training
    data; `candidates=False` records a search without a run per candidate."""
    BaseEstimator = require("sklearn.base", "sklearn").BaseEstimator
    if disable:
        _restore(BaseEstimator)
        _settings.clear()
        return
    _settings.update(models=models, training_score=training_score, candidates=candidates, repo=repo, branch=branch,
                     pid=os.getpid())  # a forked worker inherits these: it records nothing
    for cls in _subclasses(BaseEstimator):
        _patch(cls)
    _hook_new_classes(BaseEstimator)


def last_run() -> Run | None:
    """The run the latest fit recorded (to add a test score: `flexgit.update(last_run().name, ...)`)."""
    return _last[-1] if _last else None


def _subclasses(base: type) -> list[type]:
    found, stack = [], [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found


def _patch(cls: type) -> None:
    for method in FIT_METHODS:
        original = cls.__dict__.get(method)
        if inspect.isfunction(original) and (cls, method) not in _patched:
            _patched[(cls, method)] = original
            setattr(cls, method, _recording(original))


def _hook_new_classes(base: type) -> None:
    """Patch estimator classes defined from now on, as they are defined."""
    global _hook
    if _hook is not None:
        return
    own = base.__dict__.get("__init_subclass__")
    _hook = (base, own)

    def __init_subclass__(cls, **kwargs):
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        if _hook is not None:
            _patch(cls)

    base.__init_subclass__ = classmethod(__init_subclass__)


def _restore(base: type) -> None:
    global _hook
    for (cls, method), original in _patched.items():
        setattr(cls, method, original)
    _patched.clear()
    if _hook is not None:
        if _hook[1] is None:
            del base.__init_subclass__
        else:
            base.__init_subclass__ = _hook[1]
        _hook = None


def _recording(original: Callable) -> Callable:
    # The patched method names only module-level functions: joblib's workers receive a class defined in
    # `__main__` (a script's, a notebook's) pickled by value, this method with it, and a lock would not pickle.
    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        return _fit(original, self, args, kwargs)

    return fit


def _fit(original: Callable, estimator: Any, args: tuple, kwargs: dict) -> Any:
    """`original(estimator, ...)`, recorded as a run when it is the outermost fit of the process that autologs."""
    if _settings.get("pid") != os.getpid() or not _busy.acquire(blocking=False):
        return original(estimator, *args, **kwargs)  # inside another fit, or in a search's worker: part of it
    try:
        training = None
        with never_stops_training("record this fit"):  # the fit goes on without a run
            training = Training(repo=_settings.get("repo"), branch=_settings.get("branch"),
                                message=f"fit {_title(estimator)}",
                                meta={"framework": _framework(), "estimator": type(estimator).__qualname__})
        if training is None:
            return original(estimator, *args, **kwargs)
        with never_stops_training(f"read the params of {type(estimator).__name__}"):
            training.params = params_of({k: _plain(v) for k, v in estimator.get_params(deep=True).items()})
        with training:
            result = original(estimator, *args, **kwargs)
            with never_stops_training("record this fit"):
                _summarise(training, estimator, args, kwargs)
        if training.run is not None:
            _last.append(training.run)
        return result
    finally:
        _busy.release()


def _summarise(training: Training, estimator: Any, args: tuple, kwargs: dict) -> None:
    """Score the fitted estimator, keep it, record it, and record a search's candidates."""
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if _settings.get("training_score") and hasattr(estimator, "score") and X is not None:
        try:
            training.metrics["training_score"] = value_of(estimator.score(X, y) if y is not None
                                                          else estimator.score(X))
        except Exception:  # noqa: BLE001 - an estimator that cannot score itself this way has no training score
            pass
    search = hasattr(estimator, "cv_results_") and hasattr(estimator, "estimator")
    if search and hasattr(estimator, "best_params_"):
        training.params.update(params_of({k: _plain(v) for k, v in estimator.best_params_.items()}, "best_params."))
        training.metrics["best_cv_score"] = value_of(estimator.best_score_)
    with tempfile.TemporaryDirectory(prefix="flexgit-sklearn-") as folder:
        if _settings.get("models"):
            _keep_model(training, estimator, Path(folder) / MODEL_FILE)
        run = training.finish("ok")
    if search and _settings.get("candidates") and run is not None:
        _record_candidates(estimator, run)


def _keep_model(training: Training, estimator: Any, path: Path) -> None:
    """The fitted model pickled into `path` and kept with the run; one that cannot be pickled (a class
    defined inside a function) is left out, with a warning and its reason in the run's meta."""
    try:
        with open(path, "wb") as out:
            pickle.dump(estimator, out, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - pickle raises many kinds; the run is recorded without the model
        reason = f"{type(exc).__name__}: {exc}"[:200]
        training.meta["model_left_out"] = reason
        warnings.warn(f"flexgit keeps no model for this fit, it cannot be pickled ({reason})", RuntimeWarning,
                      stacklevel=4)
        return
    training.artifacts[MODEL_FILE] = path


def _record_candidates(search: Any, parent: Run) -> None:
    """A run per candidate of a search, in a group named after the search's run."""
    results = search.cv_results_
    base = params_of({k: _plain(v) for k, v in search.estimator.get_params(deep=True).items()})
    for index, candidate in enumerate(results["params"]):
        metrics = {}
        for key, values in results.items():
            if key.startswith("param") or not hasattr(values, "__len__"):
                continue
            value = value_of(values[index])
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[key] = value
        failed = any(key.startswith("mean_test") and value != value for key, value in metrics.items())
        params = {**base, **params_of({k: _plain(v) for k, v in candidate.items()})}
        record(name=f"{parent.name}-{index + 1}", message=f"candidate {index + 1} of {parent.name}", params=params,
               metrics=metrics, status="failed" if failed else "ok", group=parent.name, parent=parent.id,
               meta={"framework": _framework(), "estimator": type(search.estimator).__qualname__},
               repo=_settings.get("repo"), branch=_settings.get("branch"))


def _plain(value: Any) -> Any:
    """An estimator by its class name, a pipeline's steps as `name=Class`; other values as they are."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, tuple) and len(v) >= 2 for v in value):
        return [f"{v[0]}={_plain(v[1])}" for v in value]
    return value


def _title(estimator: Any) -> str:
    inner = getattr(estimator, "estimator", None)
    return f"{type(estimator).__name__}({_title(inner)})" if hasattr(inner, "get_params") else type(estimator).__name__


@functools.cache
def _framework() -> str:
    import sklearn

    return f"scikit-learn {sklearn.__version__}"
