"""`mlcl-train export --format onnx`: onnxruntime gives torch's probabilities on the test images."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config, to_yaml
from mlcl_train.data.loader import STATS, load_test
from mlcl_train.serve.predict import load_model, probabilities
from mlcl_train.training.engine import build_model

runner = CliRunner()


def untrained_run(folder, make_config, model):
    """A run folder holding a config and its freshly drawn weights: all that load_model and export read."""
    cfg = load_config(make_config(model=model))
    folder.mkdir()
    (folder / "config.yaml").write_text(to_yaml(cfg))
    torch.save(build_model(cfg).state_dict(), folder / "model.pt")
    return folder


@pytest.mark.parametrize("model", [None, {"name": "rnn", "cell": "lstm", "hidden": 16}])
def test_onnx_gives_torchs_probabilities_on_the_test_images(trained_runs, make_config, tiny_root, tmp_path, model):
    run = sorted(trained_runs[0].iterdir())[0] if model is None else untrained_run(tmp_path / "run", make_config, model)
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    test = load_test("mnist", str(tiny_root), torch.device("cpu"))
    mean, std = STATS["mnist"]
    images = (test.images * std + mean).numpy()  # the file takes [0, 1]; the normalisation is inside it
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"image": images})[0]
    expected = probabilities(load_model(run), test.images).numpy()
    diff = float(np.abs(got - expected).max())
    print(f"max abs difference onnxruntime - torch on {len(images)} test images: {diff:.2e}")
    assert got.shape == (len(images), 10) and diff < 1e-5
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)]
    assert json.loads(meta["normalisation"]) == {"mean": mean, "std": std, "folded_in": True}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_torchscript_and_unknown_formats_are_one_line(trained_runs):
    run = sorted(trained_runs[0].iterdir())[0]
    for fmt, message in (("torchscript", "deprecate TorchScript"), ("tflite", "unknown format 'tflite'")):
        result = runner.invoke(app, ["export", str(run), "--format", fmt])
        assert result.exit_code == 2 and message in result.stderr
    assert not (run / "model.onnx").exists()
