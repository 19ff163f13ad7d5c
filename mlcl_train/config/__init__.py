"""The config: its schema, YAML with `extends` and `--set`, the optimizers' and schedulers' fields."""
