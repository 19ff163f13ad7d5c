"""Shared fixtures: tiny MNIST-style IDX files written by the tests, and a config that uses them."""

from __future__ import annotations

import gzip
import json
import os
import struct
import tempfile
from pathlib import Path

import pytest
import yaml

from mlcl_train.config.loader import merge
from mlcl_train.data.loader import BUNDLED, FILES, read_idx

# the list of model files trained with on this machine (models.trust): the tests', not the user's
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mlcl-test-data-")

TRAIN_N, TEST_N = 512, 128  # small enough for a 2-epoch run in about a second


def write_idx(path: Path, shape: tuple[int, ...], data: bytes, gz: bool = False) -> Path:
    """Write an unsigned-byte IDX file (gzipped when gz)."""
    raw = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the four IDX files holding the first images of the real MNIST splits."""
    root = tmp_path_factory.mktemp("tiny_mnist")
    for split, n in (("train", TRAIN_N), ("test", TEST_N)):
        images, labels = FILES[split]
        _, pixels = read_idx(BUNDLED / f"{images}.gz")
        _, targets = read_idx(BUNDLED / f"{labels}.gz")
        write_idx(root / images, (n, 28, 28), pixels[: n * 784])
        write_idx(root / f"{labels}.gz", (n,), targets[:n], gz=True)
    return root


@pytest.fixture
def make_config(tmp_path: Path, tiny_root: Path):
    """make_config(**sections) -> path of a YAML config that trains briefly on the tiny data."""

    def make(name: str = "tiny", **sections) -> Path:
        cfg = {
            "seed": 1,
            "device": "cpu",
            "data": {"root": str(tiny_root)},
            "model": {"name": "mlp", "hidden": [32]},
            "train": {"epochs": 2, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.1}},
            "eval": {"batch_size": 64},
        }
        cfg = merge(cfg, sections)  # a section whose `name` changes is replaced, as in configs
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> tuple[Path, str]:
    """Two 2-epoch runs trained by one `train` call, differing only in model.hidden: (runs folder, output).

    Read-only for the tests: copy a run before changing it.
    """
    from typer.testing import CliRunner

    from mlcl_train.cli.app import app

    base = tmp_path_factory.mktemp("trained")
    args = ["train", "--runs-dir", str(base / "runs"), "--no-progress"]
    for width in (16, 32):
        cfg = {
            "name": f"hidden{width}", "seed": 1, "device": "cpu", "data": {"root": str(tiny_root)},
            "model": {"name": "mlp", "hidden": [width]},
            "train": {"epochs": 2, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.1}, "log_grad_norms": True},
            "eval": {"batch_size": 64},
        }
        path = base / f"hidden{width}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        args += ["--config", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return base / "runs", result.output


# ---------------------------------------------------------------- run folders written without training

LONG_NAME = "a_student_run_with_an_extremely_long_name_that_goes_on_and_on_for_quite_a_while_yes"


def sequential(depth: int) -> dict:
    layers = []
    for i in range(depth):
        layers += [{"conv2d": {"out_channels": 8 * (i % 3 + 1), "kernel_size": 3, "padding": 1}}, "batchnorm", "relu"]
    return {"name": "sequential", "layers": [*layers, {"adaptiveavgpool2d": 1}, "flatten", {"linear": 64}, "relu",
                                             {"linear": 10}]}


def fake_run(root: Path, n: int, name: str, sets: list[str], model: dict | None = None, acc: float = 90.0) -> None:
    """A finished run folder as training leaves it (config, metrics, summary), without training."""
    from mlcl_train.config.loader import load_config

    base = root.parent / "base.yaml"
    base.write_text(yaml.safe_dump({"name": name, "model": model or {"name": "mlp", "hidden": [128, 64]},
                                    "train": {"epochs": 3}}))
    write_run(root, n, load_config(base, sets), acc)


def write_run(root: Path, n: int, cfg, acc: float = 90.0) -> None:
    """A finished run folder of a resolved config, without training."""
    from mlcl_train.config.schema import as_dict
    from mlcl_train.runs.store import Epoch, new_summary, results

    folder = root / f"20261127-10{n:04d}-{cfg.name}"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(as_dict(cfg), sort_keys=False))
    epochs = [Epoch(e, 0.5 / e, acc - 3 + e, 0.6 / e, acc - 3 + e + n % 7 / 10, 0.01, 1.5) for e in (1, 2, 3)]
    (folder / "metrics.csv").write_text("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n" + "".join(
        f"{e.epoch},{e.train_loss},{e.train_acc},{e.test_loss},{e.test_acc},{e.lr},{e.seconds}\n" for e in epochs))
    summary = {**new_summary(cfg, 100_000 + n, "cpu", {}, epochs).as_dict(), **results(epochs), "status": "completed"}
    (folder / "summary.json").write_text(json.dumps(summary))


def many_runs(root: Path, count: int) -> Path:
    """`count` run folders: --set variants of one config, a CNN, a long name, long sequential models."""
    variants = [["train.optimizer.lr=0.05"], ["model.hidden=[1024, 512]"], ["model.activation=sigmoid"],
                ["train.optimizer=adam"], ["seed=2"], ["train.batch_size=32"], ["model.dropout=0.3"],
                ["train.scheduler=cosine"], ["model.hidden=[64]", "model.activation=tanh"]]
    kinds = [
        ("mlp_deep", lambda i: variants[i % len(variants)], None),
        ("cnn", lambda i: [f"seed={i}"], {"name": "cnn", "channels": [32, 64]}),
        (LONG_NAME, lambda i: [], None),
        ("sequential_deep_model_with_many_layers", lambda i: [f"seed={i}"], "sequential"),
    ]
    for i in range(count):
        name, sets, model = kinds[i % len(kinds)] if i < 4 else kinds[0 if i % 3 else 3]
        model = sequential(3 + i % 6) if model == "sequential" else model
        fake_run(root, i, name, sets(i), model, acc=80 + i % 17)
    return root
