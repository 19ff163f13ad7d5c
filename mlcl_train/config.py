"""The config: one schema with its defaults; YAML files (with `extends`) and --set override it.

    cfg = load_config("configs/mlp_deep.yaml", sets=["train.epochs=3"])

Every key is checked before anything trains: an unknown key names the closest valid one,
a wrong type names the key, the value and the expected type.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from mlcl_train.errors import UserError
from mlcl_train.models import resolve_model_config
from mlcl_train.schema import NonNegative, Positive, PositiveInt, coerce, suggest, unknown_key


@dataclass(frozen=True)
class Field:
    type: Any
    default: Any
    help: str


@dataclass(frozen=True)
class Named:
    """A section picked by its `name` key, each name with its own fields (optimizer, scheduler)."""

    choices: dict[str, dict[str, Field]]
    default: str | None  # None: the section may be null (off)
    help: str


MODEL = "model"  # the `model:` section is checked against the registry

OPTIMIZERS = {
    "sgd": {
        "lr": Field(Positive, 0.01, "learning rate"),
        "momentum": Field(NonNegative, 0.0, "momentum factor"),
        "weight_decay": Field(NonNegative, 0.0, "L2 penalty"),
        "nesterov": Field(bool, False, "Nesterov momentum"),
    },
    "adam": {
        "lr": Field(Positive, 0.001, "learning rate"),
        "betas": Field(list[float], [0.9, 0.999], "running-average coefficients"),
        "eps": Field(Positive, 1e-8, "numerical stability term"),
        "weight_decay": Field(NonNegative, 0.0, "L2 penalty"),
    },
    "adamw": {
        "lr": Field(Positive, 0.001, "learning rate"),
        "betas": Field(list[float], [0.9, 0.999], "running-average coefficients"),
        "eps": Field(Positive, 1e-8, "numerical stability term"),
        "weight_decay": Field(NonNegative, 0.01, "decoupled weight decay"),
    },
    "rmsprop": {
        "lr": Field(Positive, 0.01, "learning rate"),
        "alpha": Field(NonNegative, 0.99, "smoothing constant"),
        "eps": Field(Positive, 1e-8, "numerical stability term"),
        "momentum": Field(NonNegative, 0.0, "momentum factor"),
        "weight_decay": Field(NonNegative, 0.0, "L2 penalty"),
    },
    "adadelta": {
        "lr": Field(Positive, 1.0, "scale of the update"),
        "rho": Field(NonNegative, 0.9, "running-average coefficient"),
        "eps": Field(Positive, 1e-6, "numerical stability term"),
        "weight_decay": Field(NonNegative, 0.0, "L2 penalty"),
    },
    "adagrad": {
        "lr": Field(Positive, 0.01, "learning rate"),
        "lr_decay": Field(NonNegative, 0.0, "learning-rate decay"),
        "eps": Field(Positive, 1e-10, "numerical stability term"),
        "weight_decay": Field(NonNegative, 0.0, "L2 penalty"),
    },
}

SCHEDULERS = {  # stepped once per epoch
    "step": {
        "step_size": Field(PositiveInt, 1, "epochs between decays"),
        "gamma": Field(Positive, 0.7, "factor per decay"),
    },
    "multistep": {
        "milestones": Field(list[PositiveInt], [5, 8], "epochs after which to decay"),
        "gamma": Field(Positive, 0.1, "factor per decay"),
    },
    "exponential": {"gamma": Field(Positive, 0.9, "factor per epoch")},
    "cosine": {
        "t_max": Field(PositiveInt | None, None, "epochs of the half cosine; null = train.epochs"),
        "eta_min": Field(NonNegative, 0.0, "final learning rate"),
    },
}

SCHEMA: dict[str, Any] = {
    "name": Field(str | None, None, "run name; default: the config file's stem"),
    "seed": Field(int, 1, "seeds the weights, the shuffling and dropout"),
    "device": Field(str, "auto", "auto | cpu | cuda | cuda:N | mps (auto: CUDA, then MPS, then CPU)"),
    "data": {
        "dataset": Field(Literal["mnist", "fashion_mnist"], "mnist", "which data set"),
        "root": Field(str | None, None, "folder holding the four IDX files (.gz or not); null = the bundled MNIST"),
        "train_subset": Field(PositiveInt | None, None, "train on the first N training images only"),
    },
    "model": MODEL,
    "train": {
        "epochs": Field(PositiveInt, 10, "passes over the training set"),
        "batch_size": Field(PositiveInt, 64, "images per optimizer step"),
        "loss": Field(Literal["cross_entropy", "nll", "mse"], "cross_entropy", "mse compares with one-hot targets"),
        "optimizer": Named(OPTIMIZERS, "sgd", "sgd | adam | adamw | rmsprop | adadelta | adagrad"),
        "scheduler": Named(SCHEDULERS, None, "null | step | multistep | exponential | cosine"),
        "compile": Field(bool, False, "torch.compile the model (slow start, can pay for conv nets)"),
        "channels_last": Field(bool, False, "channels-last memory format for conv nets"),
        "amp": Field(Literal["auto", "bf16", "fp16"] | None, None,
                     "mixed precision: bf16 (CUDA, CPUs with bf16) | fp16 (CUDA) | auto (bf16 where it is native) | null"),
        "log_grad_norms": Field(bool, False, "write each layer's gradient norm per epoch to grad_norms.csv"),
    },
    "eval": {
        "batch_size": Field(PositiveInt, 1000, "images per evaluation batch"),
    },
}

NAMED_SECTIONS = ("model", "optimizer", "scheduler")  # sections picked by their `name` key
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def load_config(path: str | Path, sets: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a config file (following `extends`), apply --set overrides, and return it resolved."""
    path = Path(path)
    raw = _read_chain(path, ())
    for item in sets:
        raw = merge(raw, parse_set(item))
    if raw.get("name") is None:
        raw["name"] = path.stem
    return resolve(raw)


def resolve(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a raw config against the schema; return it with every default filled in."""
    cfg = _resolve_section(raw, SCHEMA, "")
    if not DEVICE.fullmatch(cfg["device"]):
        raise UserError(f"device: unknown device {cfg['device']!r}; valid: auto, cpu, cuda, cuda:N, mps")
    return cfg


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge override into base. A section whose `name` changes is replaced, not merged,
    so that switching `optimizer.name` from sgd to adam drops sgd's `momentum`."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if key in NAMED_SECTIONS and isinstance(old, str) and isinstance(value, dict):
            old = {"name": old}  # `optimizer: adam`, then `optimizer: {lr: 0.1}` stays adam
        both = isinstance(old, dict) and isinstance(value, dict)
        if both and not ("name" in old and "name" in value and old["name"] != value["name"]):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def parse_set(item: str) -> dict[str, Any]:
    """'train.optimizer.lr=0.05' -> {'train': {'optimizer': {'lr': 0.05}}}; the value is YAML."""
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise UserError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set train.epochs=3")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as err:
        raise UserError(f"--set {item!r}: the value is not valid YAML ({getattr(err, 'problem', err)})") from None
    for part in reversed(parts):
        value = {part: value}
    return value


def to_yaml(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; every way it can fail is one clear UserError."""
    if not path.exists():
        raise UserError(f"config file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; pass a YAML config file such as configs/mlp_deep.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file; a config is a YAML file") from None
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        raise UserError(f"{path} is empty; a config is a YAML mapping such as 'model: {{name: mlp}}'")
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a YAML mapping (key: value lines), not a {type(data).__name__}")
    return data


def _read_chain(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    real = path.resolve()
    if real in seen:
        chain = " -> ".join(p.name for p in (*seen, real))
        raise UserError(f"{path}: 'extends' makes a cycle: {chain}")
    data = read_yaml(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise UserError(f"{path}: 'extends' must be a path to another config, got {base!r}")
    base_path = path.parent / base
    if not base_path.is_file():
        raise UserError(f"{path}: 'extends' names {base_path}, which does not exist")
    return merge(_read_chain(base_path, (*seen, real)), data)


def _resolve_section(raw: Any, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{prefix.rstrip('.')}: expected a mapping of keys, got {raw!r}")
    for key in raw:
        if key not in schema:
            elsewhere = [k for k in _dotted_keys(SCHEMA) if k.endswith(f".{key}")]
            if elsewhere and not difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5):
                raise UserError(f"unknown key '{prefix}{key}'; did you mean '{elsewhere[0]}'?")
            raise unknown_key(f"{prefix}{key}", list(schema))
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        path, value = f"{prefix}{key}", raw.get(key)
        if spec is MODEL:
            out[key] = resolve_model_config(value if value is not None else {})
        elif isinstance(spec, Named):
            out[key] = _resolve_named(value, spec, path)
        elif isinstance(spec, dict):
            out[key] = _resolve_section(value, spec, path + ".")
        else:
            out[key] = spec.default if key not in raw else coerce(path, value, spec.type)
    return out


def _dotted_keys(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key the schema knows, dotted (optimizer and scheduler keys under each name's fields)."""
    keys = []
    for key, spec in schema.items():
        if isinstance(spec, dict):
            keys += _dotted_keys(spec, f"{prefix}{key}.")
        elif isinstance(spec, Named):
            keys += [f"{prefix}{key}.{field}" for fields in spec.choices.values() for field in fields]
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _resolve_named(value: Any, spec: Named, path: str) -> dict[str, Any] | None:
    if value is None and spec.default is None:
        return None
    if isinstance(value, str):
        value = {"name": value}  # shorthand: `optimizer: adam`
    if not isinstance(value, dict | None):
        raise UserError(f"{path}: expected a name or a mapping with a 'name' key, got {value!r}")
    value = dict(value or {})
    name = value.pop("name", spec.default)
    valid = ", ".join(spec.choices)
    if name is None:
        raise UserError(f"{path}: {', '.join(map(str, value))} given but no {path}.name; set it to one of {valid}")
    if name not in spec.choices:
        raise UserError(f"{path}.name: unknown value {name!r}; {suggest(str(name), list(spec.choices))}")
    fields = spec.choices[name]
    for key in value:
        if key not in fields:
            raise unknown_key(f"{path}.{key}", list(fields), where=f" (not an argument of {name})")
    return {"name": name, **_resolve_section(value, fields, f"{path}.")}
