"""The base components under their earlier import path: see `flexgit.flex.components`."""

from .flex.components import (
    ArtifactError,
    BaseDataLoader,
    BaseDataPreprocessor,
    BaseLearner,
    BaseModel,
)

__all__ = ["ArtifactError", "BaseDataLoader", "BaseDataPreprocessor", "BaseLearner", "BaseModel"]
