"""Every lesson config resolves against the schema, and each lesson pair differs where it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcl_train.config.loader import load_config
from mlcl_train.config.schema import flatten

LESSONS = Path(__file__).parent.parent / "configs" / "lessons"
CONFIGS = sorted(LESSONS.glob("*.yaml"))


def test_every_lesson_is_explained_in_the_docs() -> None:
    guide = (LESSONS.parents[1] / "docs" / "lessons.md").read_text()
    lessons = [p.stem for p in CONFIGS if not p.name.startswith("_")]
    assert lessons and all(f"{name}.yaml" in guide for name in lessons), lessons


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_lesson_config_resolves(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name == path.stem
    if not path.name.startswith("_"):
        assert path.read_text().startswith("#"), "a lesson starts with a comment saying what to look for"


def differences(a: str, b: str) -> set[str]:
    """Dotted keys whose resolved values differ between two lesson configs (name aside)."""
    x, y = (flatten(load_config(LESSONS / f"{n}.yaml")) for n in (a, b))
    return {k for k in x.keys() | y.keys() if k != "name" and x.get(k) != y.get(k)}


@pytest.mark.parametrize("a, b, changed", [
    ("vanishing_sigmoid", "vanishing_relu", {"model.activation"}),
    ("loss_cross_entropy", "loss_mse", {"train.loss"}),
    ("loss_mse", "loss_mse_softmax", {"model.output"}),
    ("overfit_wide", "overfit_wide_dropout", {"model.dropout"}),
    ("overfit_wide", "overfit_wide_more_data", {"data.train_subset", "train.epochs"}),
    ("overfit_wide", "overfit_wide_val", {"data.val_split"}),
])
def test_a_lesson_pair_changes_one_thing(a: str, b: str, changed: set[str]) -> None:
    assert differences(a, b) == changed


def test_vanishing_lessons_log_gradient_norms() -> None:
    assert all(
        load_config(LESSONS / f"{n}.yaml").train.log_grad_norms for n in ("vanishing_sigmoid", "vanishing_relu")
    )
