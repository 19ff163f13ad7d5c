"""TensorBoard event files: written when asked, read back with TensorBoard's own reader, never imported otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.runs.store import read_csv

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_event_files_hold_the_epochs_scalars_and_the_hparams(tmp_path: Path, make_config) -> None:
    if os.environ.get("CI") != "true":  # part of .[dev]: CI always has it
        pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    cfg = make_config(train={"tensorboard": True, "log_grad_norms": True}, data={"val_split": 100})
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(runs), "--no-progress"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    events = EventAccumulator(str(run))
    events.Reload()
    tags = events.Tags()["scalars"]
    rows = read_csv(run / "metrics.csv")
    for tag, column in (("acc/test", "test_acc"), ("acc/val", "val_acc"), ("loss/train", "train_loss"), ("lr", "lr")):
        assert tag in tags
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2]
        assert [round(s.value, 3) for s in scalars] == [round(float(r[column]), 3) for r in rows]
    assert any(tag.startswith("grad_norm/") for tag in tags)
    assert [round(s.value, 3) for s in events.Scalars("hparam/final_acc")] == [float(rows[-1]["test_acc"])]
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins


@pytest.mark.slow
def test_training_without_tensorboard_never_imports_it(make_config, tmp_path: Path) -> None:
    cfg = make_config(train={"epochs": 1})
    code = ("import sys; from mlcl_train.config.loader import load_config; "
            "from mlcl_train.training.loop import train; "
            f"train(load_config({str(cfg)!r}), runs_dir={str(tmp_path / 'runs')!r}); "
            "print(sorted(m for m in sys.modules if 'tensorboard' in m))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.slow
def test_a_missing_tensorboard_is_one_clear_line(make_config, tmp_path: Path) -> None:
    cfg = make_config(train={"tensorboard": True})
    code = ("import sys; sys.modules['tensorboard'] = None; from mlcl_train.cli.app import main; "
            f"sys.argv = ['mlcl-train', 'train', '--config', {str(cfg)!r}, '--runs-dir', {str(tmp_path / 'runs')!r}]; "
            "main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: train.tensorboard: true needs the tensorboard package; install it with: "
        "pip install 'mlcl-train[tensorboard]' (or set train.tensorboard: false)"]
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made
