"""configs of the FLEX example."""
