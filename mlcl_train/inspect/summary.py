"""A model's layers with their output shapes and parameter counts, found by one forward pass.
Torch is imported by the functions that build or run a model, so the table types load without it.

    mlcl-train summary --config configs/mlp_deep.yaml
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcl_train.core import table

if TYPE_CHECKING:
    from torch import nn


@dataclass
class Layer:
    name: str  # dotted module name, e.g. fc1
    kind: str  # class name, e.g. Linear
    shape: tuple[int, ...] | None  # output shape for a batch of 2; None if the forward pass skips it
    params: int  # parameters this module holds itself (not its children's)


def layer_table(model: nn.Module) -> list[Layer]:
    """Leaf modules (and any module holding parameters of its own) in order, after a forward pass of 2 images."""
    from mlcl_train.models import probe

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
        out = probe(model)
    finally:
        for hook in hooks:
            hook.remove()
    if "" in layers:
        layers[""].shape = tuple(out.shape)
    return list(layers.values())


def _recorder(layer: Layer) -> Any:
    import torch

    def hook(module: nn.Module, inputs: object, output: object) -> None:
        if layer.shape is None and isinstance(output, torch.Tensor):
            layer.shape = tuple(output.shape)

    return hook


def format_table(layers: list[Layer], total: int, trainable: int) -> str:
    """Aligned text: layer, type, output shape (N = batch), parameters; then the totals."""
    text = table.render(["layer", "type", "output shape", "params"], display_rows(layers), right={3})
    rule = "-" * max(map(len, text.splitlines()))
    lines = [rule, f"total parameters: {total:,}", *([f"trainable: {trainable:,}"] if trainable != total else [])]
    return text + "".join(line + "\n" for line in lines)


def display_rows(layers: list[Layer]) -> list[tuple[str, str, str, str]]:
    """Each layer as strings: name, type, output shape (N = batch), parameters."""
    return [(lay.name, lay.kind, _shape(lay.shape), f"{lay.params:,}") for lay in layers]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "(" + ", ".join(["N", *map(str, shape[1:])]) + ")"


def summarize(cfg: dict[str, Any]) -> str:
    """`mlcl-train summary` of a resolved config: the model's name, its layer table and totals."""
    from mlcl_train.training.engine import build_model

    model = build_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"model {cfg['model']['name']}\n" + format_table(layer_table(model), total, trainable)
