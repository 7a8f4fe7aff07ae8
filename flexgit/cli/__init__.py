"""The command line: options defined once; each command parses, calls one function, prints.
The only package that imports click, prints, or exits.

`cli` and `main` are loaded on first use: `python -m flexgit hook post-commit`, which git runs
after every commit, goes to `postcommit` without importing click or the commands.
"""


def __getattr__(name: str):
    if name in ("cli", "main"):
        # `main` is also the submodule's name: importing it binds the module here, so both names are
        # bound to what they mean once loaded.
        from .main import cli, main

        globals().update(cli=cli, main=main)
        return globals()[name]
    raise AttributeError(f"module 'flexgit.cli' has no attribute {name!r}")


__all__ = ["cli", "main"]
