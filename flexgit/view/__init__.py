"""Tables of runs: the query (filter, sort, columns) and its renderings. Pure functions, no I/O."""
