"""FLEX's import path `flex.models`, kept for code written against FLEX: see `flexgit.flex.components`."""

from .flex.components import BaseModel

__all__ = ["BaseModel"]
