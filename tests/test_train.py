"""Training through the real CLI on tiny data: the log, the run folder, and every way a run ends."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app, expand_args
from mlcl_train.models import create_model
from mlcl_train.runs.store import read_csv
from mlcl_train.training.engine import model_output_kind, pitfalls, resolve_device

ROOT = Path(__file__).parent.parent


def train(*args: str):
    return CliRunner().invoke(app, ["train", *args])


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def test_log_and_run_folder(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    result = train("--config", str(make_config()), "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    epoch_lines = [line for line in lines if not line.startswith(("Run ", "Done", "warning", "device"))]
    assert epoch_lines[0] == "===== [Epochs] 1/2 ====="
    assert re.fullmatch(r"Train Loss: \d+\.\d{6}", epoch_lines[1])
    assert re.fullmatch(r"Test Loss: \d+\.\d{6}", epoch_lines[2])
    assert re.fullmatch(r"\[Test Result\] \d+\.\d{3}%", epoch_lines[3])
    assert epoch_lines[4] == "===== [Epochs] 2/2 ====="
    run = only_run(runs)
    assert re.fullmatch(r"\d{8}-\d{6}-tiny", run.name)
    assert lines[-1].startswith(f"Done: {run}")
    assert {p.name for p in run.iterdir()} == {
        ".lock",
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "log.txt",
        "model.pt",
        "best.pt",
        "checkpoint.pt",
    }
    assert (run / "log.txt").read_text() == result.stdout
    summary = json.loads((run / "summary.json").read_text())
    rows = read_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert summary["status"] == "completed" and summary["epochs_done"] == 2
    assert summary["final_acc"] == float(rows[-1]["test_acc"])
    assert summary["best_acc"] == max(float(r["test_acc"]) for r in rows)
    assert summary["params"] == 784 * 32 + 32 + 32 * 10 + 10
    assert f"{summary['final_acc']:.3f}%" in lines[-1]
    state = torch.load(run / "model.pt", weights_only=True)
    assert state["fc1.weight"].shape == (32, 784)


def test_the_bare_form_means_train() -> None:
    assert expand_args(["--config", "a.yaml"]) == ["train", "--config", "a.yaml"]
    assert expand_args(["-c", "a.yaml", "--set", "x=1"]) == ["train", "-c", "a.yaml", "--set", "x=1"]
    for args in (["--help"], ["-h"], ["--version"], ["compare", "--format", "csv"], []):
        assert expand_args(args) == args


def test_saved_config_reruns_the_same_experiment(tmp_path: Path, make_config) -> None:
    """The same config and seed give identical metrics; config.yaml re-runs the experiment."""
    runs = tmp_path / "runs"
    cfg = make_config(model={"name": "mlp", "hidden": [32], "dropout": 0.2})
    result = train("--config", str(cfg), "--runs-dir", str(runs), "--name", "first")
    assert result.exit_code == 0, result.output
    first = only_run(runs)
    result = train("--config", str(first / "config.yaml"), "--runs-dir", str(tmp_path / "again"))
    assert result.exit_code == 0, result.output
    second = only_run(tmp_path / "again")
    assert second.name.endswith("-first")
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    strip = lambda rows: [{k: r[k] for k in columns} for r in rows]  # noqa: E731
    assert strip(read_csv(first / "metrics.csv")) == strip(read_csv(second / "metrics.csv"))
    assert yaml.safe_load((first / "config.yaml").read_text()) == yaml.safe_load((second / "config.yaml").read_text())


def test_runs_started_together_get_their_own_folders(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from mlcl_train.runs.store import Run

    start = Barrier(4)

    def create(_: int) -> Path:
        start.wait()  # all four ask for a folder at the same moment
        return Run.create(tmp_path, "same").path

    with ThreadPoolExecutor(4) as pool:
        made = set(pool.map(create, range(4)))
    assert len(made) == 4 and all(p.is_dir() and not any(p.iterdir()) for p in made)


def test_several_configs_keep_going_after_a_failure(tmp_path: Path, make_config) -> None:
    good = make_config("good")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: nope}\n")
    result = train("--config", str(bad), "--config", str(good), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 1
    assert "unknown model 'nope'" in result.stderr and "1 of 2 configs failed" in result.stderr
    assert only_run(tmp_path / "runs").name.endswith("-good")


def test_unavailable_cuda_is_a_clear_error(tmp_path: Path, make_config, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = train("--config", str(make_config()), "--device", "cuda", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "device 'cuda' is not available" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_auto_device_states_its_fallback(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == (torch.device("cpu"), "device: auto -> cpu (no CUDA or MPS device found)")
    assert resolve_device("cpu") == (torch.device("cpu"), None)


def test_runs_dir_that_cannot_be_written(tmp_path: Path, make_config) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = train("--config", str(make_config()), "--runs-dir", str(blocker / "runs"))
    assert result.exit_code == 2
    assert "cannot create a run folder in" in result.stderr and "--runs-dir" in result.stderr


@pytest.mark.parametrize(
    "layers, message",
    [
        (
            ["flatten", {"linear": 64}, {"conv2d": 8}],
            "model.layers[2] (conv2d): needs image input (N, C, H, W), but gets shape (N, 64)",
        ),
        ([{"linear": 10}], "model.layers[0] (linear): needs flat input (N, features): add 'flatten' before it"),
        (
            [{"conv2d": {"out_channels": 4, "kernel_size": 30}}, "flatten", {"linear": 10}],
            "model.layers[0] (conv2d): does not fit its input of shape (N, 1, 28, 28)",
        ),
        (["flatten", {"linear": 20}], "the last layer gives shape (N, 20); it must give (N, 10)"),
        (["flatten", {"lineer": 10}], "model.layers[1]: unknown layer 'lineer'; did you mean 'linear'?"),
        (["flatten", {"linear": {"out_feature": 10}}], "unknown argument 'out_feature'; did you mean 'out_features'?"),
    ],
)
def test_sequential_layers_that_do_not_fit(tmp_path: Path, make_config, layers: list, message: str) -> None:
    cfg = make_config(model={"name": "sequential", "layers": layers})
    result = train("--config", str(cfg), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("problem", ["missing", "empty", "truncated"])
def test_bad_data_root_through_the_cli(tmp_path: Path, make_config, tiny_root: Path, problem: str) -> None:
    import shutil

    root = tmp_path / "data"
    if problem != "missing":
        root.mkdir()
    if problem == "truncated":
        shutil.copytree(tiny_root, root, dirs_exist_ok=True)
        path = root / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-100])
    result = train("--config", str(make_config(data={"root": str(root)})), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    expected = {
        "missing": "folder not found",
        "empty": "holds no mnist IDX files",
        "truncated": "train-images-idx3-ubyte is truncated",
    }[problem]
    assert expected in result.stderr
    assert not (tmp_path / "runs").exists()


def test_nan_loss_stops_the_run_as_diverged(tmp_path: Path, make_config) -> None:
    cfg = make_config(train={"epochs": 3, "optimizer": {"name": "sgd", "lr": 1e12}})
    result = train("--config", str(cfg), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 1
    assert "learning rate may be too high" in result.stdout
    summary = json.loads((only_run(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_done"] < 3


def test_a_failure_mid_run_is_recorded(tmp_path: Path, make_config, monkeypatch) -> None:
    import mlcl_train.training.loop as training

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(training, "evaluate", broken)
    result = train("--config", str(make_config()), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 1
    assert "error: RuntimeError: disk on fire" in result.stderr and "Traceback" not in result.output
    summary = json.loads((only_run(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "failed" and "disk on fire" in summary["error"]


def start_training(tmp_path: Path, cfg: Path, runs: Path) -> tuple[subprocess.Popen, Path]:
    """Start a long run in a subprocess; return it once its second epoch is in metrics.csv."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "mlcl_train",
        "--config",
        str(cfg),
        "--runs-dir",
        str(runs),
        "--set",
        "train.epochs=500",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [p for p in runs.glob("*") if len(read_csv(p / "metrics.csv")) >= 2] if runs.exists() else []
        if found:
            return proc, found[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run never finished two epochs")


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_writes_a_consistent_folder_and_resume_matches_an_uninterrupted_run(
    tmp_path: Path, make_config, sig: signal.Signals, code: int
) -> None:
    cfg = make_config(model={"name": "mlp", "hidden": [32], "dropout": 0.3})
    proc, run = start_training(tmp_path, cfg, tmp_path / "runs")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    summary = json.loads((run / "summary.json").read_text())
    done = summary["epochs_done"]
    assert summary["status"] == "interrupted" and done >= 2
    assert f"Resume with: mlcl-train resume {run}" in out
    assert len(read_csv(run / "metrics.csv")) == done
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == done

    total = done + 2
    result = CliRunner().invoke(app, ["resume", str(run), "--epochs", str(total)])
    assert result.exit_code == 0, result.output
    straight = train("--config", str(cfg), "--set", f"train.epochs={total}", "--runs-dir", str(tmp_path / "straight"))
    assert straight.exit_code == 0
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
    strip = lambda rows: [{k: r[k] for k in columns} for r in rows]  # noqa: E731
    assert strip(read_csv(run / "metrics.csv")) == strip(read_csv(only_run(tmp_path / "straight") / "metrics.csv"))
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_hard_kill_leaves_every_file_complete(tmp_path: Path, make_config) -> None:
    proc, run = start_training(tmp_path, make_config(), tmp_path / "runs")
    proc.kill()
    proc.communicate()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "running" and summary["epochs_done"] >= 1
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 500
    rows = read_csv(run / "metrics.csv")
    assert all(r["seconds"] for r in rows)
    torch.load(run / "model.pt", weights_only=True)
    done = torch.load(run / "checkpoint.pt", weights_only=True)["epoch"]
    # written in this order at each epoch's end: checkpoint, metrics row, summary
    assert done - 1 <= len(rows) <= done and summary["epochs_done"] in (len(rows), len(rows) - 1)
    result = CliRunner().invoke(app, ["resume", str(run), "--epochs", str(done + 1)])
    assert result.exit_code == 0, result.output
    assert [int(r["epoch"]) for r in read_csv(run / "metrics.csv")] == list(range(1, done + 2))


@pytest.mark.slow
def test_resume_restores_a_metrics_row_cut_off_by_a_kill(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    result = train("--config", str(make_config()), "--runs-dir", str(runs), "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    run = only_run(runs)
    complete = read_csv(run / "metrics.csv")
    text = (run / "metrics.csv").read_text()
    (run / "metrics.csv").write_text(text[: text.rstrip("\n").rfind("\n") + 1])  # as if killed before row 3
    assert CliRunner().invoke(app, ["resume", str(run), "--epochs", "4"]).exit_code == 0
    rows = read_csv(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"] and rows[2] == complete[2]


def test_resume_refuses_what_it_cannot_do(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    assert train("--config", str(make_config()), "--runs-dir", str(runs)).exit_code == 0
    result = CliRunner().invoke(app, ["resume", str(only_run(runs))])
    assert result.exit_code == 2 and "already trained 2 of 2 epochs; pass --epochs N" in result.stderr
    result = CliRunner().invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "is not a run folder" in result.stderr


def test_checkpoints_load_without_running_code(tmp_path: Path, make_config) -> None:
    """A checkpoint that pickles an arbitrary object is refused, not executed."""
    runs = tmp_path / "runs"
    assert train("--config", str(make_config()), "--runs-dir", str(runs)).exit_code == 0
    run = only_run(runs)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    marker = tmp_path / "pwned"
    torch.save({"evil": Exploit(marker)}, tmp_path / "probe.pt")
    torch.load(tmp_path / "probe.pt", weights_only=False)  # the payload works when it is allowed to run
    assert marker.exists()
    marker.unlink()
    ckpt["evil"] = Exploit(marker)
    torch.save(ckpt, run / "checkpoint.pt")
    result = CliRunner().invoke(app, ["resume", str(run), "--epochs", "3"])
    assert result.exit_code != 0
    assert not marker.exists()


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize(
    "loss, kind, warning",
    [
        (
            "cross_entropy",
            "softmax",
            "the model ends in softmax, but cross_entropy applies log-softmax itself: "
            "the loss cannot go below about 1.4612",
        ),
        ("cross_entropy", "log_softmax", "the model ends in log-softmax, but cross_entropy applies log-softmax itself"),
        ("nll", "logits", "train.loss nll expects log-probabilities"),
        ("mse", "logits", "mse compares the 10 outputs with one-hot targets"),
        ("cross_entropy", "logits", None),
        ("nll", "log_softmax", None),
    ],
)
def test_loss_pitfall_warnings(loss: str, kind: str, warning: str | None) -> None:
    notes = pitfalls(loss, kind)
    assert (notes == []) if warning is None else (len(notes) == 1 and warning in notes[0])


@pytest.mark.parametrize("output", ["logits", "softmax", "log_softmax"])
def test_the_output_kind_probe_finds_the_models_last_layer(output: str) -> None:
    model = create_model("mlp", hidden=[16], output=output)
    assert model_output_kind(model) == output


def test_the_pitfall_warning_reaches_the_log(tmp_path: Path, make_config) -> None:
    softmax = make_config("sm", model={"name": "mlp", "hidden": [16], "output": "softmax"}, train={"epochs": 1})
    result = train("--config", str(softmax), "--runs-dir", str(tmp_path / "runs"))
    assert result.stdout.splitlines()[1].startswith("warning: the model ends in softmax")
