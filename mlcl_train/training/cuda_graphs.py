"""The training step as one CUDA graph (train.cuda_graphs): captured once per run, replayed per full batch.

    graph = GraphStep(model, optimizer, "cross_entropy", amp=None, weights=[])
    sums = graph.begin_epoch()   # a step.Sums, zeroed; the learning rates copied to the device
    graph(x, y)    # the first call captures; each call copies the batch into static buffers and replays

What is captured is training/step.py's Step, the one the eager loop calls, on static buffers.

For a small model, a step is ~100 short kernels, each launched from Python: on a fast GPU the
launches, not the arithmetic, set the pace. A replay launches them all at once. What a graph
needs, and how it gets it:
- fixed memory: the batch is copied into static buffers; the optimizer's state exists before capture;
- no reads on the host: SGD runs fused and Adam/AdamW capturable, each reading its learning rate
  from a device tensor that begin_epoch fills from the float the scheduler sets;
- warm-up that changes nothing: weights, buffers, optimizer state, sums and the CUDA RNG are put back;
- dropout: torch's default CUDA generator hands each replay fresh philox offsets, the same ones an
  eager step would have used.
Checkpoints are written as without graphs (see _eager_format), so either kind of run resumes the other.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from mlcl_train.training.engine import amp_dtype, host_waits
from mlcl_train.training.step import Step, Sums

CAPTURABLE = ("sgd", "adam", "adamw")  # torch steps these without reading the GPU, with a learning rate on it
WARMUP = 3  # eager steps before capture, on the capture stream (torch's whole-network example uses 3)
FLAGS = ("capturable", "fused", "foreach")  # optimizer flags a capture changes; checkpoints keep the built ones


def why_not(cfg: dict[str, Any], device: torch.device) -> str | None:
    """Why train.cuda_graphs cannot apply to this run (the log's note), or None when it applies."""
    t = cfg["train"]
    if device.type != "cuda":
        return f"train.cuda_graphs applies on CUDA only; training without graphs on {device.type}"
    if t["optimizer"]["name"] not in CAPTURABLE:
        return (f"train.cuda_graphs supports the optimizers {', '.join(CAPTURABLE)}, not {t['optimizer']['name']}; "
                "training without graphs")
    if amp_dtype(device, t["amp"]) == torch.float16:
        return ("train.cuda_graphs does not apply with train.amp fp16 (its loss scaler reads the GPU after every "
                "step); training without graphs (bf16 works with graphs)")
    if t["compile"]:
        return "train.cuda_graphs does not apply with train.compile; training the compiled model without graphs"
    return None


class GraphStep:
    """The training step (step.Step: forward, loss, backward, optimizer step, the epoch's sums) as a CUDA graph."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: str, amp: str | None,
        weights: list[nn.Parameter],
    ) -> None:
        self.model, self.optimizer = model, optimizer
        self.device = next(model.parameters()).device
        dtype = amp_dtype(self.device, amp)  # no cast cache below: cached casts would outlive the capture
        autocast = nullcontext() if dtype is None else torch.autocast("cuda", dtype, cache_enabled=False)
        self.sums = Sums.zeros(self.device, len(weights))
        self.step = Step(model, optimizer, loss, autocast, weights, self.sums)
        self.lrs = [torch.full((), float(g["lr"]), device=self.device) for g in optimizer.param_groups]
        self.graph: torch.cuda.CUDAGraph | None = None
        self.x = self.y = torch.empty(0)
        self.built_flags: list[dict[str, Any]] | None = None  # the optimizer's flags before capture changed them
        optimizer.register_state_dict_post_hook(self._eager_format)

    def begin_epoch(self) -> Sums:
        """Zero the epoch's sums and copy the learning rates in; returns the sums each replay adds to."""
        self.sums.zero_()
        for lr, group in zip(self.lrs, self.optimizer.param_groups, strict=True):
            lr.fill_(float(group["lr"]))  # a kernel, no copy from the host
        return self.sums

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.graph is None:
            self.capture(x, y)
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()

    def capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Warm up, capture one step on a side stream, and put back everything the warm-up changed."""
        groups = self.optimizer.param_groups
        with host_waits(self.device):  # capture synchronises on purpose, once per run
            self._make_capturable()
            self.x, self.y = x.clone(), y.clone()
            saved = {key: t.clone() for key, t in self._written().items()}
            rng = torch.cuda.get_rng_state(self.device)
            floats = [g["lr"] for g in groups]
            for group, lr in zip(groups, self.lrs, strict=True):
                group["lr"] = lr  # the captured optimizer reads it from the device
            stream = torch.cuda.Stream(self.device)  # warm-up and capture on one stream (cuBLAS caches per stream)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            try:
                with torch.cuda.stream(stream), warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*capturable=True.*")  # warm-up runs uncaptured
                    for _ in range(WARMUP):
                        self.step(self.x, self.y)
                torch.cuda.current_stream(self.device).wait_stream(stream)
                self.optimizer.zero_grad(set_to_none=True)  # backward allocates the grads from the graph's pool
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=stream):
                    self.step(self.x, self.y)  # the eager loop's step, on the static batch, adding to self.sums
            finally:
                for group, lr in zip(groups, floats, strict=True):
                    group["lr"] = lr  # schedulers and checkpoints see floats, as without graphs
            with torch.no_grad():
                for key, t in self._written().items():
                    if key in saved:
                        t.copy_(saved[key])
                    else:  # created by the warm-up: zero momentum (SGD, no dampening), zero Adam moments and
                        t.zero_()  # step count are what these optimizers start from
            torch.cuda.set_rng_state(rng, self.device)
        self.graph = graph

    def _make_capturable(self) -> None:
        """SGD fused, Adam/AdamW capturable with their step counts on the device; the built flags are kept."""
        groups = self.optimizer.param_groups
        if self.built_flags is None:
            self.built_flags = [{k: g[k] for k in FLAGS if k in g} for g in groups]
        for group in groups:
            if "capturable" in group:
                group["capturable"] = True
            else:
                group.update(fused=True, foreach=False)
        for state in self.optimizer.state.values():
            if "step" in state:
                state["step"] = state["step"].to(self.device, torch.float32)

    def _written(self) -> dict[Any, torch.Tensor]:
        """Every tensor a step writes besides the grads: weights, buffers, optimizer state, the sums."""
        found: dict[Any, torch.Tensor] = {("model", k): v for k, v in self.model.state_dict().items()}
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        for i, p in enumerate(params):
            for key, value in self.optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor):
                    found[("optimizer", i, key)] = value
        for i, total in enumerate((self.sums.loss, self.sums.correct, self.sums.grad_norms)):
            found[("sum", i)] = total
        return found

    def _eager_format(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any] | None:
        """The optimizer's state as a run without graphs saves it: the built flags, step counts on the CPU."""
        if self.built_flags is None:
            return None
        state_dict["param_groups"] = [{**g, **flags} for g, flags in zip(state_dict["param_groups"], self.built_flags,
                                                                         strict=True)]
        state_dict["state"] = {  # new dicts: the ones given are the optimizer's live state
            k: {**v, "step": v["step"].cpu()} if "step" in v else v for k, v in state_dict["state"].items()
        }
        return state_dict
