"""What a run trains with, built from a resolved config before any run folder exists.

    s = setup(load_config("configs/cnn.yaml"))    # device, model, optimizer, scheduler, splits, log notes
    s.model, s.train, s.notes

Everything that can fail on bad input fails here (the device, the model, the data, TensorBoard's
package), so that a run folder is made only for a run that can start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from mlcl_train.config.schema import Config
from mlcl_train.data.augment import Augmenter, enabled
from mlcl_train.data.loader import STATS, Split, load_splits, num_batches
from mlcl_train.training.cuda_graphs import GraphStep, why_not
from mlcl_train.training.ema import Ema
from mlcl_train.training.engine import (
    amp_note,
    build_model,
    make_optimizer,
    make_scheduler,
    model_output_kind,
    pitfalls,
    resolve_device,
)
from mlcl_train.training.step import logged_weights


@dataclass
class Setup:
    """Everything a run trains with."""

    cfg: Config
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train: Split
    test: Split
    notes: list[str] = field(default_factory=list)  # lines for the log before epoch 1
    graph: GraphStep | None = None  # train.cuda_graphs where it applies
    val: Split | None = None  # held out of the training images (data.val_split)
    events: Any = None  # an events.Events (TensorBoard files) when train.tensorboard is on
    ema: Ema | None = None  # train.ema: the average of the weights, evaluated and saved in their place

    @property
    def evaluated(self) -> nn.Module:
        """The model that validation, test, model.pt and best.pt use: the average (train.ema), else the model."""
        return self.model if self.ema is None else self.ema.model


def setup(cfg: Config, data_loader: Callable[..., tuple[Split, Split | None, Split]] = load_splits) -> Setup:
    """Check the device, build the model and load the data: everything that can fail before a run folder exists.

    data_loader(dataset, root, device, train_subset, val_split, seed) gives the train, validation
    (or None) and test splits (a sweep's worker passes a cached one)."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device, note = resolve_device(cfg.device)
    notes = [note] if note else []
    model = build_model(cfg)
    notes += pitfalls(cfg.train.loss, model_output_kind(model))
    t = cfg.train
    if t.amp:
        notes.append(amp_note(device, t.amp))
    graphs = _graphs(cfg, device, notes)
    model = model.to(device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if t.tensorboard:
        from mlcl_train.training.tensorboard import require

        require()  # before any run folder exists
    train_split, val_split, test_split = _splits(cfg, device, data_loader)
    optimizer = make_optimizer(cfg, model)
    weights = list(logged_weights(model, t.log_grad_norms).values())
    graph = GraphStep(model, optimizer, t.loss, t.amp, weights, t.label_smoothing) if graphs else None
    scheduler = make_scheduler(cfg, optimizer, num_batches(len(train_split), t.batch_size))
    ema = Ema(model, t.ema) if t.ema else None
    if ema is not None:
        notes.append(f"ema: validation, test, model.pt and best.pt use an average of the weights (decay {t.ema})")
    return Setup(cfg, device, model, optimizer, scheduler, train_split, test_split, notes, graph, val_split, ema=ema)


def _graphs(cfg: Config, device: torch.device, notes: list[str]) -> bool:
    """Whether train.cuda_graphs applies; when it is on, the log says so, or why not."""
    if not cfg.train.cuda_graphs:
        return False
    no_graphs = why_not(cfg, device)
    notes.append("cuda graphs: each full training batch replays one captured CUDA graph of the whole step"
                 if no_graphs is None else f"note: {no_graphs}")
    return no_graphs is None


def _splits(
    cfg: Config, device: torch.device, data_loader: Callable[..., tuple[Split, Split | None, Split]]
) -> tuple[Split, Split | None, Split]:
    """The train, validation (or None) and test splits on the device, channels last where the model is."""
    data = cfg.data
    splits = data_loader(data.dataset, data.root, device, data.train_subset, data.val_split, cfg.seed)
    if not cfg.train.channels_last:
        return splits
    return tuple(  # new Splits: the loader's may be shared by the next run
        None if split is None else Split(split.images.contiguous(memory_format=torch.channels_last), split.labels)
        for split in splits
    )


def augmenter(s: Setup, epoch: int) -> Augmenter | None:
    """The epoch's augmentation (data.augment), seeded by the run's seed and the epoch; None when off."""
    spec = s.cfg.data.augment
    if not enabled(spec):
        return None
    mean, std = STATS[s.cfg.data.dataset]
    return Augmenter(spec, background=-mean / std, device=s.device, seed=(s.cfg.seed * 100_003 + epoch) ^ 0x5EED)
