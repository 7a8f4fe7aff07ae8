"""FLEX's import path `flex.learners`, kept for code written against FLEX: see `flexgit.flex.components`."""

from .flex.components import BaseLearner

__all__ = ["BaseLearner"]
