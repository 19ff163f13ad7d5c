"""`mlcl-train export --format onnx`: onnxruntime gives torch's probabilities on the test images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config, to_yaml
from mlcl_train.data.loader import STATS, load_test
from mlcl_train.models import list_models
from mlcl_train.serve.predict import load_model, probabilities
from mlcl_train.training.engine import build_model

runner = CliRunner()


def unshare_works() -> bool:
    import shutil

    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True).returncode == 0


def untrained_run(folder, make_config, model):
    """A run folder holding a config and its freshly drawn weights: all that load_model and export read."""
    cfg = load_config(make_config(model=model))
    folder.mkdir()
    (folder / "config.yaml").write_text(to_yaml(cfg))
    torch.save(build_model(cfg).state_dict(), folder / "model.pt")
    return folder


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_model_family_exports_with_a_dynamic_batch(make_config, tmp_path, name):
    """Each registered model with small settings, through onnxruntime at batch sizes 1, 2 and 7."""
    small = {"vit": {"dim": 16, "depth": 1, "heads": 2}, "resnet": {"blocks": [1], "widths": [4]},
             "cnn": {"channels": [4, 8], "hidden": [16]}, "rnn": {"hidden": 16}, "attention_rnn": {"hidden": 16}}
    run = untrained_run(tmp_path / "run", make_config, {"name": name, **small.get(name, {})})
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    model = load_model(run)
    for n in (1, 2, 7):
        images = torch.rand(n, 1, 28, 28)
        got = session.run(["probabilities"], {"image": images.numpy()})[0]
        mean, std = STATS["mnist"]
        expected = probabilities(model, (images - mean) / std).numpy()
        assert got.shape == (n, 10) and np.abs(got - expected).max() < 1e-4, (name, n)


def test_an_output_that_cannot_be_written_is_one_line(trained_runs, tmp_path):
    run = sorted(trained_runs[0].iterdir())[0]
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("mine")
    for output, message in ((tmp_path / "folder", "is a folder"), (tmp_path / "file" / "model.onnx", "cannot write")):
        result = runner.invoke(app, ["export", str(run), "-o", str(output)])
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.skipif(not unshare_works() and os.environ.get("CI") != "true",
                    reason="needs `unshare -rm` (a user and mount namespace) to mount a read-only tmpfs")
@pytest.mark.slow
@pytest.mark.parametrize("target", ["ro/model.onnx", "ro/missing/deeper/model.onnx"])
def test_a_read_only_file_system_is_one_line(trained_runs, tmp_path, target):
    run = sorted(trained_runs[0].iterdir())[0]
    (tmp_path / "ro").mkdir()
    script = f'mount -t tmpfs -o ro,size=1m tmpfs ro && "$@" export "{run}" -o {target}'
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "mlcl_train"],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot write {target}: Read-only file system")
