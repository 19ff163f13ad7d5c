"""The README's reference names every config key and every model argument."""

from __future__ import annotations

from pathlib import Path

from mlcl_train.config import SCHEMA, Named
from mlcl_train.models import list_models, model_args

README = (Path(__file__).parent.parent / "README.md").read_text()


def keys(schema: dict, prefix: str = "") -> list[str]:
    out = []
    for key, spec in schema.items():
        if isinstance(spec, dict):
            out += keys(spec, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def test_every_config_key_is_in_the_reference() -> None:
    missing = [k for k in keys(SCHEMA) if f"`{k}`" not in README and k != "model"]
    assert not missing


def test_every_optimizer_and_scheduler_is_named() -> None:
    for section in (SCHEMA["train"]["optimizer"], SCHEMA["train"]["scheduler"]):
        assert isinstance(section, Named)
        assert all(f"`{name}`" in README for name in section.choices)


def test_every_model_and_argument_is_in_the_reference() -> None:
    for name in list_models():
        assert f"`{name}`" in README, name
        for arg in model_args(name):
            assert f"`{arg.name}`" in README, f"{name}.{arg.name}"
