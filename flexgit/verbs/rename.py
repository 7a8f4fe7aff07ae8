"""`flexgit rename`: another name for a run."""

from __future__ import annotations

from .._context import PathLike, open_store
from ..storage.run import Run


def rename(name: str, new_name: str, repo: PathLike | None = None) -> Run:
    """Give a run another name (say, to settle a name two machines used for different runs).

    NAME may be a commit id prefix: the way to reach a run whose name another run holds here.
    """
    store = open_store(repo)
    run = store.find(name)
    store.rename(run, new_name, advice=f"pick another new name (flexgit rename {name} OTHER), "
                                       f"or rename that run first")
    return store.find(new_name)
