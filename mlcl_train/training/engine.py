"""What training and the read side share: the device, the model from a config, the loss, evaluation.

    device, note = resolve_device("auto")
    model = build_model(load_config("configs/mlp_deep.yaml")).to(device)
    loss, acc = evaluate(model, test_split, "cross_entropy", batch_size=1000)

train.py runs the epoch loop with these; eval, summary and the presentation rebuild models with
them, without importing the loop.
"""

from __future__ import annotations

import importlib
import io
import pickle
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mlcl_train.config.optim import OPTIMIZERS, SCHEDULERS, Algorithm, torch_arguments
from mlcl_train.config.schema import Choice, Config, as_dict, check_device
from mlcl_train.core.datasets import NUM_CLASSES
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import open_regular
from mlcl_train.data.loader import Split, eval_batches, num_batches
from mlcl_train.models import create_model, probe
from mlcl_train.training import optimizers


def resolve_device(name: str) -> tuple[torch.device, str | None]:
    """The torch device for a config's `device`, and a note when `auto` fell back to the CPU."""
    check_device(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), None
        if torch.backends.mps.is_available():
            return torch.device("mps"), None
        return torch.device("cpu"), "device: auto -> cpu (no CUDA or MPS device found)"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r} is not available: torch finds no CUDA GPU here; use --device cpu or auto")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UserError(
                f"device {name!r} is not available: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' is not available on this machine; use --device cpu or auto")
    return torch.device(name), None


def load_state(path: Path, then: str, map_location: str | torch.device = "cpu", data: bytes | None = None) -> Any:
    """torch.load of model.pt or checkpoint.pt (or `data`, its bytes read before), tensors and plain values only;
    anything else is one UserError.

    `then` ends the message: what to do instead. torch's own message is never shown: for a file
    that holds other objects it advises weights_only=False, which would run the file's code."""
    if data is None:
        with open_regular(path) as f:  # a FIFO or a device is an error, never a read that blocks
            return load_state(path, then, map_location, f.read())
    if not data:
        raise UserError(f"{path} is damaged (empty); {then}")
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        reason = "it holds objects other than tensors, which are not loaded since loading them could run code"
    except Exception:  # RuntimeError, EOFError, ValueError...: a truncated or foreign file
        reason = "truncated, or not a file that torch.save wrote"
    raise UserError(f"{path} is damaged ({reason}); {then}")


def build_model(cfg: Config) -> nn.Module:
    """The configured model, its weights drawn from the config's seed."""
    torch.manual_seed(cfg.seed)
    args = {k: v for k, v in as_dict(cfg.model).items() if k != "name"}
    model = create_model(cfg.model.name, **args)
    out = probe(model)
    if tuple(out.shape) != (2, NUM_CLASSES):
        raise UserError(
            f"model {cfg.model.name}: gives shape {tuple(out.shape)} for 2 images; expected (2, {NUM_CLASSES})"
        )
    return model.train()


def make_optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    """The configured optimizer over the model's parameters (its class from mlcl_train.config.optim)."""
    spec = cfg.train.optimizer
    return _build(OPTIMIZERS[spec.name], model.parameters(), spec, {}, eager=not cfg.train.compile)


def make_scheduler(cfg: Config, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    """The configured learning-rate scheduler, or None; a per-step one plans epochs x steps_per_epoch steps."""
    spec = cfg.train.scheduler
    if spec is None:
        return None
    t = cfg.train
    known = {"epochs": t.epochs, "lr": t.optimizer.lr, "total_steps": t.epochs * steps_per_epoch}
    if spec.name == "onecycle" and spec.pct_start * known["total_steps"] <= 1:  # torch divides by zero
        raise UserError(f"train.scheduler.pct_start {spec.pct_start} of {known['total_steps']} steps "
                        f"({t.epochs} epochs x {steps_per_epoch} batches) leaves no steps to rise; "
                        "raise pct_start or train more steps (a smaller train.batch_size)")
    return _build(SCHEDULERS[spec.name], optimizer, spec, known)


def per_step_scheduler(cfg: Config) -> bool:
    """Whether the configured scheduler steps after every optimizer step (onecycle), not once per epoch."""
    return cfg.train.scheduler is not None and SCHEDULERS[cfg.train.scheduler.name].per_step


def _build(algorithm: Algorithm, first: Any, section: Choice, known: dict[str, Any], eager: bool = False) -> Any:
    """The torch class named, built; eager: its variant that skips torch._dynamo (training/optimizers.py)."""
    module, _, name = algorithm.torch_class.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return (optimizers.eager(cls) if eager else cls)(first, **torch_arguments(algorithm, section, known))


def loss_fn(name: str, out: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean loss of a batch. mse compares the outputs with one-hot targets; smoothing: cross_entropy's
    label smoothing (training only)."""
    if name == "cross_entropy":
        return F.cross_entropy(out, y, label_smoothing=smoothing) if smoothing else F.cross_entropy(out, y)
    if name == "nll":
        return F.nll_loss(out, y)
    return F.mse_loss(out, F.one_hot(y, out.shape[1]).to(out.dtype))


def output_kind(out: torch.Tensor) -> str:
    """'softmax', 'log_softmax' or 'logits': what a batch of model outputs (N, classes) looks like."""
    ones = torch.ones(len(out), device=out.device)
    if bool((out >= 0).all()) and torch.allclose(out.sum(1), ones, atol=1e-3):
        return "softmax"
    if bool((out <= 0).all()) and torch.allclose(out.exp().sum(1), ones, atol=1e-3):
        return "log_softmax"
    return "logits"


def as_probabilities(out: torch.Tensor) -> torch.Tensor:
    """Model outputs (N, classes) as probabilities, whether they are logits, softmax or log-softmax."""
    kind = output_kind(out)
    return out if kind == "softmax" else out.exp() if kind == "log_softmax" else out.softmax(1)


def model_output_kind(model: nn.Module) -> str:
    """output_kind of the model's outputs for a few random images (the model is left in the mode it was in)."""
    return output_kind(probe(model, 4, random=True).float())


def pitfalls(loss: str, kind: str) -> list[str]:
    """Warnings about a loss that does not fit the model's output kind (see model_output_kind)."""
    probs, log_probs = kind == "softmax", kind == "log_softmax"
    notes = []
    if loss == "cross_entropy" and (probs or log_probs):
        name = "softmax" if probs else "log-softmax"
        floor = "the loss cannot go below about 1.4612 and " if probs else ""
        notes.append(
            f"warning: the model ends in {name}, but cross_entropy applies log-softmax itself: {floor}"
            "gradients shrink; use output: logits (or train.loss: nll with output: log_softmax)"
        )
    if loss == "nll" and not log_probs:
        notes.append(
            "warning: train.loss nll expects log-probabilities, but the model's output is not log-softmax;"
            " use output: log_softmax, or train.loss: cross_entropy with logits"
        )
    if loss == "mse":
        notes.append(
            f"warning: train.loss mse compares the {NUM_CLASSES} outputs with one-hot targets (1 for the true class, "
            "0 elsewhere); for classification, cross_entropy usually learns faster"
        )
    return notes


@contextmanager
def host_waits(device: torch.device) -> Iterator[None]:
    """Marks where the loop waits for the device on purpose; allowed under torch.cuda.set_sync_debug_mode("error")."""
    if device.type != "cuda":
        yield
        return
    mode = torch.cuda.get_sync_debug_mode()
    if mode == 0:  # the usual case: setting the mode, even to 0, makes torch warn that it is a prototype
        yield
        return
    torch.cuda.set_sync_debug_mode(0)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(mode)


_AMP_WHERE = {
    "bf16": "applies on CUDA and on CPUs with bf16 instructions (AVX512-BF16 or AMX)",
    "fp16": "applies on CUDA only",
    "auto": "found no bf16 on this device",
}


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it bf16 is emulated and slower."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch's own CPU probes (private, hence getattr)
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def amp_dtype(device: torch.device, amp: str | None) -> torch.dtype | None:
    """The autocast dtype for train.amp on this device, or None to run in float32."""
    if amp is None:
        return None
    if device.type == "cuda" and amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cuda":
        return torch.bfloat16 if amp == "bf16" else torch.float16
    if device.type == "cpu" and amp in ("bf16", "auto") and cpu_has_bf16():
        return torch.bfloat16
    return None


def amp_note(device: torch.device, amp: str) -> str:
    """The log line that says in which precision a run with train.amp set computes."""
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return f"note: train.amp {amp} {_AMP_WHERE[amp]}; training in float32 on {device.type}"
    name = "bf16" if dtype == torch.bfloat16 else "fp16"
    return f"amp: {amp} -> {name} autocast on {device.type} (float32 weights, optimizer and loss sums)"


def autocast(device: torch.device, amp: str | None) -> Any:
    """Mixed precision where train.amp applies; else a no-op context (cheaper per step than a disabled autocast)."""
    dtype = amp_dtype(device, amp)
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def evaluate(
    model: nn.Module, split: Split, loss: str, batch_size: int, progress: bool = False, amp: str | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy (%) over a split, in inference mode."""
    from tqdm.auto import tqdm  # a widget in a notebook, text on stderr elsewhere

    loss_sum = torch.zeros((), device=split.labels.device)
    correct = torch.zeros((), device=split.labels.device, dtype=torch.long)
    model.eval()
    with torch.inference_mode(), autocast(split.labels.device, amp):
        for x, y in tqdm(
            eval_batches(split, batch_size),
            total=num_batches(len(split), batch_size),
            file=sys.stderr,
            disable=not progress,
        ):
            out = model(x).float()
            loss_sum += loss_fn(loss, out, y) * len(y)
            correct += (out.argmax(1) == y).sum()
    model.train()
    with host_waits(split.labels.device):
        return loss_sum.item() / len(split), 100.0 * correct.item() / len(split)
