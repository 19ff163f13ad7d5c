"""train.ema: an exponential moving average of the weights, evaluated and saved in place of them.

    ema = Ema(model, decay=0.999)     # a copy of the model, in eval mode
    ema.update(model)                 # after each optimizer step: average <- average + (1 - d) * (weights - average)
    evaluate(ema.model, ...)          # validation, test, model.pt and best.pt use the average

The decay warms up as in tf.train.ExponentialMovingAverage: d = min(decay, (1 + n) / (10 + n)) after n
updates, so that a short run is not an average dominated by its random start. The batch-norm
statistics are averaged like the weights (torch.optim.swa_utils.AveragedModel's use_buffers); an
integer buffer (the batches counted) is copied. checkpoint.pt keeps the average and n, so a resumed
run goes on with the same average.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class Ema:
    """The averaged copy of a model and the number of updates it has had."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        for module in self.model.modules():
            if isinstance(module, nn.RNNBase):
                module.flatten_parameters()  # a copy's weights are apart; cuDNN wants them in one block
        pairs = list(zip(_tensors(self.model), _tensors(model), strict=True))
        floats = [pair for pair in pairs if pair[0].is_floating_point()]
        self._mine, self._theirs = [mine for mine, _ in floats], [theirs for _, theirs in floats]
        self._counts = [pair for pair in pairs if not pair[0].is_floating_point()]  # batch norm's batches seen

    def update(self, model: nn.Module) -> None:
        """One step of the average towards the model's weights and buffers now (no wait for the device)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            if self._mine:
                torch._foreach_lerp_(self._mine, self._theirs, 1.0 - d)
            for mine, theirs in self._counts:
                mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return {"weights": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["weights"])
        self.updates = int(state["updates"])


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    """A model's parameters and buffers, in a fixed order (the copy's line up with the original's)."""
    return [*model.parameters(), *model.buffers()]
