"""What a run checks before it trusts a file or a number: edited configs and damaged checkpoints on
resume, damaged model.pt for eval/slides/report, devices, wrong types in summary.json, divergence."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import Diverged
from mlcl_train.runs.store import read_run
from mlcl_train.training.loop import check_loss


def trained(tmp_path: Path, make_config, **sections) -> Path:
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "--config", str(make_config(**sections)), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    return run


def copy_run(runs: Path, tmp_path: Path) -> Path:
    source = sorted(runs.iterdir())[0]
    return Path(shutil.copytree(source, tmp_path / source.name))


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.name != "log.txt"}


def resume(run: Path, *args: str):
    return CliRunner().invoke(app, ["resume", str(run), *args])


# ---------------------------------------------------------------- resume


@pytest.mark.parametrize("key, value, changed", [
    ("model.hidden", [64], "model.hidden"),
    ("train.optimizer", {"name": "adam"}, "train.optimizer.name, train.optimizer.lr"),
    ("seed", 7, "seed"),
])
@pytest.mark.slow
def test_resume_of_an_edited_config_is_one_line_and_changes_nothing(tmp_path: Path, make_config, key: str,
                                                                     value, changed: str) -> None:
    run = trained(tmp_path, make_config)
    config = yaml.safe_load((run / "config.yaml").read_text())
    section, _, name = key.rpartition(".")
    (config[section] if section else config)[name.split(".")[-1]] = value
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    before = snapshot(run)
    result = resume(run, "--epochs", "3")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {run}/checkpoint.pt does not match config.yaml ({changed} changed); undo the "
                             "edit, or train the edited config as a new run with --config\n")
    assert snapshot(run) == before and read_run(run).status == "completed"


def test_a_checkpoint_without_its_config_is_still_checked(tmp_path: Path, make_config) -> None:
    """A checkpoint written before checkpoints held their config: an optimizer of another kind is refused up front."""
    run = trained(tmp_path, make_config)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    del ckpt["config"]
    torch.save(ckpt, run / "checkpoint.pt")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["optimizer"] = {"name": "adam", "lr": 0.1}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    before = snapshot(run)
    result = resume(run, "--epochs", "3")
    assert result.exit_code == 2 and "checkpoint.pt does not match config.yaml (the optimizer changed)" in result.stderr
    assert snapshot(run) == before
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("- 32", "- 48"))
    result = resume(run, "--epochs", "3")
    assert result.exit_code == 2 and "does not match config.yaml (the model's weights differ" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty", "truncated", "payload", "not_a_checkpoint"])
def test_a_damaged_checkpoint_is_one_line_and_changes_nothing(tmp_path: Path, make_config, damage: str) -> None:
    run = trained(tmp_path, make_config)
    path = run / "checkpoint.pt"
    marker = tmp_path / "pwned"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "payload":
        torch.save({"epoch": 2, "evil": Exploit(marker)}, path)
    else:
        torch.save({"epoch": "two", "model": [1, 2]}, path)
    before = snapshot(run)
    result = resume(run, "--epochs", "3")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path} is damaged (") and result.stderr.count("\n") == 1
    assert f"start it again with: mlcl-train --config {run}/config.yaml" in result.stderr
    assert "weights_only" not in result.output and "Traceback" not in result.output
    assert snapshot(run) == before and not marker.exists()


@pytest.mark.slow
def test_a_live_process_with_the_runs_old_pid_does_not_block_resume(tmp_path: Path, make_config) -> None:
    """A run killed hard says `running` with a pid that another process may now have (here pid 1)."""
    run = trained(tmp_path, make_config)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "running", "pid": 1}))
    assert read_run(run).status == "killed"
    result = resume(run, "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert read_run(run).status == "completed" and read_run(run).epochs == 3


@pytest.mark.slow
def test_a_resume_that_fails_leaves_the_run_as_it_was(tmp_path: Path, make_config, monkeypatch) -> None:
    import mlcl_train.training.loop as training

    run = trained(tmp_path, make_config)
    before = snapshot(run)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training, "train_epoch", broken)
    result = resume(run, "--epochs", "4")
    assert result.exit_code == 1 and "error: RuntimeError: out of memory" in result.stderr
    assert snapshot(run) == before
    assert read_run(run).status == "completed" and read_run(run).epochs_planned == 2


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# ---------------------------------------------------------------- eval, slides, report


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty", "truncated", "payload"])
def test_eval_slides_and_report_on_a_damaged_model_pt(tmp_path: Path, trained_runs, damage: str) -> None:
    run = copy_run(trained_runs[0], tmp_path)
    path = run / "model.pt"
    marker = tmp_path / "pwned"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    else:
        torch.save({"fc": Exploit(marker)}, path)
    result = CliRunner().invoke(app, ["eval", str(run), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path} is damaged (") and result.stderr.count("\n") == 1
    for command, out in (("slides", "deck.pptx"), ("report", "page.html")):
        result = CliRunner().invoke(app, [command, str(run), "-o", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        assert f"\nnote: no confusion matrix: {path} is damaged (" in "\n" + result.stderr
        assert "weights_only" not in result.output and "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize("args", [["eval", "RUN", "--device", "tpu"], ["eval", "RUN", "--device", "cpu:99"],
                                  ["report", "RUN", "--device", "tpu", "-o", "OUT/r.html"],
                                  ["slides", "RUN", "--device", "cuda:x", "-o", "OUT/s.pptx"]])
def test_an_unknown_device_is_one_line(tmp_path: Path, trained_runs, args: list[str]) -> None:
    run = sorted(trained_runs[0].iterdir())[0]
    args = [a.replace("RUN", str(run)).replace("OUT", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, args)
    device = args[args.index("--device") + 1]
    assert result.exit_code == 2
    assert result.stderr == f"error: --device unknown device '{device}'; valid: auto, cpu, cuda, cuda:N, mps\n"
    assert not list(tmp_path.iterdir())


def test_report_on_a_device_this_machine_lacks_is_an_error_not_a_missing_section(tmp_path: Path, trained_runs) -> None:
    run = sorted(trained_runs[0].iterdir())[0]
    result = CliRunner().invoke(app, ["report", str(run), "--device", "cuda:7", "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("  ")]  # less the progress lines
    assert len(errors) == 1 and errors[0].startswith("error: device 'cuda:7' is not available")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_eval_reads_a_summary_of_wrong_types(tmp_path: Path, trained_runs) -> None:
    run = copy_run(trained_runs[0], tmp_path)
    text = (run / "summary.json").read_text()
    huge = "9" * 5000
    for value in ("1e999", "-1e999", huge, f'"{huge}"', '"abc"', "[1]", '{"a": 1}', "true", '"NaN"'):
        summary = json.loads(text)
        for key in ("final_acc", "best_acc", "epochs_done", "params", "best_epoch", "final_test_loss",
                    "seconds_per_epoch", "epochs"):
            summary[key] = "VALUE"
        (run / "summary.json").write_text(json.dumps(summary).replace('"VALUE"', value))
        record = read_run(run)  # never raises
        assert record.epochs >= 0
        result = CliRunner().invoke(app, ["eval", str(run), "-o", str(tmp_path), "--mistakes", "0"])
        assert result.exit_code == 0, (value, result.output)
        assert "[Test Result]" in result.stdout


# ---------------------------------------------------------------- divergence


@pytest.mark.parametrize("loss, message", [(math.nan, "became nan"), (math.inf, "became inf"),
                                           (-math.inf, "became -inf"), (2.4e30, "exploded to 2.4e+30")])
def test_a_non_finite_or_exploding_loss_is_divergence(loss: float, message: str) -> None:
    with pytest.raises(Diverged, match=re.escape(f"the test loss {message}")):
        check_loss("test", loss)
    check_loss("test", 2.3)


def test_a_huge_learning_rate_ends_diverged(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    cfg = make_config(train={"epochs": 3, "optimizer": {"name": "sgd", "lr": 1e6}})
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(runs)])
    assert result.exit_code == 1
    record = read_run(next(runs.iterdir()))
    assert record.status == "diverged" and record.epochs == 0
    summary = json.loads((record.path / "summary.json").read_text())
    assert summary["error"].startswith("the training loss ")


def test_a_test_loss_that_is_not_finite_ends_diverged(tmp_path: Path, make_config, monkeypatch) -> None:
    import mlcl_train.training.loop as training

    monkeypatch.setattr(training, "evaluate", lambda *args, **kwargs: (math.nan, 10.0))
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "--config", str(make_config()), "--runs-dir", str(runs)])
    assert result.exit_code == 1
    assert "Diverged: the test loss became nan in epoch 1" in result.stdout and "[Test Result]" not in result.stdout
    record = read_run(next(runs.iterdir()))
    assert record.status == "diverged" and record.epochs == 0
