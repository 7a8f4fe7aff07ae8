"""data of the FLEX example."""
