"""mlcl-train: train, compare and present MNIST model-structure experiments from YAML configs."""

__version__ = "0.1.0"
