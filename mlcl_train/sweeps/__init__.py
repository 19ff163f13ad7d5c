"""Sweeps: the sweep file, the Optuna study and its workers, Slurm job arrays."""
