"""train.amp on the CPU: bf16 autocast where the CPU has bf16 instructions, float32 with a note elsewhere."""

from __future__ import annotations

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

needs_bf16 = pytest.mark.skipif(not engine.cpu_has_bf16(),
                                reason="this CPU has no bf16 instructions (AVX512-BF16 or AMX)")


def linear_dtypes(model: nn.Module) -> list[torch.dtype]:
    """Records the dtype of every output of the model's first Linear layer."""
    seen: list[torch.dtype] = []
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    return seen


@pytest.mark.slow
@needs_bf16
def test_bf16_trains_and_evaluates_in_bf16_with_float32_weights_and_sums(make_config) -> None:
    cfg = load_config(make_config(train={"amp": "bf16", "optimizer": {"name": "adam", "lr": 0.001}}))
    s = training.setup(cfg)
    assert "amp: bf16 -> bf16 autocast on cpu (float32 weights, optimizer and loss sums)" in s.notes
    seen = linear_dtypes(s.model)
    result = training.train_epoch(s, s.model, epoch=1, progress=False)
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in s.model.parameters())
    states = [v for st in s.optimizer.state.values() for v in st.values() if torch.is_tensor(v) and v.ndim]
    assert states and all(v.dtype == torch.float32 for v in states)
    seen.clear()
    loss, acc = engine.evaluate(s.model, s.test, "cross_entropy", 64, amp="bf16")
    assert set(seen) == {torch.bfloat16}
    assert 0 < result.train_loss < 3 and 0 < loss < 3 and 0 <= acc <= 100
    # the sums are float32: the mean of 128 losses is not rounded to bf16's 8 bits of mantissa
    assert loss != float(torch.tensor(loss).to(torch.bfloat16))


def test_bf16_without_cpu_support_trains_in_float32_with_a_note(make_config, monkeypatch) -> None:
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: False)
    s = training.setup(load_config(make_config(train={"amp": "bf16"})))
    assert any("training in float32 on cpu" in n and "AVX512-BF16" in n for n in s.notes), s.notes
    seen = linear_dtypes(s.model)
    training.train_epoch(s, s.model, epoch=1, progress=False)
    engine.evaluate(s.model, s.test, "cross_entropy", 64, amp="bf16")
    assert set(seen) == {torch.float32}


def test_auto_picks_bf16_where_the_cpu_has_it_and_float32_elsewhere(make_config, monkeypatch) -> None:
    for native in (True, False):
        monkeypatch.setattr(engine, "cpu_has_bf16", lambda native=native: native)
        s = training.setup(load_config(make_config(train={"amp": "auto"})))
        seen = linear_dtypes(s.model)
        training.train_epoch(s, s.model, epoch=1, progress=False)
        if native:
            assert "amp: auto -> bf16 autocast on cpu (float32 weights, optimizer and loss sums)" in s.notes
        else:
            assert "note: train.amp auto found no bf16 on this device; training in float32 on cpu" in s.notes
        assert set(seen) == {torch.bfloat16 if native else torch.float32}


def test_fp16_on_the_cpu_trains_in_float32_with_a_note(make_config) -> None:
    s = training.setup(load_config(make_config(train={"amp": "fp16"})))
    assert any("fp16 applies on CUDA only; training in float32 on cpu" in n for n in s.notes), s.notes
    seen = linear_dtypes(s.model)
    training.train_epoch(s, s.model, epoch=1, progress=False)
    assert set(seen) == {torch.float32}


@pytest.mark.slow
@pytest.mark.parametrize("amp", [None, pytest.param("bf16", marks=needs_bf16)])
def test_resume_matches_an_uninterrupted_run(tmp_path: Path, make_config, amp: str | None) -> None:
    cfg = make_config(model={"name": "mlp", "hidden": [32], "dropout": 0.3}, train={"amp": amp, "epochs": 3})
    runner = CliRunner()
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert runner.invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(straight)]).exit_code == 0
    first = runner.invoke(app, ["train", "--config", str(cfg), "--set", "train.epochs=1", "--runs-dir", str(stopped)])
    assert first.exit_code == 0, first.output
    (run,) = stopped.iterdir()
    result = runner.invoke(app, ["resume", str(run), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    (whole,) = straight.iterdir()
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    rows = [[{k: r[k] for k in columns} for r in read_csv(p / "metrics.csv")] for p in (run, whole)]
    assert rows[0] == rows[1] and len(rows[0]) == 3
    a, b = (torch.load(p / "model.pt", weights_only=True) for p in (run, whole))
    assert all(torch.equal(a[k], b[k]) for k in a)
