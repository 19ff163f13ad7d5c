"""A small residual network (He et al., 2016) for 28x28 inputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mlcl_train.core.errors import UserError
from mlcl_train.core.values import NonEmpty, PositiveInt
from mlcl_train.models import register_model
from mlcl_train.models.layers import Activation, Output, make_activation, make_output, named_sequential


@register_model
def resnet(
    blocks: Annotated[list[PositiveInt], NonEmpty()] = (1, 1, 1),
    widths: Annotated[list[PositiveInt], NonEmpty()] = (16, 32, 64),
    batch_norm: bool = True,
    activation: Activation = "relu",
    stem_stride: Literal[1, 2] = 1,  # 2: the stages start at 14x14, about a quarter of the compute
    output: Output = "logits",
) -> Any:
    """ResNet: 3x3 conv stem, stages of basic residual blocks (the size halves from stage 2), global average pool, FC."""  # noqa: E501 (the models list shows this line whole)
    if len(blocks) != len(widths):
        raise UserError(
            f"model.widths: {len(widths)} widths for {len(blocks)} stages in model.blocks; give one width per stage"
        )
    from torch import nn

    from mlcl_train.core.datasets import CHANNELS, NUM_CLASSES

    layers: list[tuple[str, Any]] = [
        (
            "stem",
            _conv_bn(CHANNELS, widths[0], stem_stride, batch_norm),
        ),  # (N, widths[0], 28/stem_stride, 28/stem_stride)
        ("act", make_activation(activation)),
    ]
    channels = widths[0]
    for i, (count, width) in enumerate(zip(blocks, widths, strict=False), start=1):
        stage = []
        for j in range(1, count + 1):
            stride = 2 if i > 1 and j == 1 else 1  # 28 -> 14 -> 7 -> 4 ... (stem_stride 2: 14 -> 7 -> 4 ...)
            stage.append((f"block{j}", _basic_block(channels, width, stride, batch_norm, activation)))
            channels = width
        layers.append((f"stage{i}", named_sequential(stage)))
    layers += [
        ("pool", nn.AdaptiveAvgPool2d(1)),  # (N, C, H, W) -> (N, C, 1, 1)
        ("flatten", nn.Flatten()),
        ("out", nn.Linear(channels, NUM_CLASSES)),
        (output, make_output(output)),
    ]
    return named_sequential(layers)


def _conv_bn(c_in: int, c_out: int, stride: int, batch_norm: bool, kernel_size: int = 3) -> Any:
    """Conv (same padding) -> [BatchNorm]; the conv has no bias when batch norm follows it."""
    from torch import nn

    return named_sequential(
        [
            ("conv", nn.Conv2d(c_in, c_out, kernel_size, stride, padding=kernel_size // 2, bias=not batch_norm)),
            ("bn", nn.BatchNorm2d(c_out) if batch_norm else None),
        ]
    )


def _basic_block(c_in: int, c_out: int, stride: int, batch_norm: bool, activation: str) -> Any:
    """act(conv-bn-act-conv-bn (x) + shortcut(x)); the shortcut is a strided 1x1 conv where the shape changes."""
    from mlcl_train.models._modules import Residual

    body = named_sequential(
        [
            ("conv1", _conv_bn(c_in, c_out, stride, batch_norm)),
            ("act", make_activation(activation)),
            ("conv2", _conv_bn(c_out, c_out, 1, batch_norm)),
        ]
    )
    shortcut = _conv_bn(c_in, c_out, stride, batch_norm, kernel_size=1) if stride != 1 or c_in != c_out else None
    return Residual(body, shortcut, after=make_activation(activation))
