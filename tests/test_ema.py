"""train.ema: the average of the weights is what a run evaluates, saves and resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mlcl_train.config.schema import resolve
from mlcl_train.core.errors import Stopped, UserError
from mlcl_train.runs.store import read_csv
from mlcl_train.training.ema import Ema


def test_the_average_follows_the_formula_with_its_warm_up_and_copies_integer_buffers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = Ema(model, decay=0.9)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for n in range(1, 6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(4, 3))  # moves the batch-norm statistics and counts a batch
        ema.update(model)
        d = min(0.9, (1 + n) / (10 + n))  # 0.18, 0.27, ... then 0.9
        for k, v in model.state_dict().items():
            expected[k] = v.clone() if not v.is_floating_point() else d * expected[k] + (1 - d) * v
    average = ema.model.state_dict()
    for k, v in expected.items():
        assert torch.allclose(average[k], v, atol=1e-6), k
    assert average["1.num_batches_tracked"].item() == 5
    assert not torch.equal(average["0.weight"], model[0].weight)  # an average, not a copy
    assert all(not p.requires_grad for p in ema.model.parameters())


@pytest.mark.parametrize("config", sorted(p.name for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")))
def test_every_shipped_model_can_be_averaged(config: str) -> None:
    """Each shipped model (LSTM, attention, batch norm, a ViT's class token) copies and updates."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.engine import build_model

    model = build_model(load_config(Path(__file__).parents[1] / "configs" / config))
    ema = Ema(model, decay=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)  # decay 2/11 at the first step
    for mine, theirs in zip(ema.model.parameters(), model.parameters(), strict=True):
        assert torch.allclose(mine, theirs - 2 / 11, atol=1e-5)


def test_ema_must_be_below_one() -> None:
    with pytest.raises(UserError, match="train.ema: 1.0 is out of range; it must be < 1"):
        resolve({"train": {"ema": 1.0}})
    assert resolve({}).train.ema == 0.0


@pytest.mark.slow
def test_a_run_evaluates_and_saves_the_average(tmp_path: Path, make_config) -> None:
    """model.pt is the average; the logged test and validation accuracies are model.pt's; checkpoint.pt keeps both."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.loop import setup, train

    cfg = load_config(make_config(train={"epochs": 2, "ema": 0.9}, data={"val_split": 64}))
    run = train(cfg, tmp_path / "runs").path
    assert "ema: validation, test, model.pt and best.pt use an average of the weights (decay 0.9)" in (
        run / "log.txt").read_text()
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    saved = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["ema"]["updates"] == 2 * 7  # 448 training images at batch 64, two epochs
    assert all(torch.equal(saved[k], ckpt["ema"]["weights"][k]) for k in saved)
    assert not torch.equal(saved["fc1.weight"], ckpt["model"]["fc1.weight"])
    s = setup(cfg)
    s.model.load_state_dict(saved)
    rows = read_csv(run / "metrics.csv")
    for split, column in ((s.test, "test_acc"), (s.val, "val_acc")):
        with torch.no_grad():
            right = (s.model.eval()(split.images).argmax(1) == split.labels).sum().item()
        assert float(rows[-1][column]) == pytest.approx(100 * right / len(split), abs=1e-3), column
    best = torch.load(run / "best.pt", weights_only=True)
    last_is_best = float(rows[1]["val_acc"]) > float(rows[0]["val_acc"])  # chosen on validation, first of equals
    assert all(torch.equal(best[k], saved[k]) for k in saved) == last_is_best


@pytest.mark.slow
def test_a_resumed_run_goes_on_with_the_same_average(tmp_path: Path, make_config) -> None:
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.loop import resume, train

    def stop(epoch) -> None:
        raise Stopped(2)  # as SIGINT after epoch 1 is written

    cfg = load_config(make_config(train={"epochs": 2, "ema": 0.9}))
    whole = train(cfg, tmp_path / "straight").path
    with pytest.raises(Stopped):
        train(cfg, tmp_path / "stopped", on_epoch=stop)
    (run,) = (tmp_path / "stopped").iterdir()
    resume(run)
    a, b = (torch.load(p / "model.pt", weights_only=True) for p in (run, whole))
    assert all(torch.equal(a[k], b[k]) for k in a)
    scores = [[(r["test_loss"], r["test_acc"]) for r in read_csv(p / "metrics.csv")] for p in (run, whole)]
    assert scores[0] == scores[1]


@pytest.mark.slow
def test_a_checkpoint_without_the_average_is_one_line(tmp_path: Path, make_config) -> None:
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.loop import resume, train

    def stop(epoch) -> None:
        raise Stopped(2)

    cfg = load_config(make_config(train={"epochs": 2, "ema": 0.9}))
    with pytest.raises(Stopped):
        train(cfg, tmp_path / "runs", on_epoch=stop)
    (run,) = (tmp_path / "runs").iterdir()
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    del ckpt["ema"]
    torch.save(ckpt, run / "checkpoint.pt")
    torch.save({**ckpt, "ema": {"weights": {}, "updates": 8}}, run / "checkpoint.pt")
    with pytest.raises(UserError, match=r"is damaged \(its average of the weights does not load: RuntimeError\)"):
        resume(run)
    torch.save(ckpt, run / "checkpoint.pt")
    with pytest.raises(UserError, match="has no average of the weights: the run was trained without train.ema; set"):
        resume(run)
