"""Read-only views of runs: compare, groups of seeds, plots, evaluation."""
