"""flexgit: a git-native experiment tracker for machine learning.

Every run is a commit on an orphan branch (`experiments`), its metric row a git note.
The public API is `flexgit.api`'s (`flexgit.record`, `flexgit.table`, `flexgit.Experiment`, ...),
loaded on first use so that the CLI starts fast.
"""

from ._version import __version__ as __version__


def _api():
    import importlib

    return importlib.import_module(".api", __name__)


def __getattr__(name: str):
    # The API's names are functions and classes, never submodules: no module of this package is
    # named like one, so importing a submodule can never replace an API function here.
    if not name.startswith("_") and name != "api":
        api = _api()
        if name in api.__all__:
            value = globals()[name] = getattr(api, name)  # the next call (flexgit.log in a loop) finds it here
            return value
    raise AttributeError(f"module 'flexgit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_api().__all__])
