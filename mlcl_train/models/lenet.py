"""LeNet-5 (LeCun et al., 1998): the classic conv net, for 28x28 MNIST."""

from __future__ import annotations

from typing import Any, Literal

from mlcl_train.core.values import Probability
from mlcl_train.models import register_model
from mlcl_train.models.layers import Activation, Output, make_activation, make_output, named_sequential


@register_model
def lenet5(
    activation: Activation = "tanh",
    pool: Literal["avg", "max"] = "avg",
    dropout: Probability = 0.0,
    output: Output = "logits",
) -> Any:
    """LeNet-5: Conv 6@5x5 (pad 2) -> pool -> Conv 16@5x5 -> pool -> FC 120 -> FC 84 -> 10; tanh + avg pool as in 1998."""  # noqa: E501 (the models list shows this line whole)
    from torch import nn

    from mlcl_train.core.datasets import CHANNELS, IMAGE_SIZE, NUM_CLASSES

    side = (IMAGE_SIZE // 2 - 4) // 2  # 5: after conv1, pool1, conv2 (5x5, no padding) and pool2

    def pool_layer() -> Any:
        return nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2)

    def drop() -> Any:
        return nn.Dropout(dropout) if dropout > 0 else None

    return named_sequential(
        [
            (
                "conv1",
                nn.Conv2d(CHANNELS, 6, 5, padding=2),
            ),  # (N, 6, 28, 28): the padding stands in for the 32x32 input of 1998
            ("act1", make_activation(activation)),
            ("pool1", pool_layer()),  # (N, 6, 14, 14)
            ("conv2", nn.Conv2d(6, 16, 5)),  # (N, 16, 10, 10)
            ("act2", make_activation(activation)),
            ("pool2", pool_layer()),  # (N, 16, 5, 5)
            ("flatten", nn.Flatten()),  # (N, 400); fc1 is the paper's C5, a 5x5 conv over a 5x5 map
            ("fc1", nn.Linear(16 * side * side, 120)),
            ("act3", make_activation(activation)),
            ("drop1", drop()),
            ("fc2", nn.Linear(120, 84)),
            ("act4", make_activation(activation)),
            ("drop2", drop()),
            ("out", nn.Linear(84, NUM_CLASSES)),
            (output, make_output(output)),
        ]
    )
