"""runs of the FLEX example."""
