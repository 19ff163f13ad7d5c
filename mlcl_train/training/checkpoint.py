"""checkpoint.pt, model.pt and best.pt: written at the end of each epoch, read back to resume.

    save(run, s, epoch, rows, best=True)      # checkpoint.pt, then model.pt, then best.pt
    ckpt = read(run.path, cfg)                # checked against config.yaml and the epochs to train
    load(s, ckpt, run.path / "checkpoint.pt") # model, optimizer, scheduler, average, random state into a Setup

checkpoint.pt holds the model, the optimizer, the scheduler, the average of the weights (train.ema),
the random state, the resolved config (so that resume names the keys an edit changed) and the
epoch's CSV rows (so that resume can write rows a kill cut off between the checkpoint and the
CSVs). model.pt and best.pt hold the weights the epoch was evaluated with: the average, where
train.ema is on. Loading reads tensors only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from mlcl_train.config.loader import to_yaml
from mlcl_train.config.schema import Config, flatten
from mlcl_train.core.errors import UserError, first_line
from mlcl_train.runs.store import Run
from mlcl_train.training.engine import load_state, per_step_scheduler
from mlcl_train.training.setup import Setup

MAY_CHANGE = (  # config keys a resume may change: none of them changes what is learned
    "name", "device", "train.epochs", "eval.batch_size", "train.compile", "train.cuda_graphs", "train.threads",
)


def save(run: Run, s: Setup, epoch: int, rows: dict[str, list[Any]], best: bool) -> None:
    """The epoch's checkpoint.pt, then model.pt, then (when this epoch is the best so far) best.pt."""
    state = {
        "epoch": epoch,
        "model": s.model.state_dict(),
        "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict() if s.scheduler is not None else {},
        "rng_cpu": torch.get_rng_state(),
        "config": to_yaml(s.cfg),  # so that resume can name the keys of an edited config.yaml
    }
    if s.ema is not None:
        state["ema"] = s.ema.state_dict()
    if s.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(s.device)
    state["rows"] = rows  # so that resume can write rows a kill cut off between the checkpoint and the CSVs
    run.save_torch("checkpoint.pt", state)
    weights = s.evaluated.state_dict()  # what the epoch's accuracy was measured with (train.ema: the average)
    run.save_torch("model.pt", weights)
    if best:
        run.save_torch("best.pt", weights)


def read(folder: Path, cfg: Config) -> dict[str, Any]:
    """The run's checkpoint, checked against its config.yaml (cfg) and the epochs to train."""
    path = folder / "checkpoint.pt"
    again = f"start it again with: mlcl-train --config {folder / 'config.yaml'}"
    if not path.is_file():
        raise UserError(f"{folder} has no checkpoint.pt (it stopped before its first epoch ended); {again}")
    ckpt = _read(path, again)
    differs = _changed_keys(ckpt, cfg)
    changed = [key for key in differs if key not in MAY_CHANGE]
    if changed:
        raise UserError(f"{path} does not match config.yaml ({', '.join(changed)} changed); "
                        "undo the edit, or train the edited config as a new run with --config")
    if "train.epochs" in differs and per_step_scheduler(cfg):
        raise UserError(f"{folder} trains with train.scheduler {cfg.train.scheduler.name}, whose one cycle spans the "
                        "run's train.epochs; it cannot be extended (no --epochs); train a new run with more epochs")
    if ckpt["epoch"] >= cfg.train.epochs:
        raise UserError(f"{folder} has already trained {ckpt['epoch']} of {cfg.train.epochs} epochs; "
                        "pass --epochs N to extend it")
    return ckpt


def _read(path: Path, again: str) -> dict[str, Any]:
    """checkpoint.pt as written by save, or a UserError that says it is damaged."""
    ckpt = load_state(path, f"it cannot be resumed; {again}")
    if not (isinstance(ckpt, dict) and type(ckpt.get("epoch")) is int and ckpt["epoch"] >= 1
            and isinstance(ckpt.get("model"), dict) and isinstance(ckpt.get("optimizer"), dict)
            and isinstance(ckpt.get("rng_cpu"), torch.Tensor)):
        raise UserError(f"{path} is damaged (it is not a checkpoint written by mlcl-train); {again}")
    return ckpt


def _changed_keys(ckpt: dict[str, Any], cfg: Config) -> list[str]:
    """Dotted config keys whose value differs between the checkpoint's config and cfg (keys in both)."""
    saved = ckpt.get("config")
    if not isinstance(saved, str):
        return []  # a checkpoint from before configs were saved in it: load checks what it can
    try:
        old = flatten(yaml.safe_load(saved))
    except (yaml.YAMLError, AttributeError):
        return []
    new = flatten(yaml.safe_load(to_yaml(cfg)))  # the same round trip as the saved one
    return [key for key in new if key in old and old[key] != new[key]]


def load(s: Setup, ckpt: dict[str, Any], path: Path) -> None:
    """The checkpoint's model, optimizer, scheduler, random state and average; a mismatch is a UserError."""
    try:
        s.model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        reason = first_line(err)
        raise UserError(f"{path} does not match config.yaml (the model's weights differ: {reason})") from None
    try:
        s.optimizer.load_state_dict(ckpt["optimizer"])
        if s.scheduler is not None and ckpt.get("scheduler"):
            s.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng_cpu"])
        if s.device.type == "cuda" and "rng_cuda" in ckpt:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], s.device)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise UserError(f"{path} does not match config.yaml (the optimizer or scheduler state differs: "
                        f"{type(err).__name__}); undo the edit, or train the edited config as a new run") from None
    if s.ema is not None:
        _load_average(s, ckpt.get("ema"), path)
    # an optimizer of another kind loads, then fails at its first step (KeyError: 'betas'): its settings are missing
    if any(set(s.optimizer.defaults) - set(group) for group in s.optimizer.param_groups):
        raise UserError(f"{path} does not match config.yaml (the optimizer changed); "
                        "undo the edit, or train the edited config as a new run")


def _load_average(s: Setup, state: Any, path: Path) -> None:
    """train.ema's average from the checkpoint; one without it (trained before train.ema was set) is a UserError."""
    if not isinstance(state, dict):
        raise UserError(f"{path} has no average of the weights: the run was trained without train.ema; "
                        "set train.ema back to 0 in its config.yaml, or train the config as a new run with --config")
    try:
        s.ema.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise UserError(f"{path} is damaged (its average of the weights does not load: {type(err).__name__}); "
                        "train the config as a new run with --config") from None


def restore_rows(run: Run, ckpt: dict[str, Any]) -> None:
    """On resume: make each CSV end with the checkpoint's row of its epoch (dropping later ones)."""
    for name, (columns, row) in ckpt.get("rows", {}).items():
        run.keep_rows(name, ckpt["epoch"] - 1)
        run.append_row(name, columns, row)
