"""docs/reference.md names every config key and every model argument; the README's links and commands hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlcl_train.config.optim import OPTIMIZERS, SCHEDULERS, Field, Named
from mlcl_train.config.schema import dotted_specs
from mlcl_train.models import list_models, model_args, yaml_value

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
SCHEMA = dotted_specs()  # {dotted key: Field, Named or the model marker}, from the config's dataclasses


def test_every_config_key_is_in_the_reference() -> None:
    missing = [k for k in SCHEMA if f"`{k}`" not in REFERENCE and k != "model"]
    assert not missing


def test_every_optimizer_and_scheduler_is_named() -> None:
    for section in (SCHEMA["train.optimizer"], SCHEMA["train.scheduler"]):
        assert isinstance(section, Named)
        assert all(f"`{name}`" in REFERENCE for name in section.choices)


def test_every_model_and_argument_is_in_the_reference() -> None:
    for name in list_models():
        assert f"`{name}`" in REFERENCE, name
        for arg in model_args(name):
            assert f"`{arg.name}`" in REFERENCE, f"{name}.{arg.name}"


def readme_row(key: str) -> str:
    (row,) = [line for line in REFERENCE.splitlines() if line.startswith(f"| `{key}` |")]
    return row


@pytest.mark.parametrize("key, registry", [("train.optimizer", OPTIMIZERS), ("train.scheduler", SCHEDULERS)])
def test_the_optimizer_and_scheduler_rows_match_the_registry(key: str, registry: dict) -> None:
    """`adam` and `adamw` (lr, betas, eps, weight_decay): each name with exactly its fields, in their order."""
    described = {}
    for names, fields in re.findall(r"((?:`\w+`(?:, | and )?)+) \(([^)]*)\)", readme_row(key)):
        for name in re.findall(r"`(\w+)`", names):
            described[name] = fields.split(", ")
    assert described == {name: list(algorithm.fields) for name, algorithm in registry.items()}


def test_every_default_in_the_reference_is_the_schemas() -> None:
    fields = {k: v for k, v in flat_fields().items() if k != "name"}  # name: "the file's stem"
    for key, field in fields.items():
        assert f"| `{key}` | `{yaml_value(field.default)}` |" in REFERENCE, key


def test_every_key_is_described_in_the_reference_by_its_help() -> None:
    for key, field in flat_fields().items():
        assert readme_row(key).endswith(f" | {field.help} |"), key


def flat_fields() -> dict:
    return {key: spec for key, spec in SCHEMA.items() if isinstance(spec, Field)}


def test_the_readme_keeps_the_two_commands() -> None:
    setup = ("python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"
             " && .venv/bin/mlcl-train --config configs/mlp_deep.yaml")
    assert f"\n{setup}\n" in README
    assert "\n.venv/bin/python -m pytest -q\n" in README


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_every_relative_link_points_to_a_file(page: str) -> None:
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    missing = [t for t in targets if "://" not in t and not (path.parent / t).exists()]
    assert not missing, missing
