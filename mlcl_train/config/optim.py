"""Optimizers and schedulers in one place: each name with its torch class and its config fields.

    OPTIMIZERS["adam"].fields["lr"].default      # 0.001
    OPTIMIZERS["adam"].torch_class               # 'torch.optim.Adam'

The config checks a `train.optimizer` / `train.scheduler` section against the fields here;
the engine builds the torch object from the class named here (so this module needs no torch).
A new optimizer is one entry below and one row in docs/reference.md's table (a test compares them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mlcl_train.core.values import NonNegative, Positive, PositiveInt, Probability


@dataclass(frozen=True)
class Field:
    type: Any
    default: Any
    help: str  # one line; for the config's keys, their description in docs/reference.md


@dataclass(frozen=True)
class Named:
    """A section picked by its `name` key, each name with its own fields (optimizer, scheduler)."""

    choices: dict[str, Algorithm]
    default: str | None  # None: the section may be null (off)


@dataclass(frozen=True)
class Algorithm:
    """One optimizer or scheduler: the torch class it builds and the config fields passed to it."""

    torch_class: str  # dotted name under torch, e.g. torch.optim.SGD
    fields: dict[str, Field]
    renames: dict[str, str] = field(default_factory=dict)  # config key -> torch argument name
    if_null: dict[str, str] = field(default_factory=dict)  # field -> what null means: "epochs" or "lr"
    per_step: bool = False  # a scheduler stepped after every optimizer step, planned over epochs x batches


LR = Field(Positive, 0.01, "learning rate")
EPS = Field(Positive, 1e-8, "numerical stability term")
L2 = Field(NonNegative, 0.0, "L2 penalty")
BETAS = Field(list[float], [0.9, 0.999], "running-average coefficients")

OPTIMIZERS = {
    "sgd": Algorithm("torch.optim.SGD", {
        "lr": LR,
        "momentum": Field(NonNegative, 0.0, "momentum factor"),
        "weight_decay": L2,
        "nesterov": Field(bool, False, "Nesterov momentum"),
    }),
    "adam": Algorithm("torch.optim.Adam", {
        "lr": Field(Positive, 0.001, "learning rate"), "betas": BETAS, "eps": EPS, "weight_decay": L2,
    }),
    "adamw": Algorithm("torch.optim.AdamW", {
        "lr": Field(Positive, 0.001, "learning rate"), "betas": BETAS, "eps": EPS,
        "weight_decay": Field(NonNegative, 0.01, "decoupled weight decay"),
    }),
    "rmsprop": Algorithm("torch.optim.RMSprop", {
        "lr": LR,
        "alpha": Field(NonNegative, 0.99, "smoothing constant"),
        "eps": EPS,
        "momentum": Field(NonNegative, 0.0, "momentum factor"),
        "weight_decay": L2,
    }),
    "adadelta": Algorithm("torch.optim.Adadelta", {
        "lr": Field(Positive, 1.0, "scale of the update"),
        "rho": Field(NonNegative, 0.9, "running-average coefficient"),
        "eps": Field(Positive, 1e-6, "numerical stability term"),
        "weight_decay": L2,
    }),
    "adagrad": Algorithm("torch.optim.Adagrad", {
        "lr": LR,
        "lr_decay": Field(NonNegative, 0.0, "learning-rate decay"),
        "eps": Field(Positive, 1e-10, "numerical stability term"),
        "weight_decay": L2,
    }),
}

SCHEDULERS = {  # stepped once per epoch, but `per_step` ones after every optimizer step
    "step": Algorithm("torch.optim.lr_scheduler.StepLR", {
        "step_size": Field(PositiveInt, 1, "epochs between decays"),
        "gamma": Field(Positive, 0.7, "factor per decay"),
    }),
    "multistep": Algorithm("torch.optim.lr_scheduler.MultiStepLR", {
        "milestones": Field(list[PositiveInt], [5, 8], "epochs after which to decay"),
        "gamma": Field(Positive, 0.1, "factor per decay"),
    }),
    "exponential": Algorithm("torch.optim.lr_scheduler.ExponentialLR", {
        "gamma": Field(Positive, 0.9, "factor per epoch"),
    }),
    "cosine": Algorithm("torch.optim.lr_scheduler.CosineAnnealingLR", {
        "t_max": Field(PositiveInt | None, None, "epochs of the half cosine; null = train.epochs"),
        "eta_min": Field(NonNegative, 0.0, "final learning rate"),
    }, renames={"t_max": "T_max"}, if_null={"t_max": "epochs"}),
    "onecycle": Algorithm("torch.optim.lr_scheduler.OneCycleLR", {
        "max_lr": Field(Positive | None, None, "peak learning rate; null = train.optimizer.lr"),
        "pct_start": Field(Probability, 0.3, "fraction of the steps spent rising to max_lr"),
        "div_factor": Field(Positive, 25.0, "the first learning rate is max_lr / div_factor"),
        "final_div_factor": Field(Positive, 1e4, "the last learning rate is the first / final_div_factor"),
        "cycle_momentum": Field(bool, True, "momentum (adam: beta1) falls from 0.95 to 0.85 as the rate rises, "
                                "then back"),
    }, if_null={"max_lr": "lr"}, per_step=True),
}
CYCLES_MOMENTUM = ("sgd", "adam", "adamw", "rmsprop")  # optimizers with a momentum or beta1 for cycle_momentum


def torch_arguments(algorithm: Algorithm, section: Any, known: dict[str, Any]) -> dict[str, Any]:
    """A resolved config section (a schema.Choice) as the torch class's keyword arguments (lists become tuples).

    known: what a null field may stand for ({"epochs": 10, "lr": 0.01}); a per-step scheduler also
    gets total_steps from known["total_steps"] (epochs x batches per epoch)."""
    args = {k: v for k, v in dataclasses.asdict(section).items() if k != "name"}
    for name, meaning in algorithm.if_null.items():
        if args.get(name) is None:
            args[name] = known[meaning]
    if algorithm.per_step:
        args["total_steps"] = known["total_steps"]
    return {algorithm.renames.get(k, k): tuple(v) if isinstance(v, list) else v for k, v in args.items()}
