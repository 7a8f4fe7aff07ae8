"""The package version (the storage format has its own, in storage/refs.py)."""

__version__ = "0.3.1"
