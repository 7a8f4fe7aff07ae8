"""Where git reads its global and system config, by git's environment variables, for libgit2.

libgit2 reads neither GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM nor GIT_CONFIG_NOSYSTEM, and $HOME and
$XDG_CONFIG_HOME only once: it looks for a fixed name in one folder per level (`.gitconfig`
for global, `config` for XDG, `gitconfig` for system). Without this, git would author as the
user and flexgit as `root`, and a `safe.directory` that lets git in would not let flexgit in.
A file git is told to read under another name is reached through a file of the fixed name,
in a private folder of the user's cache, that includes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

NAMES = {"global": ".gitconfig", "xdg": "config", "system": "gitconfig"}


def config_folders(system_default: str) -> dict[str, str]:
    """The folder libgit2 must search at each level ("global", "xdg", "system") to read what git reads."""
    env = os.environ
    home = os.path.expanduser("~")
    if "GIT_CONFIG_GLOBAL" in env:  # instead of both ~/.gitconfig and the XDG file
        found = {"global": _holding(env["GIT_CONFIG_GLOBAL"], "global"), "xdg": _empty()}
    else:
        found = {"global": home, "xdg": os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                                                     "git")}
    if _true(env.get("GIT_CONFIG_NOSYSTEM", "")):
        found["system"] = _empty()
    elif "GIT_CONFIG_SYSTEM" in env:
        found["system"] = _holding(env["GIT_CONFIG_SYSTEM"], "system")
    else:
        found["system"] = system_default
    return found


def _true(value: str) -> bool:
    """git's reading of a boolean environment variable (an unset or empty one is false)."""
    value = value.strip().lower()
    if value in ("true", "yes", "on"):
        return True
    try:
        return int(value) != 0
    except ValueError:
        return False


def _holding(path: str, level: str) -> str:
    """A folder in which libgit2 finds the config file `path` under the name it looks for at `level`."""
    name = NAMES[level]
    path = os.path.abspath(path) if path else ""
    if os.path.basename(path) == name:
        return os.path.dirname(path)
    if not path or not os.path.isfile(path):  # /dev/null, or no file: no config at that level
        return _empty()
    import hashlib  # here: most processes never need it

    folder = _private() / hashlib.sha256(f"{level}\0{path}".encode()).hexdigest()[:16]
    folder.mkdir(exist_ok=True)
    quoted = path.replace("\\", "\\\\").replace('"', '\\"')
    text = f'# flexgit: git reads {path} for this level (its environment says so)\n[include]\n\tpath = "{quoted}"\n'
    target = folder / name
    if not target.is_file() or target.read_text() != text:
        spare = folder / f"{name}.{os.getpid()}"
        spare.write_text(text)
        os.replace(spare, target)
    return str(folder)


def _empty() -> str:
    """A folder that holds no config file, and cannot: nothing needs writing for it."""
    return os.path.join(os.devnull, "none")


def _private() -> Path:
    """This user's own folder for the files above (in the user's cache), refused if anyone else could write it."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(cache) / "flexgit" / "gitconfig"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077:
            return folder
    except OSError:
        pass
    import tempfile

    return Path(tempfile.mkdtemp(prefix="flexgit-gitconfig-"))  # not ours, or no home: a folder of our own
