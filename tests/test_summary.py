"""`mlcl-train summary`: layers, output shapes and parameter counts before training."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config
from mlcl_train.training.engine import build_model

runner = CliRunner()


def test_summary_totals_equal_the_models_parameter_count(make_config):
    path = make_config(model={"name": "mlp", "hidden": [32, 16], "batch_norm": True})
    for sets in ([], ["model={name: cnn, channels: [4, 8], hidden: [16]}"]):
        result = runner.invoke(app, ["summary", "--config", str(path), *(f"--set={s}" for s in sets)])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        total = int(re.search(r"total parameters: ([\d,]+)", result.stdout).group(1).replace(",", ""))
        model = build_model(load_config(path, sets))
        assert total == sum(p.numel() for p in model.parameters())
        rows = [line.split() for line in lines[3:] if line and line[0].isalpha() and not line.startswith("total")]
        assert sum(int(r[-1].replace(",", "")) for r in rows) == total
        assert rows[-1][0] == "out" and rows[-1][2:4] == ["(N,", "10)"]


def test_summary_shows_conv_output_shapes(make_config):
    path = make_config(model={"name": "cnn", "channels": [4], "kernel_size": 3, "hidden": [8]})
    result = runner.invoke(app, ["summary", "--config", str(path)])
    assert re.search(r"^pool1\s+MaxPool2d\s+\(N, 4, 14, 14\)\s+0$", result.stdout, re.M), result.stdout
