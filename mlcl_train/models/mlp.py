"""Multi-layer perceptrons: the homework's model family."""

from __future__ import annotations

import math
from typing import Annotated, Any

from mlcl_train.core.values import NonEmpty, PositiveInt, Probability
from mlcl_train.models import register_model
from mlcl_train.models.layers import Activation, Output, make_activation, make_output, named_sequential


@register_model
def mlp(
    hidden: Annotated[list[PositiveInt], NonEmpty()] = (512, 256),
    activation: Activation = "relu",
    dropout: Probability = 0.0,
    batch_norm: bool = False,
    output: Output = "logits",
) -> Any:
    """Fully connected net: per hidden width Linear -> [BatchNorm] -> activation -> [Dropout]."""
    from torch import nn

    from mlcl_train.core.datasets import INPUT_SHAPE, NUM_CLASSES

    layers: list[tuple[str, Any]] = [("flatten", nn.Flatten())]  # (N, 1, 28, 28) -> (N, 784)
    width = math.prod(INPUT_SHAPE)
    for i, out in enumerate(hidden, start=1):
        layers += [
            (f"fc{i}", nn.Linear(width, out)),
            (f"bn{i}", nn.BatchNorm1d(out) if batch_norm else None),
            (f"act{i}", make_activation(activation)),
            (f"drop{i}", nn.Dropout(dropout) if dropout > 0 else None),
        ]
        width = out
    layers += [("out", nn.Linear(width, NUM_CLASSES)), (output, make_output(output))]
    return named_sequential(layers)
