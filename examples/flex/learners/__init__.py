"""learners of the FLEX example."""
