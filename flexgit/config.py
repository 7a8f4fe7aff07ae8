"""FLEX's import path `flex.config`, kept for code written against FLEX: see `flexgit.flex.config`."""

from .flex.config import Configuration, Record, RunRef

__all__ = ["Configuration", "Record", "RunRef"]
