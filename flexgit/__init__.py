"""flexgit: a git-native experiment tracker for machine learning.

Every run is a commit on an orphan branch (`experiments`), its metric row a git note.
pandas is imported only by `table()`, so the CLI starts fast.
"""

__version__ = "0.1.0"

from .api import init, record, runs, show, table  # noqa: E402
from .errors import FlexgitError  # noqa: E402
from .record import Run  # noqa: E402


def __getattr__(name: str):
    # checkout and import_csv load on first use: every CLI call would otherwise pay for them.
    if name == "checkout":
        from .restore import checkout

        return checkout
    if name == "import_csv":
        from .importcsv import import_csv

        return import_csv
    raise AttributeError(f"module 'flexgit' has no attribute {name!r}")


__all__ = ["FlexgitError", "Run", "checkout", "import_csv", "init", "record", "runs", "show", "table",
           "__version__"]
