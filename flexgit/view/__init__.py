"""Tables of runs: the query (filter, sort, columns) and its renderings. Pure functions, no I/O."""

# Here, not in render.py: the CLI names them in every command's options, and importing the
# renderer (and the query language behind it) would cost every command its start-up time.
FORMATS = ("table", "csv", "json", "markdown")
