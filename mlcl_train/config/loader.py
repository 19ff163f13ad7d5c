"""Loading a config: YAML files (with `extends`), --set and {dotted key: value} override the schema's defaults.

    cfg = load_config("configs/mlp_deep.yaml", sets=["train.epochs=3"])   # a frozen schema.Config
    cfg = load_config("mlp_deep", values={"model.hidden": [256]})          # a shipped config, by name
    to_yaml(cfg)                                                           # config.yaml of a run folder

Every key is checked (config/schema.py) before anything trains: an unknown key names the closest
valid one, a wrong type names the key, the value and the expected type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlcl_train.config.schema import Config, as_dict, resolve
from mlcl_train.core import shipped
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import read_text
from mlcl_train.core.safe_yaml import load_yaml
from mlcl_train.core.values import quote, suggest
from mlcl_train.models import anchor_model_file

NAMED_SECTIONS = ("model", "optimizer", "scheduler")  # sections picked by their `name` key


def load_config(
    path: str | Path, sets: list[str] | tuple[str, ...] = (), values: dict[str, Any] | None = None
) -> Config:
    """Read a config file (following `extends`), apply --set overrides, then `values` ({dotted key: value}),
    and return it resolved."""
    return resolve(with_values(read_raw(path, sets), values or {}))


def read_raw(path: str | Path, sets: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A config file or a shipped config (following `extends`) with --set overrides, not yet checked; `name`
    defaults to the stem."""
    path = find_config(path)
    keys = [item.partition("=")[0].strip() for item in sets]
    twice = next((k for k in keys if keys.count(k) > 1), None)
    if twice is not None:
        raise UserError(f"--set {twice}=... is given {keys.count(twice)} times and only one value can win; "
                        "give it once, or try several values with a sweep file (mlcl-train sweep, see sweeps/)")
    raw = _read_chain(path, ())
    for item in sorted(sets, key=lambda item: not _picks_name(item)):  # any order keeps every value
        raw = merge(raw, parse_set(item))
    if raw.get("name") is None:
        raw["name"] = path.stem
    return raw


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """raw with each {dotted key: value} merged in, as --set would."""
    for key in values:
        if not isinstance(key, str) or not key:
            raise UserError(f"config key {key!r}: keys are dotted names as strings, e.g. {{'model.hidden': [256]}}")
    for key, value in sorted(values.items(), key=lambda item: not _picks_name(item[0])):  # as --set
        raw = merge(raw, nest(key, value))
    return raw


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge override into base. A section whose `name` changes is replaced, not merged,
    so that switching `optimizer.name` from sgd to adam drops sgd's `momentum`."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if key in NAMED_SECTIONS and isinstance(old, str) and isinstance(value, dict):
            old = {"name": old}  # `optimizer: adam`, then `optimizer: {lr: 0.1}` stays adam
        both = isinstance(old, dict) and isinstance(value, dict)
        if both and not ("name" in old and "name" in value and old["name"] != value["name"]):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def parse_set(item: str) -> dict[str, Any]:
    """'train.optimizer.lr=0.05' -> {'train': {'optimizer': {'lr': 0.05}}}; the value is YAML."""
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise UserError(f"--set {quote(item)}: expected KEY=VALUE with a dotted key, e.g. --set train.epochs=3")
    value = load_yaml(text, f"--set {quote(item)}", in_file=False) if text.strip() else None
    return nest(key.strip(), value)


def nest(key: str, value: Any) -> dict[str, Any]:
    """'train.optimizer.lr', 0.05 -> {'train': {'optimizer': {'lr': 0.05}}}."""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _picks_name(item: str) -> bool:
    """Whether a --set picks a section by name (`train.optimizer=adam`, `model.name=cnn`): applied first, so that
    `--set train.optimizer.lr=0.05 --set train.optimizer=adam` keeps the lr whichever comes first."""
    key = item.partition("=")[0].strip().split(".")
    return key[-1] == "name" or key[-1] in NAMED_SECTIONS


def find_config(path: str | Path) -> Path:
    """The file a --config value names: the file itself; for a bare name (`mlp_deep`) NAME.yaml or
    configs/NAME.yaml here (a clone, or a folder made by `mlcl-train init`); else the shipped config."""
    path = Path(path)
    here = [path]
    if not path.suffix:
        here += [path.with_name(path.name + ".yaml")]
        here += [Path(folder) / f"{path}.yaml" for folder in shipped.FOLDERS if not path.is_absolute()]
    for candidate in here:
        if candidate.exists():
            return candidate
    found = shipped.find(path)
    if found is None:
        names = shipped.names()
        hint = suggest(path.stem, names) if names else "no configs are shipped with this installation"
        raise UserError(f"config file not found: {path}; name a YAML file or a shipped config ({hint}; "
                        "'mlcl-train init' copies them into a folder)")
    return found


def to_yaml(cfg: Config | dict[str, Any]) -> str:
    """A resolved config as a run folder's config.yaml holds it (plain YAML, the schema's order)."""
    return yaml.safe_dump(as_dict(cfg), sort_keys=False, default_flow_style=None, width=100)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; every way it can fail is one clear UserError."""
    if not path.exists():
        raise UserError(f"config file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; pass a YAML config file such as configs/mlp_deep.yaml")
    data = load_yaml(read_text(path), str(path))
    if data is None:
        raise UserError(f"{path} is empty; a config is a YAML mapping such as 'model: {{name: mlp}}'")
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a YAML mapping (key: value lines), not a {type(data).__name__}")
    return data


def _read_chain(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    real = path.resolve()
    if real in seen:
        chain = " -> ".join(p.name for p in (*seen, real))
        raise UserError(f"{path}: 'extends' makes a cycle: {chain}")
    data = anchor_model_file(read_yaml(path), path.parent)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise UserError(f"{path}: 'extends' must be a path to another config, got {quote(base)}")
    base_path = path.parent / base
    if not base_path.exists():  # a shipped config named from a user's own file
        base_path = shipped.find(base) or base_path
    if not base_path.exists():
        raise UserError(f"{path}: 'extends' names {base_path}, which does not exist")
    if base_path.is_dir():
        raise UserError(f"{path}: 'extends' names {base_path}, which is a directory; name a config file")
    if not base_path.is_file():
        raise UserError(f"{path}: 'extends' names {base_path}, which is not a regular file; name a config file")
    return merge(_read_chain(base_path, (*seen, real)), data)
