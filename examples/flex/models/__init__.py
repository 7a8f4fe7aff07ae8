"""models of the FLEX example."""
