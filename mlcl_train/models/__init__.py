"""The model registry: a name -> builder dict filled by @register_model.

A builder is a function whose keyword arguments are the model's config keys, each with a
type annotation and a default, and whose first docstring line describes the model. Builders
import torch inside their body, so listing and validating models never imports it:

    @register_model
    def mlp(hidden: list[int] = (512, 256), activation: Activation = "relu") -> "nn.Module":
        \"\"\"Fully connected net.\"\"\"
        from torch import nn
        ...

Every model takes a batch of images (N, 1, 28, 28) and returns (N, 10) class scores.
"""

from __future__ import annotations

import fnmatch
import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable

from mlcl_train.errors import UserError
from mlcl_train.schema import coerce, quote, type_name, unknown_key

_MODELS: dict[str, Callable[..., Any]] = {}
_NOTES: dict[str, Callable[[], list[str]]] = {}  # more lines for `mlcl-train models`, by model name


@dataclass(frozen=True)
class Arg:
    name: str
    type: Any
    default: Any


def register_model(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: add a builder to the registry under its function name."""
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"model '{name}' is registered twice")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch pattern, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def get_builder(name: str) -> Callable[..., Any]:
    if name not in _MODELS:
        raise UserError(f"model.name: unknown model {quote(name)}; valid: {', '.join(list_models())}")
    return _MODELS[name]


def model_args(name: str) -> list[Arg]:
    """The arguments a model takes, with their types and defaults, in signature order."""
    fn = get_builder(name)
    hints = typing.get_type_hints(fn, include_extras=True)
    return [
        Arg(p.name, hints.get(p.name, Any), _plain(p.default))
        for p in inspect.signature(fn).parameters.values()
    ]


def description(name: str) -> str:
    doc = inspect.getdoc(get_builder(name)) or ""
    return doc.splitlines()[0] if doc else ""


def register_notes(name: str) -> Callable[[Callable[[], list[str]]], Callable[[], list[str]]]:
    """Decorator: a function giving more lines (already indented) for a model in `mlcl-train models`."""
    def add(fn: Callable[[], list[str]]) -> Callable[[], list[str]]:
        _NOTES[name] = fn
        return fn

    return add


def describe(name: str) -> list[str]:
    """What `mlcl-train models` prints for a model: its description, its arguments with defaults, its notes."""
    lines = [f"{name}: {description(name)}"]
    lines += [f"    {arg.name}: {type_name(arg.type)} = {yaml_value(arg.default)}" for arg in model_args(name)]
    return lines + (_NOTES[name]() if name in _NOTES else [])


def yaml_value(value: Any) -> str:
    """A value as one line of YAML flow style: [512, 256], null, true."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def resolve_model_config(section: dict[str, Any]) -> dict[str, Any]:
    """Check a `model:` section against its builder; return it with every default filled in."""
    name = section.get("name", "mlp")
    if not isinstance(name, str):
        raise UserError(f"model.name: expected a model name, got {quote(name)}; valid: {', '.join(list_models())}")
    args = {a.name: a for a in model_args(name)}
    for key in section:
        if key != "name" and key not in args:
            raise unknown_key(f"model.{key}", list(args), where=f" (not an argument of model '{name}')")
    resolved: dict[str, Any] = {"name": name}
    for arg in args.values():
        value = section.get(arg.name, arg.default)
        resolved[arg.name] = _plain(coerce(f"model.{arg.name}", value, arg.type))
    return resolved


def create_model(name: str, **kwargs: Any) -> Any:
    """Build a registered model (a torch.nn.Module) from its resolved arguments."""
    return get_builder(name)(**kwargs)


def _plain(value: Any) -> Any:
    """Tuples (immutable signature defaults) read as lists, as they would from YAML."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


from mlcl_train.models import cnn, lenet, mlp, recurrent, resnet, sequential, vit  # noqa: E402,F401  (fill the registry)
