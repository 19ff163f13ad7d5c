"""TensorBoard event files in the run folder, for `train.tensorboard: true`.

    mlcl-train --config configs/cnn.yaml --set train.tensorboard=true
    tensorboard --logdir runs          # each run folder is a run; the HParams tab compares their configs

Per epoch: loss/<split> and acc/<split> (train, val, test), lr, seconds and, with
train.log_grad_norms, grad_norm/<layer>. When the run ends: its config as HParams, with the
final and best accuracies as the metrics. The training loop imports this module only when the
option is on, so a run without it never imports TensorBoard.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mlcl_train.core.errors import UserError
from mlcl_train.runs.store import Epoch, Summary, flatten

INSTALL = "pip install 'mlcl-train[tensorboard]'"
RESULTS = ("final_acc", "best_acc", "best_val_acc", "final_val_acc")  # summary keys shown as HParams metrics


def require() -> None:
    """A UserError when the tensorboard package is missing (checked before a run folder exists)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UserError(f"train.tensorboard: true needs the tensorboard package; install it with: {INSTALL} "
                        "(or set train.tensorboard: false)") from None


class Events:
    """The run's TensorBoard writer: a row of scalars per epoch, the HParams at the end."""

    def __init__(self, folder: Path, cfg: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.cfg = cfg

    def epoch(self, done: Epoch, norms: dict[str, float]) -> None:
        """One epoch as metrics.csv has it (and its gradient norms) as scalars at step `epoch`."""
        for split in ("train", "val", "test"):
            for what in ("loss", "acc"):
                value = getattr(done, f"{split}_{what}")
                if not math.isnan(value):  # no validation split: no val scalars
                    self.writer.add_scalar(f"{what}/{split}", float(value), done.epoch)
        self.writer.add_scalar("lr", float(done.lr), done.epoch)
        self.writer.add_scalar("seconds", float(done.seconds), done.epoch)
        for name, norm in norms.items():
            self.writer.add_scalar(f"grad_norm/{name}", norm, done.epoch)
        self.writer.flush()

    def close(self, summary: Summary) -> None:
        """The config as HParams with the run's results as metrics; then close the files."""
        from torch.utils.tensorboard.summary import hparams

        results = {key: getattr(summary, key) for key in RESULTS}
        metrics = {f"hparam/{key}": float(value) for key, value in results.items() if value is not None}
        params = {key: hparam_value(v) for key, v in flatten(self.cfg).items()}
        params["status"] = str(summary.status)
        experiment, start, end = hparams(params, metrics)
        writer = self.writer._get_file_writer()  # add_hparams would write into a new subfolder; keep one folder
        for proto in (experiment, start, end):
            writer.add_summary(proto)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, int(summary.epochs_done or 0))
        self.writer.close()


def hparam_value(value: Any) -> bool | int | float | str:
    """HParams take numbers, booleans and text: lists and null become their YAML-like text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "null" if value is None else str(value)
