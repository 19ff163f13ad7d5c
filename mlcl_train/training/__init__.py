"""Training: the engine shared with the read side, the epoch loop, checkpoints, CUDA graphs, TensorBoard."""
