"""FLEX's import path `flex.runs`, kept for code written against FLEX: see `flexgit.flex.experiment`."""

from .flex.experiment import Application, Experiment, split_data

__all__ = ["Application", "Experiment", "split_data"]
