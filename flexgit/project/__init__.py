"""What a project holds outside git: settings, config and results files (TOML, JSON, YAML), values,
data fingerprints and step history. Pure helpers; nothing here opens a repository."""
