"""`sequential`: a model written out layer by layer in YAML, with input sizes inferred.

    model:
      name: sequential
      layers:
        - conv2d: {out_channels: 32, kernel_size: 3}
        - relu
        - maxpool2d: 2
        - flatten
        - linear: 128
        - linear: 10

A layer is a word, or a one-key mapping from the word to its arguments: a bare value (the
first argument), a list (arguments in order) or a mapping (arguments by name). `residual`
takes a list of layers and adds its input to their output (a skip connection):

        - residual:
            - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
            - batchnorm
            - relu
            - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
        - relu

Where the layers change the shape, the input is projected to fit, as in ResNet: a 1x1 conv
(strided where the size shrinks) for images, a linear layer for flat input. A change a
projection cannot make (an image turned flat, or a size shrunk by no whole stride) is an
error naming both shapes.
"""

from __future__ import annotations

import inspect
import typing
from typing import Annotated, Any

from mlcl_train.core.errors import UserError, first_line
from mlcl_train.core.values import NonEmpty, NonNegative, PositiveInt, Probability, coerce, suggest
from mlcl_train.models import register_model, register_notes
from mlcl_train.models.layers import ACTIVATIONS, make_activation

Shape = tuple[int, ...]
Size = PositiveInt | list[PositiveInt]

DEFAULT_LAYERS = ("flatten", {"linear": 128}, "relu", {"linear": 10})


@register_model
def sequential(layers: list[Any] = DEFAULT_LAYERS) -> Any:
    """Layers written out in YAML (see `mlcl-train models` for the layer words); sizes inferred."""
    import torch

    from mlcl_train.core.datasets import INPUT_SHAPE, NUM_CLASSES
    from mlcl_train.models.layers import named_sequential

    with torch.no_grad():
        named, shape = build_layers(list(layers), (2, *INPUT_SHAPE), "model.layers")
    if len(shape) != 2 or shape[1] != NUM_CLASSES:
        raise UserError(f"model.layers: the last layer gives shape {_show(shape)}; "
                        f"it must give (N, {NUM_CLASSES}) class scores")
    return named_sequential(named)


def build_layers(items: list[Any], shape: Shape, key: str) -> tuple[list[tuple[str, Any]], Shape]:
    """Build each layer for the shape the previous one produces; return (name, module) pairs and the final shape."""
    import torch

    named: list[tuple[str, Any]] = []
    counts: dict[str, int] = {}
    x = torch.zeros(shape)
    for i, item in enumerate(items):
        word, args = _parse(item, f"{key}[{i}]")
        where = f"{key}[{i}] ({word})"
        module = _build(word, args, tuple(x.shape), where)
        module.eval()
        try:
            x = module(x)
        except RuntimeError as err:
            reason = first_line(err)
            raise UserError(f"{where}: does not fit its input of shape {_show(tuple(x.shape))}: {reason}") from None
        prefix = PREFIX.get(word, "act" if word in ACTIVATIONS else word)
        counts[prefix] = counts.get(prefix, 0) + 1
        named.append((f"{prefix}{counts[prefix]}", module))
    return named, tuple(x.shape)


def _need(shape: Shape, ndim: int, where: str) -> None:
    if len(shape) != ndim:
        want = "flat input (N, features): add 'flatten' before it" if ndim == 2 else "image input (N, C, H, W)"
        raise UserError(f"{where}: needs {want}, but gets shape {_show(shape)}")


def _linear(shape: Shape, where: str, out_features: PositiveInt, bias: bool = True) -> Any:
    from torch import nn

    _need(shape, 2, where)
    return nn.Linear(shape[1], out_features, bias=bias)


def _conv2d(
    shape: Shape,
    where: str,
    out_channels: PositiveInt,
    kernel_size: Size = 3,
    stride: Size = 1,
    padding: int | list[int] = 0,
    bias: bool = True,
) -> Any:
    from torch import nn

    _need(shape, 4, where)
    return nn.Conv2d(shape[1], out_channels, _pair(kernel_size), _pair(stride), _pair(padding), bias=bias)


def _maxpool2d(shape: Shape, where: str, kernel_size: Size = 2, stride: Size | None = None) -> Any:
    from torch import nn

    _need(shape, 4, where)
    return nn.MaxPool2d(_pair(kernel_size), None if stride is None else _pair(stride))


def _avgpool2d(shape: Shape, where: str, kernel_size: Size = 2, stride: Size | None = None) -> Any:
    from torch import nn

    _need(shape, 4, where)
    return nn.AvgPool2d(_pair(kernel_size), None if stride is None else _pair(stride))


def _adaptiveavgpool2d(shape: Shape, where: str, output_size: Size = 1) -> Any:
    from torch import nn

    _need(shape, 4, where)
    return nn.AdaptiveAvgPool2d(_pair(output_size))


def _flatten(shape: Shape, where: str) -> Any:
    from torch import nn

    return nn.Flatten()


def _dropout(shape: Shape, where: str, p: Probability = 0.5) -> Any:
    from torch import nn

    return nn.Dropout(p)


def _batchnorm(shape: Shape, where: str) -> Any:
    from torch import nn

    if len(shape) not in (2, 4):
        raise UserError(f"{where}: needs input (N, features) or (N, C, H, W), but gets shape {_show(shape)}")
    return nn.BatchNorm1d(shape[1]) if len(shape) == 2 else nn.BatchNorm2d(shape[1])


def _softmax(shape: Shape, where: str) -> Any:
    from torch import nn

    return nn.Softmax(dim=1)


def _log_softmax(shape: Shape, where: str) -> Any:
    from torch import nn

    return nn.LogSoftmax(dim=1)


def _leaky_relu(shape: Shape, where: str, negative_slope: NonNegative = 0.01) -> Any:
    from torch import nn

    return nn.LeakyReLU(negative_slope)


def _residual(shape: Shape, where: str, layers: Annotated[list[Any], NonEmpty()], project: bool = True) -> Any:
    """A skip connection: layers(x) + x, with x projected where the layers change its shape."""
    from mlcl_train.models._modules import Residual
    from mlcl_train.models.layers import named_sequential

    named, out = build_layers(list(layers), shape, f"{where}.layers")
    if out != shape and not project:
        raise UserError(f"{where}: its layers turn shape {_show(shape)} into {_show(out)}, and the input can only be "
                        "added to an output of its own shape; keep the shape, or set project: true")
    return Residual(named_sequential(named), None if out == shape else _projection(shape, out, where))


def _projection(shape: Shape, out: Shape, where: str) -> Any:
    """The shortcut that maps the input shape to the layers' output shape: 1x1 conv (strided) or linear."""
    from torch import nn

    if len(shape) == len(out) == 2:
        return nn.Linear(shape[1], out[1], bias=False)
    stride = -(-shape[2] // out[2]) if len(shape) == len(out) == 4 else 0  # ceil(H_in / H_out)
    if not stride or (out[2], out[3]) != ((shape[2] - 1) // stride + 1, (shape[3] - 1) // stride + 1):
        raise UserError(f"{where}: its layers turn shape {_show(shape)} into {_show(out)}, which no 1x1 conv or "
                        "linear projection of the input matches; keep the input's kind (image or flat) and "
                        "shrink the size by a whole factor")
    return nn.Conv2d(shape[1], out[1], 1, stride=stride, bias=False)


def _plain_activation(name: str) -> Any:
    def build(shape: Shape, where: str) -> Any:
        return make_activation(name)

    return build


LAYERS: dict[str, Any] = {
    "linear": _linear,
    "conv2d": _conv2d,
    "maxpool2d": _maxpool2d,
    "avgpool2d": _avgpool2d,
    "adaptiveavgpool2d": _adaptiveavgpool2d,
    "flatten": _flatten,
    "dropout": _dropout,
    "batchnorm": _batchnorm,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    **{name: _plain_activation(name) for name in ACTIVATIONS},
    "leaky_relu": _leaky_relu,
    "residual": _residual,
}
PREFIX = {"linear": "fc", "conv2d": "conv", "maxpool2d": "pool", "avgpool2d": "pool",
          "adaptiveavgpool2d": "pool", "batchnorm": "bn", "dropout": "drop", "residual": "res"}


def layer_params(word: str) -> list[inspect.Parameter]:
    """A layer word's arguments (after the implicit input shape)."""
    return list(inspect.signature(LAYERS[word]).parameters.values())[2:]


def _parse(item: Any, key: str) -> tuple[str, Any]:
    if isinstance(item, str):
        word, args = item, None
    elif isinstance(item, dict) and len(item) == 1:
        (word, args), = item.items()
    else:
        raise UserError(f"{key}: a layer is a word such as 'relu' or a one-key mapping such as {{linear: 128}}, "
                        f"got {item!r}")
    if word not in LAYERS:
        raise UserError(f"{key}: unknown layer '{word}'; {suggest(str(word), sorted(LAYERS))}")
    return word, args


def _build(word: str, args: Any, shape: Shape, where: str) -> Any:
    fn = LAYERS[word]
    params = layer_params(word)
    names = [p.name for p in params]
    hints = typing.get_type_hints(fn, include_extras=True)
    if args is None:
        kwargs = {}
    elif isinstance(args, dict):
        kwargs = dict(args)
    elif isinstance(args, list) and params and typing.get_origin(_unwrap(hints[names[0]])) is list:
        kwargs = {names[0]: args}  # `residual: [layers]`: the list is the first argument
    elif isinstance(args, list) and len(args) <= len(params):
        kwargs = dict(zip(names, args, strict=False))
    elif params:
        kwargs = {names[0]: args}
    else:
        raise UserError(f"{where}: takes no arguments, got {args!r}")
    for name in kwargs:
        if name not in names:
            raise UserError(f"{where}: unknown argument '{name}'; {suggest(str(name), names)}")
    for p in params:
        if p.name in kwargs:
            kwargs[p.name] = coerce(f"{where}.{p.name}", kwargs[p.name], hints[p.name])
        elif p.default is inspect.Parameter.empty:
            raise UserError(f"{where}: missing argument '{p.name}'")
    return fn(shape, where, **kwargs)


def _unwrap(tp: Any) -> Any:
    """Annotated[T, ...] -> T."""
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _pair(value: int | list[int]) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _show(shape: Shape) -> str:
    return "(" + ", ".join(["N", *map(str, shape[1:])]) + ")"


@register_notes("sequential")
def layer_words() -> list[str]:
    """The layer words with their parameters, for `mlcl-train models`."""
    from mlcl_train.models import yaml_value

    lines = ["    layer words:"]
    for word in LAYERS:
        params = ", ".join(
            p.name + ("" if p.default is p.empty else f"={yaml_value(p.default)}") for p in layer_params(word)
        )
        lines.append(f"      {word}" + (f" ({params})" if params else ""))
    return lines
