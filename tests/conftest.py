"""Shared fixtures: tiny MNIST-style IDX files written by the tests, and a config that uses them."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import yaml

from mlcl_train.config import merge
from mlcl_train.data import BUNDLED, FILES, read_idx

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

    from mlcl_train.cli import app

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
