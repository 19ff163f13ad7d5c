"""A model's layers with their output shapes and parameter counts, found by one forward pass.

    mlcl-train summary --config configs/mlp_deep.yaml
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Layer:
    name: str  # dotted module name, e.g. fc1
    kind: str  # class name, e.g. Linear
    shape: tuple[int, ...] | None  # output shape for a batch of 2; None if the forward pass skips it
    params: int  # parameters this module holds itself (not its children's)


def layer_table(model: nn.Module) -> list[Layer]:
    """Leaf modules (and any module holding parameters of its own) in order, after a (2, 1, 28, 28) forward pass."""
    layers: dict[str, Layer] = {}
    hooks = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if name and (own or not any(module.children())):
            layers[name] = Layer(name, type(module).__name__, None, own)
            hooks.append(module.register_forward_hook(_recorder(layers[name])))
    if not layers:  # a single-module model
        layers[""] = Layer("(model)", type(model).__name__, None, sum(p.numel() for p in model.parameters()))
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, 1, 28, 28))
    finally:
        for hook in hooks:
            hook.remove()
    if "" in layers:
        layers[""].shape = tuple(out.shape)
    return list(layers.values())


def _recorder(layer: Layer):
    def hook(module: nn.Module, inputs: object, output: object) -> None:
        if layer.shape is None and isinstance(output, torch.Tensor):
            layer.shape = tuple(output.shape)

    return hook


def format_table(layers: list[Layer], total: int, trainable: int) -> str:
    """Aligned text: layer, type, output shape (N = batch), parameters; then the totals."""
    rows = display_rows(layers)
    headers = ("layer", "type", "output shape", "params")
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(4)]
    rule = "-" * (sum(widths) + 6)

    def line(r: tuple[str, ...]) -> str:
        return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}"

    lines = [line(headers), rule, *map(line, rows), rule, f"total parameters: {total:,}"]
    if trainable != total:
        lines.append(f"trainable: {trainable:,}")
    return "\n".join(lines) + "\n"


def display_rows(layers: list[Layer]) -> list[tuple[str, str, str, str]]:
    """Each layer as strings: name, type, output shape (N = batch), parameters."""
    return [(lay.name, lay.kind, _shape(lay.shape), f"{lay.params:,}") for lay in layers]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "(" + ", ".join(["N", *map(str, shape[1:])]) + ")"
