"""Built-in rule packs: one YAML file per pack, with its fixture cases in NAME.tests.yml."""
