"""The engine: optimizers and schedulers built from the registry, the loop's options, resume of their state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.optim import OPTIMIZERS, SCHEDULERS
from mlcl_train.config.schema import as_dict, resolve
from mlcl_train.core.errors import UserError
from mlcl_train.core.shipped import expand as expand_configs
from mlcl_train.runs.store import read_csv
from mlcl_train.training.engine import build_model, make_optimizer, make_scheduler


def config(optimizer: dict | None = None, scheduler: dict | None = None, epochs: int = 4) -> dict:
    train = {"epochs": epochs, "optimizer": optimizer or {"name": "sgd"}, "scheduler": scheduler}
    return resolve({"model": {"name": "mlp", "hidden": [8]}, "train": train})


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_is_built_with_its_configured_values(name: str) -> None:
    cfg = config({"name": name, "lr": 0.123, "weight_decay": 0.01})
    optimizer = make_optimizer(cfg, build_model(cfg))
    assert type(optimizer).__name__ == OPTIMIZERS[name].torch_class.rpartition(".")[2]
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.123 and group["weight_decay"] == 0.01
    for key, value in as_dict(cfg.train.optimizer).items():
        if key != "name":
            assert group[key] == (tuple(value) if isinstance(value, list) else value), key


@pytest.mark.parametrize("name", [name for name, algorithm in SCHEDULERS.items() if not algorithm.per_step])
def test_every_scheduler_is_built_and_steps(name: str) -> None:
    cfg = config({"name": "sgd", "lr": 1.0}, {"name": name}, epochs=9)
    optimizer = make_optimizer(cfg, build_model(cfg))
    scheduler = make_scheduler(cfg, optimizer, steps_per_epoch=100)
    assert type(scheduler).__name__ == SCHEDULERS[name].torch_class.rpartition(".")[2]
    lrs = []
    for _ in range(9):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 1.0 and lrs[-1] < 1.0  # every scheduler has decayed within 9 epochs at its defaults


def test_cosine_without_t_max_spans_the_training() -> None:
    cfg = config({"name": "sgd", "lr": 1.0}, {"name": "cosine", "eta_min": 0.0}, epochs=6)
    scheduler = make_scheduler(cfg, make_optimizer(cfg, build_model(cfg)), 100)
    assert scheduler.T_max == 6
    cfg = config({"name": "sgd", "lr": 1.0}, {"name": "cosine", "t_max": 3}, epochs=6)
    assert make_scheduler(cfg, make_optimizer(cfg, build_model(cfg)), 100).T_max == 3


def test_no_scheduler_is_none() -> None:
    cfg = config()
    assert make_scheduler(cfg, make_optimizer(cfg, build_model(cfg)), 100) is None


@pytest.mark.slow
def test_resume_keeps_the_scheduler_state_and_the_gradient_norms(tmp_path: Path, make_config) -> None:
    """2 epochs then a resume to 4 give the learning rates and gradient norms of 4 epochs in one go.

    The milestone after epoch 3 is met only if the scheduler counts the epochs before the resume."""
    scheduler = {"name": "multistep", "milestones": [3], "gamma": 0.5}
    cfg = make_config(train={"epochs": 4, "scheduler": scheduler, "log_grad_norms": True})
    runner = CliRunner()
    straight = tmp_path / "straight"
    assert runner.invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(straight)]).exit_code == 0
    resumed = tmp_path / "resumed"
    args = ["train", "--config", str(cfg), "--runs-dir", str(resumed), "--set", "train.epochs=2"]
    assert runner.invoke(app, args).exit_code == 0
    (run,) = resumed.iterdir()
    result = runner.invoke(app, ["resume", str(run), "--epochs", "4"])
    assert result.exit_code == 0, result.output
    (whole,) = straight.iterdir()
    assert [r["lr"] for r in read_csv(whole / "metrics.csv")] == ["0.1", "0.1", "0.1", "0.05"]
    assert [r["lr"] for r in read_csv(run / "metrics.csv")] == ["0.1", "0.1", "0.1", "0.05"]
    norms, expected = read_csv(run / "grad_norms.csv"), read_csv(whole / "grad_norms.csv")
    assert [r["epoch"] for r in norms] == ["1", "2", "3", "4"] and norms == expected


@pytest.mark.slow
def test_onecycle_plans_epochs_times_batches_and_steps_after_every_batch(tmp_path: Path, make_config) -> None:
    """The learning rate logged at each epoch's start is torch's OneCycleLR after 8 x (epoch - 1) steps.

    512 tiny images at batch 64: 8 steps per epoch, 24 in all. Stepped once per epoch, epoch 2
    would start at the rate after one step; planned over 3 steps, the cycle would end too soon."""
    scheduler = {"name": "onecycle", "max_lr": 0.05, "pct_start": 0.25}
    cfg = make_config(train={"epochs": 3, "optimizer": {"name": "adam", "lr": 0.001}, "scheduler": scheduler})
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    reference = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    expected = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=0.05, total_steps=24, pct_start=0.25)
    lrs = []
    for _ in range(3):
        lrs.append(f"{reference.param_groups[0]['lr']:.6g}")
        for _ in range(8):
            reference.step()
            expected.step()
    assert [r["lr"] for r in read_csv(run / "metrics.csv")] == lrs
    assert lrs[0] == "0.002"  # max_lr / div_factor 25


@pytest.mark.slow
def test_onecycle_resumes_as_the_uninterrupted_run_and_refuses_to_extend(tmp_path: Path, make_config) -> None:
    from mlcl_train.config.loader import load_config
    from mlcl_train.core.errors import Stopped
    from mlcl_train.training.loop import resume, train

    def stop(epoch) -> None:
        raise Stopped(2)  # as SIGINT after epoch 1 is written

    cfg = load_config(make_config(train={"epochs": 2, "optimizer": "adam", "scheduler": {"name": "onecycle"}}))
    whole = train(cfg, tmp_path / "straight").path
    with pytest.raises(Stopped):
        train(cfg, tmp_path / "stopped", on_epoch=stop)
    (run,) = (tmp_path / "stopped").iterdir()
    with pytest.raises(UserError, match="onecycle, whose one cycle spans the run's train.epochs; it cannot be"):
        resume(run, epochs=3)
    resume(run)
    assert [r["lr"] for r in read_csv(run / "metrics.csv")] == [r["lr"] for r in read_csv(whole / "metrics.csv")]
    a, b = (torch.load(p / "model.pt", weights_only=True) for p in (run, whole))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_label_smoothing_smooths_the_training_loss_only(tmp_path: Path, make_config) -> None:
    """The smoothed loss is torch's formula; a run trains on it, and its logged test loss is plain cross-entropy."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.engine import loss_fn
    from mlcl_train.training.loop import setup, train

    out, y = torch.tensor([[4.0, 0.0, -1.0]]), torch.tensor([0])
    expected = 0.9 * torch.nn.functional.cross_entropy(out, y) - 0.1 * out.log_softmax(1).mean()
    assert torch.allclose(loss_fn("cross_entropy", out, y, 0.1), expected)
    runs = {}
    for smoothing in (0.0, 0.2):
        cfg = load_config(make_config(train={"epochs": 1, "label_smoothing": smoothing}))
        runs[smoothing] = train(cfg, tmp_path / str(smoothing)).path
    (plain,), (smoothed,) = (read_csv(runs[k] / "metrics.csv") for k in (0.0, 0.2))
    assert float(smoothed["train_loss"]) > float(plain["train_loss"]) + 0.05  # the smoothed target costs more
    s = setup(cfg)
    s.model.load_state_dict(torch.load(runs[0.2] / "model.pt", weights_only=True))
    with torch.no_grad():
        test_loss = torch.nn.functional.cross_entropy(s.model.eval()(s.test.images), s.test.labels).item()
    assert float(smoothed["test_loss"]) == pytest.approx(test_loss, abs=2e-6)


@pytest.mark.slow
def test_channels_last_trains_with_channels_last_weights(tmp_path: Path, make_config) -> None:
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.loop import setup

    cfg = load_config(make_config(model={"name": "cnn", "channels": [4], "hidden": [8]},
                                  train={"channels_last": True, "epochs": 1}))
    s = setup(cfg)
    assert s.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert s.train.images.is_contiguous(memory_format=torch.channels_last)
    result = CliRunner().invoke(app, ["train", "--config", str(make_config(
        model={"name": "cnn", "channels": [4], "hidden": [8]}, train={"channels_last": True, "epochs": 1})),
        "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output


def test_a_config_glob_leaves_out_names_starting_with_an_underscore(tmp_path: Path, monkeypatch) -> None:
    for name in ("b.yaml", "a.yaml", "_base.yaml", "c.txt"):
        (tmp_path / name).write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    assert expand_configs(["*.yaml"]) == [Path("a.yaml"), Path("b.yaml")]
    assert expand_configs(["_base.yaml", "b.yaml"]) == [Path("_base.yaml"), Path("b.yaml")]  # named: kept
    with pytest.raises(UserError, match=r"--config 'x\*.yaml' matches no file"):
        expand_configs(["x*.yaml"])


@pytest.mark.parametrize("mode, calls", [(0, []), (2, [0, 2])])
def test_host_waits_sets_the_sync_debug_mode_only_when_one_is_on(monkeypatch, mode: int, calls: list[int]) -> None:
    """Setting the mode at all makes torch warn that it is a prototype, so mode 0 is left alone.

    No GPU is needed: torch.cuda's two mode functions are replaced by recorders.
    """
    from mlcl_train.training import engine

    seen: list[int] = []
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: mode)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", seen.append)
    with engine.host_waits(torch.device("cuda")):
        inside = list(seen)
    assert inside == calls[:1] and seen == calls


def test_train_threads_sets_the_threads_torch_computes_with(make_config) -> None:
    from mlcl_train.config.loader import load_config
    from mlcl_train.training.setup import setup

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        setup(load_config(make_config(train={"threads": 1})))
        assert torch.get_num_threads() == 1
        setup(load_config(make_config()))  # null: the process keeps what it has
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
