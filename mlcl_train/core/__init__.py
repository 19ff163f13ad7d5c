"""Foundations: errors, signals, bounded file reads, safe YAML, value types, tables, data set shapes."""
