"""Augmentation on the device: the affine grid, shifts, seeds, elastic distortion, training with it, its figure."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.schema import Augment
from mlcl_train.data.augment import Augmenter, affine_grid, enabled
from mlcl_train.runs.store import read_csv

BACKGROUND = -0.4242  # MNIST's blank pixel, normalized
OFF = Augment()  # data.augment's defaults: every distortion off


def digit() -> torch.Tensor:
    """One (1, 1, 28, 28) image: a bright 6x4 block on the background, off center."""
    x = torch.full((1, 1, 28, 28), BACKGROUND)
    x[0, 0, 10:16, 12:16] = 2.8
    return x


def center(x: torch.Tensor) -> tuple[float, float]:
    """Center of mass (row, column) of the ink above the background."""
    ink = (x[0, 0] - BACKGROUND).clamp(min=0)
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return float((ink * rows).sum() / ink.sum()), float((ink * cols).sum() / ink.sum())


def test_the_affine_grid_is_torchs() -> None:
    theta = torch.randn(5, 2, 3)
    ours = affine_grid(theta, 28, 28).permute(0, 2, 3, 1)
    assert torch.allclose(ours, F.affine_grid(theta, [5, 1, 28, 28], align_corners=False), atol=1e-5)


def test_no_distortion_is_the_identity() -> None:
    x = digit()
    assert torch.allclose(Augmenter(OFF, BACKGROUND, x.device, seed=1)(x), x, atol=1e-5)
    assert not enabled(OFF) and enabled(Augment(rotate=5))


def test_a_shift_moves_the_ink_by_at_most_n_pixels_and_keeps_it() -> None:
    x = digit().repeat(64, 1, 1, 1)
    out = Augmenter(Augment(shift=2), BACKGROUND, x.device, seed=1)(x)
    moves = [tuple(a - b for a, b in zip(center(o[None]), center(x[:1]), strict=True)) for o in out]
    assert max(max(abs(dr), abs(dc)) for dr, dc in moves) <= 2.0 + 1e-4
    assert max(max(abs(dr), abs(dc)) for dr, dc in moves) > 1.0  # it does move
    ink = (x[0] - BACKGROUND).sum()
    assert all(math.isclose(float((o - BACKGROUND).sum()), float(ink), rel_tol=1e-3) for o in out)
    assert torch.allclose(out[:, :, 0, :], torch.full_like(out[:, :, 0, :], BACKGROUND), atol=1e-5)  # blank border


def test_the_same_seed_gives_the_same_distortions() -> None:
    x = digit().repeat(8, 1, 1, 1)
    spec = Augment(shift=2, rotate=10, scale=0.1, elastic=34.0)
    first = Augmenter(spec, BACKGROUND, x.device, seed=5)(x)
    assert torch.equal(first, Augmenter(spec, BACKGROUND, x.device, seed=5)(x))
    assert not torch.allclose(first, Augmenter(spec, BACKGROUND, x.device, seed=6)(x))
    assert not torch.allclose(first[0], first[1])  # each image its own distortion


def test_elastic_distortion_bends_the_ink_and_leaves_far_corners_blank() -> None:
    x = digit().repeat(16, 1, 1, 1)
    out = Augmenter(Augment(elastic=34.0), BACKGROUND, x.device, seed=2)(x)
    assert torch.isfinite(out).all()
    assert (out - x).abs().amax(dim=(1, 2, 3)).min() > 0.5  # every image changed
    assert torch.allclose(out[:, :, :3, :3], torch.full_like(out[:, :, :3, :3], BACKGROUND), atol=1e-4)


@pytest.mark.slow
def test_training_with_augmentation_is_repeatable_and_differs(tmp_path: Path, make_config) -> None:
    losses = []
    for i, augment in enumerate(({"shift": 2, "rotate": 10}, {"shift": 2, "rotate": 10}, {})):
        runs = tmp_path / f"runs{i}"
        cfg = make_config(f"aug{i}", data={"augment": augment})
        result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--runs-dir", str(runs), "--no-progress"])
        assert result.exit_code == 0, result.output
        (run,) = runs.iterdir()
        losses.append([row["train_loss"] for row in read_csv(run / "metrics.csv")])
    assert losses[0] == losses[1]  # seeded
    assert losses[0] != losses[2]  # the augmented batches are not the plain ones


@pytest.mark.slow
def test_plot_augment_draws_a_grid(tmp_path: Path, make_config) -> None:
    cfg = make_config(data={"augment": {"rotate": 15}})
    out = tmp_path / "augment.png"
    result = CliRunner().invoke(app, ["plot", "--augment", str(cfg), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = CliRunner().invoke(app, ["plot", "--augment", str(make_config("plain")), "-o", str(out)])
    assert plain.exit_code == 2 and "distorts nothing" in plain.stderr
