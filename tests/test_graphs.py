"""train.cuda_graphs without a GPU: when it applies, the note when it does not, and checkpoints as without graphs.

The captured step itself needs a GPU: tests/test_cuda.py compares it with the eager loop.
"""

from __future__ import annotations

import pytest
import torch

from mlcl_train.config.loader import resolve
from mlcl_train.training.cuda_graphs import GraphStep, why_not
from mlcl_train.training.engine import build_model, make_optimizer
from mlcl_train.training.loop import setup


def config(**train) -> dict:
    return resolve({"model": {"name": "mlp", "hidden": [8]}, "train": {"cuda_graphs": True, **train}})


@pytest.mark.parametrize("train, note", [
    ({}, None),
    ({"optimizer": "adamw", "amp": "bf16"}, None),
    ({"optimizer": "rmsprop"}, "supports the optimizers sgd, adam, adamw, not rmsprop"),
    ({"amp": "fp16"}, "does not apply with train.amp fp16"),
    ({"compile": True}, "does not apply with train.compile"),
    ({"optimizer": "adam", "scheduler": "onecycle"}, "does not apply with train.scheduler onecycle"),
    ({"optimizer": "adam", "scheduler": "cosine"}, None),
])
def test_graphs_apply_to_capturable_steps_on_cuda_only(train: dict, note: str | None) -> None:
    reason = why_not(config(**train), torch.device("cuda"))  # decided from the config: no GPU is touched
    assert reason is None if note is None else note in reason
    assert why_not(config(**train), torch.device("cpu")) == (
        "train.cuda_graphs applies on CUDA only; training without graphs on cpu")


def test_on_the_cpu_the_switch_is_a_note_and_training_is_unchanged(make_config) -> None:
    from mlcl_train.config.loader import load_config

    s = setup(load_config(make_config(train={"cuda_graphs": True})))
    assert s.graph is None
    assert "note: train.cuda_graphs applies on CUDA only; training without graphs on cpu" in s.notes


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_a_graphed_optimizer_is_saved_as_one_without_graphs(name: str) -> None:
    """Capture makes SGD fused and Adam(W) capturable, with step counts on the device; the checkpoint
    keeps the flags the optimizer was built with and its step counts on the CPU, so any run resumes it."""
    cfg = config(optimizer={"name": name, "momentum": 0.9} if name == "sgd" else name)
    model = build_model(cfg)
    optimizer = make_optimizer(cfg, model)
    model(torch.randn(4, 1, 28, 28)).sum().backward()
    optimizer.step()
    before = optimizer.state_dict()
    graph = GraphStep(model, optimizer, "cross_entropy", None, [])
    graph._make_capturable()  # what capture() does first (the device here is the CPU)
    group = optimizer.param_groups[0]
    assert group.get("capturable", False) or group.get("fused")
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for key, state in after["state"].items():
        for k, v in state.items():
            assert v.device == before["state"][key][k].device and torch.equal(v, before["state"][key][k]), k
    assert group.get("capturable", False) or group.get("fused")  # the live optimizer keeps its capture flags
