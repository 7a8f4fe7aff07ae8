"""`flexgit init`: the experiments branch and a commented settings file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._context import PathLike, open_store, target_branch
from ..project.settings import DEFAULT_SETTINGS, SETTINGS_FILE, load_settings
from ..storage.remotes import remember_refspecs


@dataclass(frozen=True)
class Initialized:
    """What `init` did: the experiments branch's tip, and the settings file it wrote, if any."""

    tip: str
    settings_written: Path | None


def init(branch: str | None = None, repo: PathLike | None = None) -> Initialized:
    """Create the experiments branch if it does not exist, and a commented `.flexgit.toml` if the
    project has no settings yet."""
    store = open_store(repo)
    target = target_branch(store.repo, branch)
    tip = store.init(target)
    if store.repo.config_value("remote.origin.url") is not None:
        remember_refspecs(store.repo, "origin", target)
    written = None
    if not store.repo.is_bare and load_settings(store.repo.workdir).source is None:
        written = store.repo.workdir / SETTINGS_FILE
        written.write_text(DEFAULT_SETTINGS, encoding="utf-8")
    return Initialized(tip, written)
