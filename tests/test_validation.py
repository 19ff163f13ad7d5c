"""The validation split: held-out images, Val lines, val columns, best epoch chosen on val, best.pt, early stop."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import resolve
from mlcl_train.core.errors import UserError
from mlcl_train.data.loader import load_splits, val_indices
from mlcl_train.runs.store import Epoch, read_csv, read_run, results


def train(*args: str):
    return CliRunner().invoke(app, ["train", "--no-progress", *args])


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_val_indices_are_stratified_seeded_and_distinct() -> None:
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    chosen = val_indices(labels, 100, seed=3)
    assert len(chosen) == 100 and len(set(chosen.tolist())) == 100
    assert chosen.tolist() == sorted(chosen.tolist())
    assert torch.bincount(labels[chosen]).tolist() == [60, 30, 10]  # each class in its share
    assert torch.equal(chosen, val_indices(labels, 100, seed=3))  # the same seed, the same images
    assert not torch.equal(chosen, val_indices(labels, 100, seed=4))


def test_val_indices_add_up_when_shares_are_fractions() -> None:
    labels = torch.arange(10).repeat_interleave(7)  # 70 images, 7 per class
    assert len(val_indices(labels, 15, seed=1)) == 15


def test_held_out_images_are_not_trained_on(tiny_root: Path) -> None:
    train, val, _ = load_splits("mnist", str(tiny_root), torch.device("cpu"), None, 100, seed=1)
    assert val is not None and len(val) == 100 and len(train) == 512 - 100
    flat_train = {tuple(x.flatten().tolist()) for x in train.images}
    assert not any(tuple(x.flatten().tolist()) in flat_train for x in val.images[:20])
    subset, val2, _ = load_splits("mnist", str(tiny_root), torch.device("cpu"), 50, 100, seed=1)
    assert torch.equal(val.images, val2.images) and len(subset) == 50  # train_subset does not move the val split


def test_a_val_split_as_large_as_the_data_is_refused(tiny_root: Path) -> None:
    from mlcl_train.core.errors import DataError

    with pytest.raises(DataError, match="val_split"):
        load_splits("mnist", str(tiny_root), torch.device("cpu"), None, 512, seed=1)


def test_the_best_epoch_is_chosen_on_val_when_there_is_one() -> None:
    rows = [Epoch(1, 1.0, 50.0, 0.5, 90.0, 0.1, 1.0, 0.4, 95.0), Epoch(2, 0.9, 60.0, 0.4, 92.0, 0.1, 1.0, 0.5, 94.0)]
    picked = results(rows)
    assert (picked["best_split"], picked["best_epoch"], picked["best_acc"], picked["best_val_acc"]) == (
        "val", 1, 90.0, 95.0)
    no_val = [Epoch(r.epoch, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.lr, r.seconds) for r in rows]
    picked = results(no_val)
    assert (picked["best_split"], picked["best_epoch"], picked["best_val_acc"]) == ("test", 2, None)


@pytest.mark.slow
def test_val_lines_columns_and_best_weights(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    result = train("--config", str(make_config(train={"epochs": 3}, data={"val_split": 100})), "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith(("Run ", "Done", "device"))]
    assert lines[0] == "===== [Epochs] 1/3 ====="
    assert re.fullmatch(r"Train Loss: \d+\.\d{6}", lines[1])
    assert re.fullmatch(r"Val Loss: \d+\.\d{6}", lines[2])
    assert re.fullmatch(r"\[Val Result\] \d+\.\d{3}%", lines[3])
    assert re.fullmatch(r"Test Loss: \d+\.\d{6}", lines[4])
    assert re.fullmatch(r"\[Test Result\] \d+\.\d{3}%", lines[5])
    run = only_run(runs)
    rows = read_csv(run / "metrics.csv")
    assert all(row["val_acc"] and row["val_loss"] for row in rows)
    best = max(rows, key=lambda r: float(r["val_acc"]))  # the first of equals
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_split"] == "val" and summary["best_epoch"] == int(best["epoch"])
    assert summary["best_val_acc"] == float(best["val_acc"]) and summary["best_acc"] == float(best["test_acc"])
    assert "chosen on validation" in result.stdout.splitlines()[-1]
    record = read_run(run)
    assert (record.best_split, record.val_acc) == ("val", float(rows[-1]["val_acc"]))
    best_weights = torch.load(run / "best.pt", weights_only=True)
    last_weights = torch.load(run / "model.pt", weights_only=True)
    same = all(torch.equal(best_weights[k], last_weights[k]) for k in last_weights)
    assert same == (summary["best_epoch"] == 3)


@pytest.mark.slow
def test_without_a_val_split_the_val_columns_are_empty(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    result = train("--config", str(make_config()), "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    assert "Val" not in result.stdout
    rows = read_csv(only_run(runs) / "metrics.csv")
    assert [(row["val_loss"], row["val_acc"]) for row in rows] == [("", ""), ("", "")]
    assert read_run(only_run(runs)).best_split == "test"


@pytest.mark.slow
def test_best_pt_holds_the_best_epochs_weights(tmp_path: Path, make_config) -> None:
    """A learning rate that blows the model up after epoch 1: best.pt keeps epoch 1's weights."""
    runs = tmp_path / "runs"
    cfg = make_config(train={"epochs": 3, "optimizer": {"name": "sgd", "lr": 0.5},
                             "scheduler": {"name": "multistep", "milestones": [1], "gamma": 40.0}},
                      data={"val_split": 100})
    result = train("--config", str(cfg), "--runs-dir", str(runs))
    run = only_run(runs)
    record = read_run(run)
    if record.best_epoch == record.epochs:
        pytest.fail(f"the setup should make a later epoch worse: {result.output}")
    best, last = (torch.load(run / name, weights_only=True) for name in ("best.pt", "model.pt"))
    assert any(not torch.equal(best[k], last[k]) for k in last)
    evaluated = CliRunner().invoke(app, ["eval", str(run), "--weights", "best", "-o", str(tmp_path / "out")])
    assert evaluated.exit_code == 0, evaluated.output
    acc = float(re.search(r"\[Test Result\] (\d+\.\d+)%", evaluated.stdout).group(1))
    assert math.isclose(acc, record.best_acc, abs_tol=0.01)
    assert f"weights best.pt (epoch {record.best_epoch})" in evaluated.stdout


@pytest.mark.slow
def test_eval_best_on_a_run_chosen_on_test_says_so(trained_runs) -> None:
    run = next(p for p in trained_runs[0].iterdir() if p.is_dir())
    result = CliRunner().invoke(app, ["eval", str(run), "--weights", "best", "-o", str(run.parent.parent / "ev")])
    assert result.exit_code == 0, result.output
    assert "chosen on the test split itself" in result.stderr
    bad = CliRunner().invoke(app, ["eval", str(run), "--weights", "middle"])
    assert bad.exit_code == 2 and "--weights 'middle'" in bad.stderr


def test_early_stop_needs_a_val_split() -> None:
    with pytest.raises(UserError, match="train.early_stop needs a validation split"):
        resolve({"train": {"early_stop": {"patience": 2}}})


@pytest.mark.slow
def test_early_stop_ends_a_run_that_stops_improving(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    cfg = make_config(train={"epochs": 6, "optimizer": {"name": "sgd", "lr": 1e-12}, "early_stop": {"patience": 2}},
                      data={"val_split": 100})  # a learning rate too small to change any prediction
    result = train("--config", str(cfg), "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    assert "Early stop: val_acc has not improved for 2 epochs (best at epoch 1); stopped after epoch 3 of 6" in (
        result.stdout)
    record = read_run(only_run(runs))
    assert (record.status, record.epochs, record.stopped_early, record.best_epoch) == ("completed", 3, 3, 1)
    resumed = CliRunner().invoke(app, ["resume", str(only_run(runs))])
    assert resumed.exit_code == 2 and "stopped early after epoch 3" in resumed.stderr


def test_compare_shows_val_and_test_side_by_side(tmp_path: Path, make_config, trained_runs) -> None:
    runs = tmp_path / "runs"
    assert train("--config", str(make_config(data={"val_split": 100})), "--runs-dir", str(runs)).exit_code == 0
    result = CliRunner().invoke(app, ["compare", str(runs), str(trained_runs[0])])
    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    names = header.split()
    at = names.index("best_acc")  # the narrow table leaves out other columns, never these
    assert names[at:at + 3] == ["best_acc", "best_val_acc", "best_split"], result.output
    splits = sorted(row.split()[at + 2] for row in rows)
    assert splits == ["test", "test", "val"]
    wide = CliRunner().invoke(app, ["compare", str(runs), "--columns", "run,best_acc,best_epoch,best_val_acc"])
    assert wide.stdout.splitlines()[0].split() == ["run", "best_acc", "best_epoch", "best_val_acc"]
    only_old = CliRunner().invoke(app, ["compare", str(trained_runs[0])])
    assert "best_split" not in only_old.stdout  # runs without a val split: the table as before


def test_a_run_from_before_the_val_columns_keeps_its_columns(tmp_path: Path) -> None:
    from mlcl_train.runs.store import METRICS, Run

    run = Run(tmp_path)
    old = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.5,80.0,0.4,85.0,0.1,1.0\n"
    (tmp_path / "metrics.csv").write_text(old)
    run.append_row("metrics.csv", METRICS, {"epoch": 2, "train_loss": "0.4", "train_acc": "85.0", "test_loss": "0.3",
                                            "test_acc": "90.0", "lr": "0.1", "seconds": "1.0", "val_loss": "",
                                            "val_acc": ""})
    assert (tmp_path / "metrics.csv").read_text() == old + "2,0.4,85.0,0.3,90.0,0.1,1.0\n"
    run.append_row("new.csv", ["a", "b"], {"a": 1, "b": 2})
    assert (tmp_path / "new.csv").read_text() == "a,b\n1,2\n"


def test_load_model_and_predict_take_the_best_weights(trained_runs, tmp_path: Path) -> None:
    from mlcl_train.serve.predict import load_model

    run = shutil.copytree(sorted(p for p in trained_runs[0].iterdir() if p.is_dir())[0], tmp_path / "run")
    state = torch.load(run / "best.pt", weights_only=True)
    state = {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, run / "best.pt")  # best.pt now differs from model.pt: all weights zero
    best = load_model(run, "best")
    assert all(float(p.detach().abs().sum()) == 0 for p in best.parameters())
    assert any(float(p.detach().abs().sum()) > 0 for p in load_model(run, "last").parameters())
    bad = CliRunner().invoke(app, ["predict", str(run), str(tmp_path / "x.png"), "--weights", "first"])
    assert bad.exit_code == 2 and "--weights 'first'" in bad.stderr
