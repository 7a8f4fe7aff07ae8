"""The command line: options defined once; each command parses, calls one function, prints.
The only package that imports click, prints, or exits."""

from .main import cli, main

__all__ = ["cli", "main"]
