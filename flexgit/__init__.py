"""flexgit: a git-native experiment tracker for machine learning.

Every run is a commit on an orphan branch (`experiments`), its metric row a git note.
pandas is imported only by `table()`, so the CLI starts fast.
"""

__version__ = "0.1.0"

from .api import init, record, runs, show, table  # noqa: E402
from .errors import FlexgitError  # noqa: E402
from .importcsv import import_csv  # noqa: E402
from .record import Run  # noqa: E402
from .restore import checkout  # noqa: E402

__all__ = ["FlexgitError", "Run", "checkout", "import_csv", "init", "record", "runs", "show", "table",
           "__version__"]
