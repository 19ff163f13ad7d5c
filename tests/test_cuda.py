"""Training on a CUDA GPU: data and model on the device, mixed precision, resume, device: auto, no host waits.

    pytest -m cuda     # on a machine with an NVIDIA GPU; elsewhere every test here is skipped
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config
from mlcl_train.runs.store import read_csv
from mlcl_train.training import engine
from mlcl_train.training import loop as training

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: torch.cuda.is_available() is False"),
]


def cuda_setup(make_config, **train) -> training.Setup:
    return training.setup(load_config(make_config(device="cuda", train=train)))


def first_linear_dtypes(model: nn.Module) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    return seen


def test_data_and_model_live_on_the_gpu(make_config) -> None:
    s = cuda_setup(make_config)
    assert s.device.type == "cuda"
    for split in (s.train, s.test):
        assert split.images.is_cuda and split.labels.is_cuda
    assert all(p.is_cuda for p in s.model.parameters())
    result = training.train_epoch(s, s.model, epoch=1, progress=False)
    loss, acc = engine.evaluate(s.model, s.test, "cross_entropy", 64)
    assert 0 < result.train_loss < 3 and 0 < loss < 3 and acc > 10


@pytest.mark.parametrize("amp, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_amp_computes_in_half_precision_and_keeps_float32_weights(make_config, amp: str, dtype: torch.dtype) -> None:
    s = cuda_setup(make_config, amp=amp, optimizer={"name": "adam", "lr": 0.001})
    assert f"amp: {amp} -> {amp} autocast on cuda (float32 weights, optimizer and loss sums)" in s.notes
    seen = first_linear_dtypes(s.model)
    result = training.train_epoch(s, s.model, epoch=1, progress=False)
    assert set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in s.model.parameters())
    seen.clear()
    loss, acc = engine.evaluate(s.model, s.test, "cross_entropy", 64, amp=amp)
    assert set(seen) == {dtype}
    assert 0 < result.train_loss < 3 and 0 < loss < 3 and acc > 10


def test_checkpoint_keeps_the_gpu_rng_and_resume_matches_an_uninterrupted_run(tmp_path: Path, make_config) -> None:
    cfg = make_config(device="cuda", model={"name": "mlp", "hidden": [32], "dropout": 0.3}, train={"epochs": 3})
    runner = CliRunner()
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert runner.invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(straight)]).exit_code == 0
    first = runner.invoke(app, ["train", "--config", str(cfg), "--set", "train.epochs=1", "--runs-dir", str(stopped)])
    assert first.exit_code == 0, first.output
    (run,) = stopped.iterdir()
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["rng_cuda"].dtype == torch.uint8 and ckpt["rng_cuda"].numel() > 0
    result = runner.invoke(app, ["resume", str(run), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    (whole,) = straight.iterdir()
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    rows = [[{k: r[k] for k in columns} for r in read_csv(p / "metrics.csv")] for p in (run, whole)]
    assert rows[0] == rows[1] and len(rows[0]) == 3
    a, b = (torch.load(p / "model.pt", weights_only=True) for p in (run, whole))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_amp_auto_is_bf16_on_a_gpu_that_has_it(make_config) -> None:
    s = cuda_setup(make_config, amp="auto")
    seen = first_linear_dtypes(s.model)
    training.train_epoch(s, s.model, epoch=1, progress=False)
    assert set(seen) == {torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32}


def test_device_auto_chooses_cuda(tmp_path: Path, make_config) -> None:
    assert engine.resolve_device("auto") == (torch.device("cuda"), None)
    result = CliRunner().invoke(app, ["train", "--config", str(make_config(device="auto", train={"epochs": 1})),
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "| device cuda" in result.stdout.splitlines()[0]
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "summary.json").read_text())["device"].startswith("cuda")


def test_the_sync_debug_mode_catches_a_host_wait() -> None:
    """The check below means something: under "error", reading a GPU value raises."""
    torch.cuda.set_sync_debug_mode("error")
    try:
        with pytest.raises(RuntimeError, match="synchroniz"):
            torch.ones(1, device="cuda").item()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_no_training_step_waits_for_the_host(make_config, amp: str | None) -> None:
    """Only the NaN check every CHECK_EVERY steps and the epoch's totals wait for the GPU (engine.host_waits).

    fp16 is left out: its GradScaler reads the inf check back after every step.
    """
    s = cuda_setup(make_config, amp=amp, batch_size=4, log_grad_norms=True,  # 128 steps: one NaN check
                   optimizer={"name": "adam", "lr": 0.001})
    assert len(s.train) // 4 > training.CHECK_EVERY
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        result = training.train_epoch(s, s.model, epoch=1, progress=False)
        loss, acc = engine.evaluate(s.model, s.test, "cross_entropy", 64, amp=amp)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.cuda.get_sync_debug_mode() == 0
    assert 0 < result.train_loss < 3 and 0 < loss < 3 and acc > 10 and result.grad_norms


# ---------------------------------------------------------------- train.cuda_graphs

GRAPH_CASES = {  # batch 48 on 512 images: 10 replayed batches and a last one of 32 run eagerly, per epoch
    "sgd-momentum-step-dropout": {"model": {"name": "mlp", "hidden": [32], "dropout": 0.3},
                                  "train": {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                                            "scheduler": {"name": "step", "step_size": 1, "gamma": 0.5}}},
    # Not Adam with batch norm: the bias of a Linear layer before batch norm has a gradient that is zero
    # but for rounding, and Adam turns that noise into steps of about lr whose sign depends on the
    # kernel; training (batch statistics) cannot see the bias, evaluation (running statistics) can.
    "adam-cosine-grad-norms": {"model": {"name": "mlp", "hidden": [32]},
                               "train": {"optimizer": {"name": "adam", "lr": 0.002}, "scheduler": {"name": "cosine"},
                                         "log_grad_norms": True}},
    "sgd-batch-norm": {"model": {"name": "mlp", "hidden": [32], "batch_norm": True},
                       "train": {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}},
    "sgd-batch-norm-ema": {"model": {"name": "mlp", "hidden": [32], "batch_norm": True},
                           "train": {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "ema": 0.9}},
    "bf16-adamw-dropout": {"model": {"name": "mlp", "hidden": [32], "dropout": 0.2},
                           "train": {"optimizer": {"name": "adamw", "lr": 0.002}, "amp": "bf16"}},
}


def train_metrics(tmp_path: Path, make_config, name: str, graphs: bool, **sections) -> list[dict[str, str]]:
    sections["train"] = {**sections["train"], "batch_size": 48, "epochs": 2, "cuda_graphs": graphs}
    runs = tmp_path / f"{name}-{graphs}"
    cfg = make_config(name=f"{name}-{graphs}", device="cuda", **sections)
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert ("cuda graphs: each full training batch replays" in result.stdout) == graphs
    (run,) = runs.iterdir()
    return read_csv(run / "metrics.csv")


@pytest.mark.parametrize("case", list(GRAPH_CASES))
def test_cuda_graphs_train_as_the_eager_loop_does(tmp_path: Path, make_config, case: str) -> None:
    """Same losses and accuracies, epoch by epoch, up to float rounding (fused SGD and capturable Adam
    round differently); dropout draws the same masks, and the learning rate follows the scheduler."""
    eager, graphed = (train_metrics(tmp_path, make_config, case, on, **GRAPH_CASES[case]) for on in (False, True))
    rel, images = (2e-2, 3) if "bf16" in case else (2e-3, 1)  # bf16 rounds a weight that differs a little
    for a, b in zip(eager, graphed, strict=True):
        assert a["lr"] == b["lr"]
        for key in ("train_loss", "test_loss"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=rel), (a, b)
        assert abs(float(a["train_acc"]) - float(b["train_acc"])) <= images * 100 / 512 + 1e-9, (a, b)
        assert abs(float(a["test_acc"]) - float(b["test_acc"])) <= images * 100 / 128 + 1e-9, (a, b)


def test_cuda_graphs_checkpoint_as_without_graphs_and_resume_exactly(tmp_path: Path, make_config) -> None:
    cfg = make_config(device="cuda", model={"name": "mlp", "hidden": [32], "dropout": 0.3},
                      train={"epochs": 3, "batch_size": 48, "cuda_graphs": True,
                             "optimizer": {"name": "adam", "lr": 0.002}, "scheduler": {"name": "step"}})
    runner = CliRunner()
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert runner.invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(straight)]).exit_code == 0
    first = runner.invoke(app, ["train", "--config", str(cfg), "--set", "train.epochs=1", "--runs-dir", str(stopped)])
    assert first.exit_code == 0, first.output
    (run,) = stopped.iterdir()
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    (group,) = ckpt["optimizer"]["param_groups"]
    assert group["capturable"] is False and isinstance(group["lr"], float)
    assert all(s["step"].device.type == "cpu" for s in ckpt["optimizer"]["state"].values())
    result = runner.invoke(app, ["resume", str(run), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    (whole,) = straight.iterdir()
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"]
    rows = [[{k: r[k] for k in columns} for r in read_csv(p / "metrics.csv")] for p in (run, whole)]
    assert rows[0] == rows[1] and len(rows[0]) == 3


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_no_graph_replay_waits_for_the_host(make_config, amp: str | None) -> None:
    """Capture waits on purpose (inside engine.host_waits); the replays, the eager last batch and evaluation do not."""
    s = cuda_setup(make_config, amp=amp, batch_size=5, log_grad_norms=True, cuda_graphs=True,  # 102 steps + 1 of 2
                   optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9}, ema=0.9)
    assert s.graph is not None and len(s.train) // 5 > training.CHECK_EVERY
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for epoch in (1, 2):
            result = training.train_epoch(s, s.model, epoch=epoch, progress=False)
        loss, acc = engine.evaluate(s.evaluated, s.test, "cross_entropy", 64, amp=amp)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert s.graph.graph is not None and s.ema.updates == 2 * (len(s.train) // 5 + 1)
    assert 0 < result.train_loss < 3 and 0 < loss < 3 and acc > 10 and result.grad_norms


def test_cuda_graphs_with_fp16_train_without_graphs_and_say_so(make_config) -> None:
    s = cuda_setup(make_config, amp="fp16", cuda_graphs=True)
    assert s.graph is None
    assert any(n.startswith("note: train.cuda_graphs does not apply with train.amp fp16") for n in s.notes)
    assert 0 < training.train_epoch(s, s.model, epoch=1, progress=False).train_loss < 3


# ---------------------------------------------------------------- validation split and augmentation


def test_val_split_and_augmentation_live_on_the_gpu_without_host_waits(make_config) -> None:
    """data.augment draws its random numbers on the GPU and distorts batches there: no step waits for the host."""
    cfg = make_config(device="cuda", data={"val_split": 100, "augment": {"shift": 2, "rotate": 10, "elastic": 34}},
                      train={"batch_size": 4})
    s = training.setup(load_config(cfg))
    assert s.val is not None and s.val.images.is_cuda and len(s.val) == 100
    distort = training.augmenter(s, epoch=1)
    x = s.train.images[:8]
    out = distort(x)
    assert out.is_cuda and out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(out, training.augmenter(s, epoch=1)(x))  # seeded on the device
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        result = training.train_epoch(s, s.model, epoch=1, progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert 0 < result.train_loss < 3
