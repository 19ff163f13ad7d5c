"""The training step, written once: the eager loop calls it per batch, train.cuda_graphs captures it.

    sums = Sums.zeros(device, len(weights))
    step = Step(model, optimizer, "cross_entropy", autocast(device, amp), weights, sums)
    step(x, y)        # forward under autocast, loss, backward, grad norms, optimizer step, the epoch's sums

The instruments around the step: autocast and the loss scaler (train.amp; a disabled GradScaler
passes everything through), the gradient norms of `weights` (train.log_grad_norms), and the sums
of loss and correct answers, which stay on the device (no wait per step) and which the loop reads
every so often to stop a run whose loss ran away. Nothing here reads a value back to the host, so
the same call runs eagerly and under torch.cuda.graph (training/cuda_graphs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mlcl_train.training.engine import loss_fn

LOSS_LIMIT = 1e6  # a mean loss above this has exploded (cross-entropy starts near 2.3)


def logged_weights(model: nn.Module, on: bool) -> dict[str, nn.Parameter]:
    """The weights (not biases or norms) whose gradient norms train.log_grad_norms records; {} when off."""
    return {name: p for name, p in model.named_parameters() if p.ndim >= 2} if on else {}


@dataclass
class Sums:
    """An epoch's running sums, on the device: loss times batch size, correct answers, each weight's grad norm."""

    loss: torch.Tensor
    correct: torch.Tensor
    grad_norms: torch.Tensor

    @classmethod
    def zeros(cls, device: torch.device, weights: int) -> "Sums":
        return cls(torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long),
                   torch.zeros(weights, device=device))

    def zero_(self) -> None:
        for total in (self.loss, self.correct, self.grad_norms):
            total.zero_()

    def within_limit(self, images: int) -> bool:
        """Whether the mean loss so far is finite and under LOSS_LIMIT (False for NaN); waits for the device."""
        return bool(self.loss.abs() <= LOSS_LIMIT * images)


class Step:
    """One training step: forward under autocast, loss, backward, gradient norms, optimizer step, the sums."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: str, amp: Any,
        weights: list[nn.Parameter], sums: Sums, scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        self.model, self.optimizer, self.loss, self.amp = model, optimizer, loss, amp  # amp: a context manager
        self.weights, self.sums = weights, sums
        self.scaler = scaler or torch.amp.GradScaler(enabled=False)  # fp16's loss scaler, else a pass-through

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with self.amp:
            out = self.model(x)
            loss = loss_fn(self.loss, out.float(), y)
        self.optimizer.zero_grad(set_to_none=True)  # under capture: backward allocates the grads in the graph's pool
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)  # the norms below are of the true gradients
        if self.weights:
            self.sums.grad_norms.add_(torch.stack([p.grad.detach().float().norm() for p in self.weights]))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.sums.loss.add_(loss.detach(), alpha=len(y))
        self.sums.correct.add_((out.detach().argmax(1) == y).sum())
