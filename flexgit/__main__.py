"""`python -m flexgit` runs the CLI."""

from .cli import main

main()
