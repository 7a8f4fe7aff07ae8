"""The FLEX programming model on flexgit: `Configuration`, the reusable base components,
`Experiment` and `Application`. Built on flexgit's public verbs."""
