"""The config: its schema (frozen dataclasses), loading YAML with `extends` and `--set`, the optimizers' and
schedulers' fields."""
