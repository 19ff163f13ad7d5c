"""Building blocks shared by the model families. Torch is imported inside each function."""

from __future__ import annotations

from typing import Any, Literal

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "elu", "silu")
Activation = Literal[ACTIVATIONS]
Output = Literal["logits", "softmax", "log_softmax"]  # what the last layer emits


def make_activation(name: str) -> Any:
    """A fresh activation module by name."""
    from torch import nn

    return {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "silu": nn.SiLU,
    }[name]()


def make_output(output: str) -> Any | None:
    """The module that turns logits into the requested output, or None for plain logits."""
    from torch import nn

    return {"logits": None, "softmax": nn.Softmax(dim=1), "log_softmax": nn.LogSoftmax(dim=1)}[output]


def named_sequential(layers: list[tuple[str, Any]]) -> Any:
    """nn.Sequential whose children are named by role (fc1, act1, ...), skipping None."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(OrderedDict((name, layer) for name, layer in layers if layer is not None))


def check_patch(patch: int | None) -> None:
    """model.patch must tile the 28x28 image exactly."""
    from mlcl_train.core.datasets import IMAGE_SIZE as SIZE
    from mlcl_train.core.errors import UserError

    if patch is not None and SIZE % patch:
        valid = ", ".join(str(p) for p in range(1, SIZE + 1) if SIZE % p == 0)
        raise UserError(f"model.patch: {SIZE} is not divisible by {patch}, so {patch}x{patch} patches do not tile "
                        f"the {SIZE}x{SIZE} image; use one of {valid}")
