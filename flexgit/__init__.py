"""flexgit: a git-native experiment tracker for machine learning.

Every run is a commit on an orphan branch (`experiments`), its metric row a git note.
pandas is imported only by `table()`, so the CLI starts fast.
"""

__version__ = "0.1.0"

from .api import init, list_runs, record, rename, show, table, update  # noqa: E402
from .errors import FlexgitError  # noqa: E402
from .record import Run  # noqa: E402


# Loaded on first use: every CLI call would otherwise pay for them.
_LAZY = {
    "checkout": "restore", "import_csv": "importcsv", "Configuration": "config",
    "BaseDataLoader": "components", "BaseDataPreprocessor": "components", "BaseModel": "components",
    "BaseLearner": "components", "Experiment": "runs", "Application": "runs",
    "log": "history", "finish": "history", "logging": "history",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'flexgit' has no attribute {name!r}")


__all__ = ["Application", "BaseDataLoader", "BaseDataPreprocessor", "BaseLearner", "BaseModel", "Configuration",
           "Experiment", "FlexgitError", "Run", "checkout", "finish", "import_csv", "init", "list_runs", "log",
           "logging", "record", "rename", "show", "table", "update", "__version__"]
