"""FLEX's reusable components: data loaders, preprocessors, models and learners.

Each is built with `config=` (a `Configuration`, a dict, or None) and stays framework
agnostic: scikit-learn, PyTorch, Keras or plain numpy live in the subclasses. Only what a
component cannot do without you is abstract.
"""

from __future__ import annotations

import os
import pickle
from abc import ABC, abstractmethod
from typing import Any

from ..errors import FlexgitError, InputError

MODEL_FORMAT = "flexgit-model-1"


class ArtifactError(FlexgitError):
    """A saved model does not fit the model object asked to load it."""


class RawData:
    """FLEX's container of raw examples: inputs `x` and targets `y` of the same length."""

    def __init__(self, x: Any, y: Any):
        if len(x) != len(y):
            raise InputError(f"x and y differ in length ({len(x)} and {len(y)}); give one target per example")
        self.x, self.y = x, y


class Data(RawData):
    """FLEX's container of prepared examples (features `x`, targets `y`)."""


class Component:
    """Something configured by a `Configuration`."""

    def __init__(self, config: Any = None):
        self.config = config


class BaseDataLoader(Component, ABC):
    """Loads or generates the raw data."""

    @abstractmethod
    def load_data(self) -> Any:
        """The raw data, in whatever form the preprocessor expects."""


class BaseDataPreprocessor(Component):
    """Prepares raw data and features; by default hands the data on unchanged."""

    def preprocess_data(self, raw: Any) -> Any:
        return raw


class BaseModel(Component, ABC):
    """A model: build it, predict with it, save and load it.

    `save`/`load` keep the object's state (its attributes but `config`) with pickle, so a
    fresh instance of the same class predicts like the trained one after `load`. Override
    them for a framework's own format (a torch `state_dict`, a Keras file).
    """

    def build(self) -> None:
        """Create the untrained model (called before training)."""

    @abstractmethod
    def predict(self, data: Any) -> Any:
        """Predictions for `data`."""

    def save(self, path: str | os.PathLike) -> None:
        state = {key: value for key, value in self.__dict__.items() if key != "config"}
        payload = {"format": MODEL_FORMAT, "class": _class_name(type(self)), "state": state}
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state `save` wrote. Pickle runs code while loading: only load models you trust."""
        with open(path, "rb") as handle:
            try:
                payload = pickle.load(handle)
            except Exception as exc:  # not a pickle, or one that needs a class missing here
                raise ArtifactError(f"'{path}' is not a model saved by BaseModel.save ({exc})") from None
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise ArtifactError(f"'{path}' is not a model saved by BaseModel.save; override load() for its format")
        if payload["class"] != _class_name(type(self)):
            raise ArtifactError(f"the recorded model is a {payload['class']}, not a {_class_name(type(self))}; "
                                "load it into an instance of that class")
        self.__dict__.update(payload["state"])


class BaseLearner(Component, ABC):
    """A training procedure: train a model, then test it."""

    @abstractmethod
    def train(self, train_data: Any, model: BaseModel) -> None:
        """Fit `model` on `train_data`."""

    @abstractmethod
    def test(self, test_data: Any, model: BaseModel) -> dict[str, Any]:
        """Metrics of `model` on `test_data`, e.g. {"accuracy": 0.93}."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
