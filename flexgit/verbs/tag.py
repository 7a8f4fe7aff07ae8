"""`flexgit tag`: labels on runs (+best), added or removed by a line in each run's note."""

from __future__ import annotations

from typing import Iterable

from .._context import PathLike, find_runs, open_store
from ..errors import InputError
from ..storage.refs import is_valid_label
from ..storage.run import Run, fact_line


def tag(runs: str | Iterable[str], add: str | Iterable[str] = (), remove: str | Iterable[str] = (),
        repo: PathLike | None = None) -> list[Run]:
    """Add the labels `add` to `runs` and take the labels `remove` off them; returns the runs as they are now.

    Each run's note gets one line (`{"tags": {"best": true, "baseline": false}}`); across clones
    the newest line per label wins. Nothing already recorded is rewritten.
    """
    add, remove = _labels(add), _labels(remove)
    if not add and not remove:
        raise InputError("give the labels to add or remove, e.g. flexgit tag lr-0.1 +best --remove baseline")
    both = sorted(set(add) & set(remove))
    if both:
        raise InputError(f"label '{both[0]}' is both added and removed; give it once")
    store = open_store(repo)
    found = find_runs(store, runs, "flexgit tag lr-0.1 +best")
    change = {**{label: True for label in add}, **{label: False for label in remove}}
    store.append_many([(run, fact_line("tags", change)) for run in found])
    return [store.find(run.id) for run in found]


def _labels(labels: str | Iterable[str]) -> list[str]:
    labels = [labels] if isinstance(labels, str) else list(labels)
    found = []
    for label in labels:
        label = label.removeprefix("+")
        if not is_valid_label(label):
            raise InputError(f"{label!r} cannot be a tag: use a word of letters, digits and _ . - "
                             "(not starting with . or -, 64 characters at most), e.g. +best")
        found.append(label)
    return list(dict.fromkeys(found))
