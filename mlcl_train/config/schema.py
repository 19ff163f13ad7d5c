"""The config's schema: frozen dataclasses whose fields carry each key's type, default and help.

    cfg = resolve({"train": {"optimizer": "adam"}})    # a Config, every default filled in
    cfg.train.optimizer.lr                             # 0.001 (adam's default)
    cfg.model.name, cfg.model.hidden                   # 'mlp', [512, 256]
    flatten(cfg)["train.optimizer.lr"]                 # the same value by its dotted key

The classes below are the schema: a key's type is its annotation, its default and its help (the
description of the key in docs/reference.md; a test compares them) are its field's. `resolve` walks them to
check a raw config and builds the frozen values; `Config()` is the default config. The sections
picked by a `name` get one frozen record per name: an optimizer's or scheduler's fields come from
config/optim.py, a model's from its builder's signature (models/), a user's own class included.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mlcl_train.config.optim import CYCLES_MOMENTUM, OPTIMIZERS, SCHEDULERS, Field, Named
from mlcl_train.core.errors import UserError
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

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
MISSING = object()  # lookup's answer for a key the config does not have
MODEL = "model"  # the spec of the `model:` section, which the model registry checks


def key(default: Any, help: str) -> Any:
    """A config key: its default and its one-line help (the type is the annotation)."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def section(cls: type) -> Any:
    """A nested section, all of its defaults."""
    return dataclasses.field(default_factory=cls)


def named(choices: dict[str, Any], default: str | None) -> Any:
    """A section picked by its `name` key (train.optimizer, train.scheduler); None = off."""
    spec = Named(choices, default)
    return dataclasses.field(default_factory=lambda: _named(None, spec, ""), metadata={"named": spec})


class Section:
    """A frozen config section, read by attribute: cfg.train.epochs."""


@dataclass(frozen=True)
class Choice(Section):
    """An optimizer or a scheduler: its name and that algorithm's fields (a record made per name)."""

    name: str


@dataclass(frozen=True)
class ModelConfig(Section):
    """The `model:` section: the model's name and its builder's arguments (a record made per model)."""

    name: str


@dataclass(frozen=True)
class Augment(Section):  # applied to each training batch on the device; 0 / null = off
    shift: NonNegative = key(0, "augmentation: random shift of up to N pixels")
    rotate: NonNegative = key(0, "augmentation: random rotation of up to N degrees")
    scale: Probability = key(0, "augmentation: random scaling by a factor from 1 - N to 1 + N")
    elastic: Positive | None = key(None, "augmentation: elastic distortion of strength alpha "
                                   "(pixels, Simard 2003 uses 34); `null` = off")
    elastic_sigma: Positive = key(4.0, "augmentation: smoothness of the elastic distortion "
                                  "(Gaussian sigma in pixels)")


@dataclass(frozen=True)
class Data(Section):
    dataset: Literal["mnist", "fashion_mnist"] = key("mnist", "`mnist` or `fashion_mnist`")
    root: str | None = key(None, "a folder with the four IDX files (plain or `.gz`, or torchvision's "
                           "`<root>/MNIST/raw/`); `null` = the bundled MNIST")
    train_subset: PositiveInt | None = key(None, "train on the first N training images only")
    val_split: Annotated[int, Min(0)] = key(0, "hold out N training images for validation (a seeded, "
                                            "stratified choice, never trained on); the best epoch is chosen "
                                            "on them; 0 = none")
    augment: Augment = section(Augment)


@dataclass(frozen=True)
class EarlyStop(Section):
    metric: Literal["val_acc", "val_loss"] = key("val_acc", "early stopping: `val_acc` or `val_loss`")
    patience: PositiveInt | None = key(None, "early stopping: stop after N epochs without a better `metric` "
                                       "(needs `data.val_split`); `null` = off")


@dataclass(frozen=True)
class Train(Section):
    epochs: PositiveInt = key(10, "passes over the training set")
    batch_size: PositiveInt = key(64, "images per optimizer step")
    loss: Literal["cross_entropy", "nll", "mse"] = key(
        "cross_entropy", "`cross_entropy`, `nll` (expects log-probabilities), `mse` (against one-hot targets)")
    optimizer: Choice = named(OPTIMIZERS, "sgd")
    scheduler: Choice | None = named(SCHEDULERS, None)  # stepped once per epoch; onecycle after every step
    label_smoothing: Probability = key(0.0, "cross_entropy's label smoothing: the training target puts 1 - N on "
                                       "the true class and spreads N over all classes; the test loss stays "
                                       "unsmoothed; 0 = off")
    ema: Probability = key(0.0, "decay of an exponential moving average of the weights, updated after each "
                           "step (e.g. 0.999, about the last 1,000 steps; after n steps at most (1 + n) / (10 + n)); "
                           "validation, test, `model.pt` and `best.pt` use the average; 0 = off")
    compile: bool = key(False, "`torch.compile` the model (slow first epoch; see Speed)")
    channels_last: bool = key(False, "channels-last memory format for conv nets")
    threads: PositiveInt | None = key(None, "CPU threads torch computes with (`torch.set_num_threads`, for the "
                                      "whole process); `null` = torch's default, one per core; a small model "
                                      "can be faster on one")
    amp: Literal["auto", "bf16", "fp16"] | None = key(
        None, "mixed precision, float32 weights and optimizer: `bf16` on CUDA and on CPUs with bf16 "
        "instructions (AVX512-BF16 or AMX), `fp16` on CUDA; `auto`: bf16 where the device has it; "
        "elsewhere float32, with a note")
    cuda_graphs: bool = key(False, "on CUDA, capture the training step (forward, loss, backward, optimizer "
                            "step) once as a CUDA graph and replay it per full batch: much less launch overhead "
                            "for small models; `sgd`, `adam` and `adamw`, not with `fp16` or `compile`; elsewhere "
                            "ignored, with a note")
    log_grad_norms: bool = key(False, "write each layer's mean gradient norm per epoch to `grad_norms.csv`")
    early_stop: EarlyStop = section(EarlyStop)
    tensorboard: bool = key(False, "write TensorBoard event files into the run folder "
                            "(needs the `tensorboard` extra)")


@dataclass(frozen=True)
class Eval(Section):
    batch_size: PositiveInt = key(1000, "images per evaluation batch")


@dataclass(frozen=True)
class Config(Section):
    """A resolved config: every key checked, every default filled in."""

    name: str | None = key(None, "the run's name, part of its folder's name")  # loading: the file's stem
    seed: Annotated[int, Min(0), Below(2**32)] = key(1, "seeds the weights, the shuffling and dropout")
    device: str = key("auto", "`auto` (CUDA, then MPS, then CPU; the log says when it falls back), "
                      "`cpu`, `cuda`, `cuda:N`, `mps`")
    data: Data = section(Data)
    model: ModelConfig = dataclasses.field(default_factory=lambda: _model(None), metadata={"model": True})
    train: Train = section(Train)
    eval: Eval = section(Eval)


# ---------------------------------------------------------------- the schema's keys


def specs(cls: type) -> dict[str, Any]:
    """A section's keys: a Field each (type, default, help), a section class, a Named, or the model marker."""
    return _specs(cls)


@functools.cache
def _specs(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if "named" in f.metadata:
            out[f.name] = f.metadata["named"]
        elif "model" in f.metadata:
            out[f.name] = MODEL
        elif "help" in f.metadata:
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            out[f.name] = Field(hints[f.name], default, f.metadata["help"])
        else:
            out[f.name] = hints[f.name]  # a nested section
    return out



def dotted_specs(cls: type = Config, prefix: str = "") -> dict[str, Any]:
    """Every key of the schema, dotted, with its spec (a Field, a Named or MODEL); sections are walked into."""
    out: dict[str, Any] = {}
    for name, spec in specs(cls).items():
        if isinstance(spec, type):
            out.update(dotted_specs(spec, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec
    return out


def known_keys(sections: bool = False) -> list[str]:
    """Every dotted key a config may set (optimizer and scheduler keys under each name's fields); with
    `sections`, the sections too (`train.optimizer`, for `optimizer: adam` written at the top)."""
    keys = []
    for dotted, spec in dotted_specs().items():
        if sections:
            keys += [".".join(dotted.split(".")[:i]) for i in range(2, dotted.count(".") + 1)]
        if isinstance(spec, Named):
            keys += [dotted] * sections + [f"{dotted}.{f}" for algo in spec.choices.values() for f in algo.fields]
        else:
            keys.append(dotted)
    return list(dict.fromkeys(keys))


# ---------------------------------------------------------------- a config's keys


def as_dict(cfg: Any) -> Any:
    """A resolved config (or one of its sections) as plain nested dicts, in the schema's order."""
    return dataclasses.asdict(cfg) if isinstance(cfg, Section) else cfg


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """A config's {dotted key: value}: a resolved Config, or a mapping as read from a run's config.yaml.
    {'model': {'hidden': [512]}} -> {'model.hidden': [512]}."""
    out: dict[str, Any] = {}
    for name, value in as_dict(cfg).items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def lookup(cfg: Any, dotted: str, default: Any = MISSING) -> Any:
    """One dotted key's value in a config (a Config or a mapping read from disk); `default` where it has none."""
    value = cfg
    for part in dotted.split("."):
        if isinstance(value, Section) and part in _names(type(value)):
            value = getattr(value, part)
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return default
    return value


# ---------------------------------------------------------------- checking


def check_device(name: str, what: str = "--device") -> None:
    """A UserError unless name is a device mlcl-train knows (whether this machine has it is checked later)."""
    if not DEVICE.fullmatch(name):
        raise UserError(f"{what} unknown device {quote(name)}; valid: auto, cpu, cuda, cuda:N, mps")


def resolve(raw: dict[str, Any]) -> Config:
    """Check a raw config (YAML as read) against the schema; return it as a Config, every default filled in."""
    cfg = Config(**_values(raw, specs(Config), ""))
    check_device(cfg.device, "device:")
    _check_sgd(cfg.train.optimizer)
    _check_training(cfg.train)
    if cfg.train.early_stop.patience is not None and not cfg.data.val_split:
        raise UserError("train.early_stop needs a validation split: set data.val_split (e.g. 5000), "
                        "or train.early_stop.patience: null")
    return cfg


def _values(raw: Any, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """raw checked against a section's specs: {key: value} with every default filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{prefix.rstrip('.')}: expected a mapping of keys, got {quote(raw)}")
    for name in raw:
        if name not in schema:
            elsewhere = [k for k in known_keys(sections=True) if k.endswith(f".{name}")]
            if elsewhere and not difflib.get_close_matches(str(name), list(schema), n=1, cutoff=0.5):
                raise UserError(f"unknown key '{prefix}{name}'; did you mean '{elsewhere[0]}'?")
            raise unknown_key(f"{prefix}{name}", list(schema))
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        path, value = f"{prefix}{name}", raw.get(name)
        if spec is MODEL:
            out[name] = _model(value)
        elif isinstance(spec, Named):
            out[name] = _named(value, spec, path)
        elif isinstance(spec, type):
            out[name] = spec(**_values(value, specs(spec), path + "."))
        else:
            out[name] = copy.deepcopy(spec.default) if name not in raw else coerce(path, value, spec.type)
    return out


def _named(value: Any, spec: Named, path: str) -> Choice | None:
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
    own = spec.choices[name].fields
    for k in value:
        if k not in own:
            raise unknown_key(f"{path}.{k}", list(own), where=f" (not an argument of {name})")
    title = spec.choices[name].torch_class.rpartition(".")[2]  # SGD, CosineAnnealingLR
    record = _record(Choice, title, tuple(own), tuple(f.type for f in own.values()))
    return record(name=name, **_values(value, own, f"{path}."))


def _model(value: Any) -> ModelConfig:
    """The `model:` section checked by the model registry (`model: mlp` is short for `model: {name: mlp}`)."""
    from mlcl_train.models import model_args, resolve_model_config

    if isinstance(value, str):
        value = {"name": value}
    elif value is not None and not isinstance(value, dict):
        raise UserError(f"model: expected a model name or a mapping with a 'name' key, got {quote(value)}; "
                        "e.g. 'model: mlp' or 'model: {name: mlp, hidden: [128]}'")
    resolved = resolve_model_config(value or {})
    name = resolved["name"]
    types = {arg.name: arg.type for arg in model_args(name)}
    names = tuple(k for k in resolved if k != "name")
    title = re.sub(r"\W", "", name.rpartition(":")[2])  # mlp, TinyNet (a user's class)
    title = f"{title[:1].upper()}{title[1:]}Model"  # MlpModel, TinyNetModel
    return _record(ModelConfig, title, names, tuple(types.get(k, Any) for k in names))(**resolved)


_RECORDS: dict[tuple[type, str, tuple[str, ...]], type] = {}


def _record(base: type, title: str, names: tuple[str, ...], types: tuple[Any, ...]) -> type:
    """The frozen record class (made once) of one optimizer, scheduler or model: `name` and that one's fields."""
    made = _RECORDS.get((base, title, names))
    if made is None:
        made = dataclasses.make_dataclass(title, list(zip(names, types, strict=True)), bases=(base,), frozen=True)
        _RECORDS[(base, title, names)] = made
    return made


@functools.cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _check_sgd(spec: Choice) -> None:
    """Settings torch.optim.SGD refuses, refused here before any data loads."""
    if spec.name == "sgd" and spec.nesterov and spec.momentum <= 0:
        raise UserError("train.optimizer.nesterov: Nesterov momentum needs momentum > 0; "
                        "set train.optimizer.momentum (e.g. 0.9) or nesterov: false")


def _check_training(t: Train) -> None:
    """Combinations torch would refuse, or silently ignore, refused here before any data loads."""
    if t.label_smoothing and t.loss != "cross_entropy":
        raise UserError(f"train.label_smoothing applies to cross_entropy only, not to train.loss {t.loss}; "
                        "set train.label_smoothing: 0 or train.loss: cross_entropy")
    cycle = t.scheduler is not None and t.scheduler.name == "onecycle" and t.scheduler.cycle_momentum
    if cycle and t.optimizer.name not in CYCLES_MOMENTUM:
        raise UserError(f"train.scheduler.cycle_momentum: {t.optimizer.name} has no momentum to cycle; "
                        f"set train.scheduler.cycle_momentum: false, or use {', '.join(CYCLES_MOMENTUM)}")
