"""The model registry: a name -> builder dict filled by @register_model.

A builder is a function whose keyword arguments are the model's config keys, each with a
type annotation and a default, and whose first docstring line describes the model. Builders
import torch inside their body, so listing and validating models never imports it:

    @register_model
    def mlp(hidden: list[int] = (512, 256), activation: Activation = "relu") -> "nn.Module":
        \"\"\"Fully connected net.\"\"\"
        from torch import nn
        ...

Every model takes a batch of images (N, *INPUT_SHAPE) and returns (N, NUM_CLASSES) class scores (core/datasets.py).

A config may also name a class in a Python file of its own, `model: {name: my_models.py:TinyNet,
width: 64}` (the path relative to the config); the class's __init__ arguments are checked like
a builder's (see docs/models.md).
"""

from __future__ import annotations

import fnmatch
import hashlib
import inspect
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mlcl_train.core.datasets import INPUT_SHAPE, NUM_CLASSES
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import read_bytes
from mlcl_train.core.values import coerce, quote, type_name, unknown_key

_MODELS: dict[str, Callable[..., Any]] = {}
_NOTES: dict[str, Callable[[], list[str]]] = {}  # more lines for `mlcl-train models`, by model name
MODEL_FILE_LIMIT = 4 * 2**20  # bytes of a model file of the user's own
FILE_MODEL = re.compile(r"(?P<file>.+\.py):(?P<cls>[A-Za-z_]\w*)")  # my_models.py:TinyNet


@dataclass(frozen=True)
class Arg:
    name: str
    type: Any
    default: Any
    required: bool = False  # no default in the signature: the config must give it


def register_model(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: add a builder to the registry under its function name."""
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"model '{name}' is registered twice")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch pattern, sorted; a FILE.py:Class pattern is that class."""
    if FILE_MODEL.fullmatch(pattern):
        get_builder(pattern)
        return [pattern]
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def get_builder(name: str) -> Callable[..., Any]:
    if FILE_MODEL.fullmatch(name):
        return _file_class(name)
    if name not in _MODELS:
        raise UserError(f"model.name: unknown model {quote(name)}; valid: {', '.join(list_models())}")
    return _MODELS[name]


def model_args(name: str) -> list[Arg]:
    """The arguments a model takes, with their types and defaults, in signature order."""
    fn = get_builder(name)
    hints = typing.get_type_hints(fn.__init__ if inspect.isclass(fn) else fn, include_extras=True)
    return [
        Arg(p.name, hints.get(p.name, Any), None if p.default is p.empty else _plain(p.default), p.default is p.empty)
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
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
        if arg.required and arg.name not in section:
            raise UserError(f"model.{arg.name}: required by model '{name}' (its signature gives no default); set it")
        value = section.get(arg.name, arg.default)
        resolved[arg.name] = _plain(coerce(f"model.{arg.name}", value, arg.type))
    return resolved


def create_model(name: str, **kwargs: Any) -> Any:
    """Build a registered model (a torch.nn.Module) from its resolved arguments."""
    if FILE_MODEL.fullmatch(name):
        return _build_file_model(name, kwargs)
    return get_builder(name)(**kwargs)


def anchor_model_file(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A config with its `model.name` FILE.py:Class made absolute (a relative FILE is relative to `folder`)."""
    section = config.get("model")
    name = section.get("name") if isinstance(section, dict) else section
    match = FILE_MODEL.fullmatch(name) if isinstance(name, str) else None
    if match is None or Path(match["file"]).expanduser().is_absolute():
        return config
    absolute = f"{(folder / match['file']).resolve()}:{match['cls']}"
    return {**config, "model": {**section, "name": absolute} if isinstance(section, dict) else absolute}


def _file_class(name: str) -> Any:
    """The class FILE.py:Class names, imported from its file (once per content) if trust.admit allows it."""
    from mlcl_train.models import trust

    match = FILE_MODEL.fullmatch(name)
    path = Path(match["file"]).expanduser()
    if not path.is_file():
        raise UserError(f"model.name: model file not found: {path} (give FILE.py:Class, FILE relative to the config)")
    source = read_bytes(path, MODEL_FILE_LIMIT)
    digest = hashlib.sha256(source).hexdigest()
    trust.admit(path.resolve(), digest)
    key = "_mlcl_model_" + re.sub(r"\W", "_", path.stem) + "_" + digest[:12]
    module = sys.modules.get(key)
    if module is None:
        module = types.ModuleType(key)
        module.__file__ = str(path)
        sys.modules[key] = module
        try:  # the bytes hashed are the bytes run
            exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102
        except (Exception, SystemExit) as err:  # the user's file: any error in it, even exit(), is reported as one line
            del sys.modules[key]
            raise UserError(f"model.name: importing {path} fails: {type(err).__name__}: {err}") from None
    cls = getattr(module, match["cls"], None)
    if cls is None:
        found = sorted(k for k, v in vars(module).items() if inspect.isclass(v) and v.__module__ == key)
        defined = ", ".join(found) or "no classes"
        raise UserError(f"model.name: {path} has no class {match['cls']!r}; it defines: {defined}")
    from torch import nn

    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise UserError(f"model.name: {match['cls']} in {path} is not a torch.nn.Module subclass")
    return cls


def probe(model: Any, count: int = 2, random: bool = False) -> Any:
    """The one forward probe of a model: its output for `count` images of INPUT_SHAPE (zeros, or standard normal
    draws from torch's global generator), in eval mode without gradients; the model is left in the mode it was in.
    build_model and file models check the output's shape with it, the engine its kind, summary its layers' shapes."""
    import torch

    was_training = model.training
    images = torch.randn(count, *INPUT_SHAPE) if random else torch.zeros(count, *INPUT_SHAPE)
    try:
        with torch.no_grad():
            return model.eval()(images)
    finally:
        model.train(was_training)


def _build_file_model(name: str, kwargs: dict[str, Any]) -> Any:
    """Instantiate a file's class and check it maps two images (2, *INPUT_SHAPE) to (2, NUM_CLASSES) scores."""
    import torch

    short = f"{Path(FILE_MODEL.fullmatch(name)['file']).name}:{FILE_MODEL.fullmatch(name)['cls']}"
    try:
        model = get_builder(name)(**kwargs)
    except (Exception, SystemExit) as err:  # the user's __init__
        raise UserError(f"model {short}: building it fails: {type(err).__name__}: {err}") from None
    try:
        out = probe(model)
    except (Exception, SystemExit) as err:  # the user's forward
        reason = f"{type(err).__name__}: {err}"
        raise UserError(f"model {short}: the forward pass on images {(2, *INPUT_SHAPE)} fails: {reason}") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, NUM_CLASSES):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(f"model {short}: returns {got} for images {(2, *INPUT_SHAPE)}; "
                        f"it must return class scores {(2, NUM_CLASSES)}")
    return model.train()


def _plain(value: Any) -> Any:
    """Tuples (immutable signature defaults) read as lists, as they would from YAML."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


from mlcl_train.models import cnn, lenet, mlp, recurrent, resnet, sequential, vit  # noqa: E402,F401  (fill the registry)
