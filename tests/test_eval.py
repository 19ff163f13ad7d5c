"""`mlcl-train eval`: the saved weights reproduce the run's accuracy; the two figures are written."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app

runner = CliRunner()


@pytest.mark.slow
def test_eval_reproduces_the_final_accuracy_and_writes_the_figures(trained_runs, tmp_path):
    run = next(trained_runs[0].iterdir())
    result = runner.invoke(app, ["eval", str(run), "-o", str(tmp_path / "eval"), "--mistakes", "6"])
    assert result.exit_code == 0, result.output
    acc = float(re.search(r"\[Test Result\] ([\d.]+)%", result.stdout).group(1))
    assert abs(acc - json.loads((run / "summary.json").read_text())["final_acc"]) <= 0.01
    classes = [
        line.split() for line in result.stdout.splitlines() if re.fullmatch(r"\s+\d\s+\d+\s+\d+\s+[\d.]+%", line)
    ]
    assert [c[0] for c in classes] == [str(d) for d in range(10)]
    images, correct = sum(int(c[1]) for c in classes), sum(int(c[2]) for c in classes)
    assert abs(100.0 * correct / images - acc) <= 0.01
    for name in ("confusion.png", "mistakes.png"):
        assert (tmp_path / "eval" / name).read_bytes()[:4] == b"\x89PNG"
    assert not (run / "confusion.png").exists()


def test_eval_of_a_folder_that_is_no_run_is_one_line(tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "has no config.yaml" in result.stderr


def test_eval_takes_several_runs_and_says_when_a_folder_does_not_exist(trained_runs, tmp_path):
    runs = sorted(trained_runs[0].iterdir())
    result = runner.invoke(app, ["eval", *map(str, runs), "-o", str(tmp_path / "eval"), "--mistakes", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("[Test Result]") == 2
    for run in runs:  # one folder per run, and no mistakes figure when none is asked for
        assert (tmp_path / "eval" / run.name / "confusion.png").is_file()
        assert not (tmp_path / "eval" / run.name / "mistakes.png").exists()
    missing = runner.invoke(app, ["eval", str(runs[0]), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "nope: no such folder" in missing.stderr and "[Test" not in missing.stdout
