"""FLEX's import path `flex.data`, kept for code written against FLEX: see `flexgit.flex.components`."""

from .flex.components import BaseDataLoader, BaseDataPreprocessor, Data, RawData

__all__ = ["BaseDataLoader", "BaseDataPreprocessor", "Data", "RawData"]
