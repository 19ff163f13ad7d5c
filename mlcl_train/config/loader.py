"""The config: one schema with its defaults; YAML files (with `extends`) and --set override it.

    cfg = load_config("configs/mlp_deep.yaml", sets=["train.epochs=3"])
    cfg = load_config("mlp_deep", values={"model.hidden": [256]})   # a shipped config, by name

Every key is checked before anything trains: an unknown key names the closest valid one,
a wrong type names the key, the value and the expected type.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from mlcl_train.config.optim import OPTIMIZERS, SCHEDULERS, Field, Named
from mlcl_train.core import shipped
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import read_text
from mlcl_train.core.safe_yaml import load_yaml
from mlcl_train.core.values import (
    Below,
    Min,
    NonNegative,
    Positive,
    PositiveInt,
    Probability,
    coerce,
    quote,
    suggest,
    unknown_key,
)
from mlcl_train.models import anchor_model_file, resolve_model_config

MODEL = "model"  # the `model:` section is checked against the registry

SCHEMA: dict[str, Any] = {  # each Field's help is its description in the README's table (a test compares them)
    "name": Field(str | None, None, "the run's name, part of its folder's name"),  # default: the file's stem
    "seed": Field(Annotated[int, Min(0), Below(2**32)], 1, "seeds the weights, the shuffling and dropout"),
    "device": Field(str, "auto", "`auto` (CUDA, then MPS, then CPU; the log says when it falls back), "
                                 "`cpu`, `cuda`, `cuda:N`, `mps`"),
    "data": {
        "dataset": Field(Literal["mnist", "fashion_mnist"], "mnist", "`mnist` or `fashion_mnist`"),
        "root": Field(str | None, None, "a folder with the four IDX files (plain or `.gz`, or torchvision's "
                      "`<root>/MNIST/raw/`); `null` = the bundled MNIST"),
        "train_subset": Field(PositiveInt | None, None, "train on the first N training images only"),
        "val_split": Field(Annotated[int, Min(0)], 0, "hold out N training images for validation (a seeded, "
                           "stratified choice, never trained on); the best epoch is chosen on them; 0 = none"),
        "augment": {  # applied to each training batch on the device; 0 / null = off
            "shift": Field(NonNegative, 0, "augmentation: random shift of up to N pixels"),
            "rotate": Field(NonNegative, 0, "augmentation: random rotation of up to N degrees"),
            "scale": Field(Probability, 0, "augmentation: random scaling by a factor from 1 - N to 1 + N"),
            "elastic": Field(Positive | None, None, "augmentation: elastic distortion of strength alpha "
                             "(pixels, Simard 2003 uses 34); `null` = off"),
            "elastic_sigma": Field(Positive, 4.0, "augmentation: smoothness of the elastic distortion "
                                   "(Gaussian sigma in pixels)"),
        },
    },
    "model": MODEL,
    "train": {
        "epochs": Field(PositiveInt, 10, "passes over the training set"),
        "batch_size": Field(PositiveInt, 64, "images per optimizer step"),
        "loss": Field(Literal["cross_entropy", "nll", "mse"], "cross_entropy",
                      "`cross_entropy`, `nll` (expects log-probabilities), `mse` (against one-hot targets)"),
        "optimizer": Named(OPTIMIZERS, "sgd"),
        "scheduler": Named(SCHEDULERS, None),  # stepped once per epoch
        "compile": Field(bool, False, "`torch.compile` the model (slow first epoch; see Speed)"),
        "channels_last": Field(bool, False, "channels-last memory format for conv nets"),
        "amp": Field(Literal["auto", "bf16", "fp16"] | None, None,
                     "mixed precision, float32 weights and optimizer: `bf16` on CUDA and on CPUs with bf16 "
                     "instructions (AVX512-BF16 or AMX), `fp16` on CUDA; `auto`: bf16 where the device has it; "
                     "elsewhere float32, with a note"),
        "cuda_graphs": Field(bool, False, "on CUDA, capture the training step (forward, loss, backward, optimizer "
                             "step) once as a CUDA graph and replay it per full batch: much less launch overhead for "
                             "small models; `sgd`, `adam` and `adamw`, not with `fp16` or `compile`; elsewhere "
                             "ignored, with a note"),
        "log_grad_norms": Field(bool, False, "write each layer's mean gradient norm per epoch to `grad_norms.csv`"),
        "early_stop": {
            "metric": Field(Literal["val_acc", "val_loss"], "val_acc", "early stopping: `val_acc` or `val_loss`"),
            "patience": Field(PositiveInt | None, None, "early stopping: stop after N epochs without a better "
                              "`metric` (needs `data.val_split`); `null` = off"),
        },
        "tensorboard": Field(bool, False, "write TensorBoard event files into the run folder "
                             "(needs the `tensorboard` extra)"),
    },
    "eval": {
        "batch_size": Field(PositiveInt, 1000, "images per evaluation batch"),
    },
}

NAMED_SECTIONS = ("model", "optimizer", "scheduler")  # sections picked by their `name` key
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def load_config(
    path: str | Path, sets: list[str] | tuple[str, ...] = (), values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Read a config file (following `extends`), apply --set overrides, then `values` ({dotted key: value}),
    and return it resolved."""
    return resolve(with_values(read_raw(path, sets), values or {}))


def read_raw(path: str | Path, sets: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A config file or a shipped config (following `extends`) with --set overrides, not yet checked; `name`
    defaults to the stem."""
    path = find_config(path)
    keys = [item.partition("=")[0].strip() for item in sets]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    if twice is not None:
        raise UserError(f"--set {twice}=... is given {keys.count(twice)} times and only one value can win; "
                        "give it once, or try several values with a sweep file (mlcl-train sweep, see sweeps/)")
    raw = _read_chain(path, ())
    for item in sorted(sets, key=lambda item: not _picks_name(item)):  # any order keeps every value
        raw = merge(raw, parse_set(item))
    if raw.get("name") is None:
        raw["name"] = path.stem
    return raw


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """raw with each {dotted key: value} merged in, as --set would."""
    for key in values:
        if not isinstance(key, str) or not key:
            raise UserError(f"config key {key!r}: keys are dotted names as strings, e.g. {{'model.hidden': [256]}}")
    for key, value in sorted(values.items(), key=lambda item: not _picks_name(item[0])):  # as --set
        raw = merge(raw, nest(key, value))
    return raw


def check_device(name: str, what: str = "--device") -> None:
    """A UserError unless name is a device mlcl-train knows (whether this machine has it is checked later)."""
    if not DEVICE.fullmatch(name):
        raise UserError(f"{what} unknown device {quote(name)}; valid: auto, cpu, cuda, cuda:N, mps")


def resolve(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a raw config against the schema; return it with every default filled in."""
    cfg = _resolve_section(raw, SCHEMA, "")
    check_device(cfg["device"], "device:")
    _check_sgd(cfg["train"]["optimizer"])
    if cfg["train"]["early_stop"]["patience"] is not None and not cfg["data"]["val_split"]:
        raise UserError("train.early_stop needs a validation split: set data.val_split (e.g. 5000), "
                        "or train.early_stop.patience: null")
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
        raise UserError(f"--set {quote(item)}: expected KEY=VALUE with a dotted key, e.g. --set train.epochs=3")
    value = load_yaml(text, f"--set {quote(item)}", in_file=False) if text.strip() else None
    return nest(key.strip(), value)


def nest(key: str, value: Any) -> dict[str, Any]:
    """'train.optimizer.lr', 0.05 -> {'train': {'optimizer': {'lr': 0.05}}}."""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _picks_name(item: str) -> bool:
    """Whether a --set picks a section by name (`train.optimizer=adam`, `model.name=cnn`): applied first, so that
    `--set train.optimizer.lr=0.05 --set train.optimizer=adam` keeps the lr whichever comes first."""
    key = item.partition("=")[0].strip().split(".")
    return key[-1] == "name" or key[-1] in NAMED_SECTIONS


def find_config(path: str | Path) -> Path:
    """The file a --config value names: the file itself; for a bare name (`mlp_deep`) NAME.yaml or
    configs/NAME.yaml here (a clone, or a folder made by `mlcl-train init`); else the shipped config."""
    path = Path(path)
    here = [path]
    if not path.suffix:
        here += [path.with_name(path.name + ".yaml")]
        here += [Path(folder) / f"{path}.yaml" for folder in shipped.FOLDERS if not path.is_absolute()]
    for candidate in here:
        if candidate.exists():
            return candidate
    found = shipped.find(path)
    if found is None:
        names = shipped.names()
        hint = suggest(path.stem, names) if names else "no configs are shipped with this installation"
        raise UserError(f"config file not found: {path}; name a YAML file or a shipped config ({hint}; "
                        "'mlcl-train init' copies them into a folder)")
    return found


def to_yaml(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; every way it can fail is one clear UserError."""
    if not path.exists():
        raise UserError(f"config file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; pass a YAML config file such as configs/mlp_deep.yaml")
    data = load_yaml(read_text(path), str(path))
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
    data = anchor_model_file(read_yaml(path), path.parent)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise UserError(f"{path}: 'extends' must be a path to another config, got {quote(base)}")
    base_path = path.parent / base
    if not base_path.exists():  # a shipped config named from a user's own file
        base_path = shipped.find(base) or base_path
    if not base_path.exists():
        raise UserError(f"{path}: 'extends' names {base_path}, which does not exist")
    if base_path.is_dir():
        raise UserError(f"{path}: 'extends' names {base_path}, which is a directory; name a config file")
    if not base_path.is_file():
        raise UserError(f"{path}: 'extends' names {base_path}, which is not a regular file; name a config file")
    return merge(_read_chain(base_path, (*seen, real)), data)


def _resolve_section(raw: Any, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{prefix.rstrip('.')}: expected a mapping of keys, got {quote(raw)}")
    for key in raw:
        if key not in schema:
            elsewhere = [k for k in _dotted_keys(SCHEMA, sections=True) if k.endswith(f".{key}")]
            if elsewhere and not difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5):
                raise UserError(f"unknown key '{prefix}{key}'; did you mean '{elsewhere[0]}'?")
            raise unknown_key(f"{prefix}{key}", list(schema))
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        path, value = f"{prefix}{key}", raw.get(key)
        if spec is MODEL:
            out[key] = resolve_model_config(_model_section(value))
        elif isinstance(spec, Named):
            out[key] = _resolve_named(value, spec, path)
        elif isinstance(spec, dict):
            out[key] = _resolve_section(value, spec, path + ".")
        else:
            out[key] = spec.default if key not in raw else coerce(path, value, spec.type)
    return out


def _dotted_keys(schema: dict[str, Any], prefix: str = "", sections: bool = False) -> list[str]:
    """Every key the schema knows, dotted (optimizer and scheduler keys under each name's fields);
    with `sections`, the sections too (`train.optimizer`, for `optimizer: adam` written at the top)."""
    keys = []
    for key, spec in schema.items():
        if isinstance(spec, dict):
            keys += [f"{prefix}{key}"] * (sections and bool(prefix)) + _dotted_keys(spec, f"{prefix}{key}.", sections)
        elif isinstance(spec, Named):
            keys += [f"{prefix}{key}"] * sections
            keys += [f"{prefix}{key}.{field}" for algo in spec.choices.values() for field in algo.fields]
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _resolve_named(value: Any, spec: Named, path: str) -> dict[str, Any] | None:
    if value is None and spec.default is None:
        return None
    if isinstance(value, str):
        value = {"name": value}  # shorthand: `optimizer: adam`
    if not isinstance(value, dict | None):
        raise UserError(f"{path}: expected a name or a mapping with a 'name' key, got {quote(value)}")
    value = dict(value or {})
    name = value.pop("name", spec.default)
    valid = ", ".join(spec.choices)
    if name is None:
        raise UserError(f"{path}: {', '.join(map(str, value))} given but no {path}.name; set it to one of {valid}")
    if name not in spec.choices:
        raise UserError(f"{path}.name: unknown value {quote(name)}; {suggest(str(name), list(spec.choices))}")
    fields = spec.choices[name].fields
    for key in value:
        if key not in fields:
            raise unknown_key(f"{path}.{key}", list(fields), where=f" (not an argument of {name})")
    return {"name": name, **_resolve_section(value, fields, f"{path}.")}


def _model_section(value: Any) -> dict[str, Any]:
    """`model: mlp` is short for `model: {name: mlp}`, as for optimizers."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict):
        raise UserError(f"model: expected a model name or a mapping with a 'name' key, got {quote(value)}; "
                        "e.g. 'model: mlp' or 'model: {name: mlp, hidden: [128]}'")
    return value


def _check_sgd(spec: dict[str, Any]) -> None:
    """Settings torch.optim.SGD refuses, refused here before any data loads."""
    if spec["name"] == "sgd" and spec["nesterov"] and spec["momentum"] <= 0:
        raise UserError("train.optimizer.nesterov: Nesterov momentum needs momentum > 0; "
                        "set train.optimizer.momentum (e.g. 0.9) or nesterov: false")
