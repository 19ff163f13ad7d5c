"""Configurable convolutional nets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mlcl_train.core.errors import UserError
from mlcl_train.core.values import NonEmpty, PositiveInt, Probability
from mlcl_train.models import register_model
from mlcl_train.models.layers import Activation, Output, make_activation, make_output, named_sequential


@register_model
def cnn(
    channels: Annotated[list[PositiveInt], NonEmpty()] = (32, 64),
    kernel_size: PositiveInt = 3,
    pool: Literal["max", "avg", "none"] = "max",
    batch_norm: bool = True,
    activation: Activation = "relu",
    dropout: Probability = 0.0,
    hidden: list[PositiveInt] = (128,),
    output: Output = "logits",
) -> Any:
    """Conv net: per channel count Conv(same padding) -> [BatchNorm] -> activation -> [2x2 pool]; then FC layers."""
    from torch import nn

    from mlcl_train.core.datasets import CHANNELS, IMAGE_SIZE, NUM_CLASSES

    layers: list[tuple[str, Any]] = []
    in_channels, size = CHANNELS, IMAGE_SIZE  # input (N, 1, 28, 28)
    for i, out in enumerate(channels, start=1):
        pool_layer = {"max": nn.MaxPool2d(2), "avg": nn.AvgPool2d(2), "none": None}[pool]
        layers += [
            (f"conv{i}", nn.Conv2d(in_channels, out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)),
            (f"bn{i}", nn.BatchNorm2d(out) if batch_norm else None),
            (f"act{i}", make_activation(activation)),
            (f"pool{i}", pool_layer),
        ]
        in_channels = out
        size = size + 2 * (kernel_size // 2) - kernel_size + 1  # the conv: same size for odd kernels
        size = size // 2 if pool_layer is not None else size
        if size < 1:
            raise UserError(
                f"model.channels: {len(channels)} pooled conv blocks shrink {IMAGE_SIZE}x{IMAGE_SIZE} "
                "to nothing; use fewer"
            )
    width = in_channels * size * size
    layers.append(("flatten", nn.Flatten()))  # (N, C, size, size) -> (N, C*size*size)
    for i, out in enumerate(hidden, start=1):
        layers += [
            (f"drop_fc{i}", nn.Dropout(dropout) if dropout > 0 else None),
            (f"fc{i}", nn.Linear(width, out)),
            (f"act_fc{i}", make_activation(activation)),
        ]
        width = out
    layers += [
        ("drop_out", nn.Dropout(dropout) if dropout > 0 else None),
        ("out", nn.Linear(width, NUM_CLASSES)),
        (output, make_output(output)),
    ]
    return named_sequential(layers)
