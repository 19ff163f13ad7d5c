"""The first lecture's worked examples."""
