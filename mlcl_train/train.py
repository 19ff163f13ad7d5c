"""Training: build everything from a resolved config, run the epoch loop, keep the run folder whole.

    run = train(load_config("configs/mlp_deep.yaml"), runs_dir="runs", progress=True)

Per epoch the log prints the homework's four lines; the run folder gets a metrics row, the
weights and a checkpoint. Ctrl-C or SIGTERM stops after writing what is finished; a NaN
loss stops the run as diverged.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from mlcl_train import __version__
from mlcl_train.config import load_config, to_yaml
from mlcl_train.data import Split, eval_batches, load_data, num_batches, train_batches
from mlcl_train.errors import UserError
from mlcl_train.models import create_model
from mlcl_train.runs import METRICS, Run, read_csv, read_summary

CHECK_EVERY = 100  # steps between NaN checks (each one waits for the device: the loop's only wait on CUDA)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived; exit_code is 130 or 143."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class Setup:
    """Everything a run trains with."""

    cfg: dict[str, Any]
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train: Split
    test: Split
    notes: list[str] = field(default_factory=list)  # lines for the log before epoch 1


# ---------------------------------------------------------------- building


def resolve_device(name: str) -> tuple[torch.device, str | None]:
    """The torch device for a config's `device`, and a note when `auto` fell back to the CPU."""
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
            raise UserError(f"device {name!r} is not available: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' is not available on this machine; use --device cpu or auto")
    return torch.device(name), None


def build_model(cfg: dict[str, Any]) -> nn.Module:
    """The configured model, its weights drawn from the config's seed."""
    torch.manual_seed(cfg["seed"])
    args = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = create_model(cfg["model"]["name"], **args)
    with torch.no_grad():
        out = model.eval()(torch.zeros(2, 1, 28, 28))
    if tuple(out.shape) != (2, 10):
        raise UserError(f"model {cfg['model']['name']}: gives shape {tuple(out.shape)} for 2 images; expected (2, 10)")
    return model.train()


def make_optimizer(cfg: dict[str, Any], model: nn.Module) -> torch.optim.Optimizer:
    args = dict(cfg["train"]["optimizer"])
    name = args.pop("name")
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta, "adagrad": torch.optim.Adagrad}
    return classes[name](model.parameters(), **args)


def make_scheduler(cfg: dict[str, Any], optimizer: torch.optim.Optimizer) -> Any:
    spec = cfg["train"]["scheduler"]
    if spec is None:
        return None
    args = {k: v for k, v in spec.items() if k != "name"}
    sched = torch.optim.lr_scheduler
    if spec["name"] == "step":
        return sched.StepLR(optimizer, **args)
    if spec["name"] == "multistep":
        return sched.MultiStepLR(optimizer, **args)
    if spec["name"] == "exponential":
        return sched.ExponentialLR(optimizer, **args)
    t_max = args["t_max"] or cfg["train"]["epochs"]
    return sched.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=args["eta_min"])


def loss_fn(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss of a batch. mse compares the outputs with one-hot targets."""
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    if name == "nll":
        return F.nll_loss(out, y)
    return F.mse_loss(out, F.one_hot(y, out.shape[1]).to(out.dtype))


def pitfalls(cfg: dict[str, Any], model: nn.Module) -> list[str]:
    """Warnings about a loss that does not fit the model's output, found by probing the model."""
    with torch.no_grad():
        kind = output_kind(model.eval()(torch.randn(4, 1, 28, 28)).float())
    model.train()
    probs, log_probs = kind == "softmax", kind == "log_softmax"
    loss = cfg["train"]["loss"]
    notes = []
    if loss == "cross_entropy" and (probs or log_probs):
        kind = "softmax" if probs else "log-softmax"
        floor = "the loss cannot go below about 1.4612 and " if probs else ""
        notes.append(
            f"warning: the model ends in {kind}, but cross_entropy applies log-softmax itself: {floor}"
            "gradients shrink; use output: logits (or train.loss: nll with output: log_softmax)"
        )
    if loss == "nll" and not log_probs:
        notes.append(
            "warning: train.loss nll expects log-probabilities, but the model's output is not log-softmax;"
            " use output: log_softmax, or train.loss: cross_entropy with logits"
        )
    if loss == "mse":
        notes.append(
            "warning: train.loss mse compares the 10 outputs with one-hot targets (1 for the true class, 0 elsewhere);"
            " for classification, cross_entropy usually learns faster"
        )
    return notes


def output_kind(out: torch.Tensor) -> str:
    """'softmax', 'log_softmax' or 'logits': what a batch of model outputs (N, classes) looks like."""
    ones = torch.ones(len(out), device=out.device)
    if bool((out >= 0).all()) and torch.allclose(out.sum(1), ones, atol=1e-3):
        return "softmax"
    if bool((out <= 0).all()) and torch.allclose(out.exp().sum(1), ones, atol=1e-3):
        return "log_softmax"
    return "logits"


def setup(cfg: dict[str, Any]) -> Setup:
    """Check the device, build the model and load the data: everything that can fail before a run folder exists."""
    device, note = resolve_device(cfg["device"])
    notes = [note] if note else []
    model = build_model(cfg)
    notes += pitfalls(cfg, model)
    t = cfg["train"]
    if t["amp"]:
        notes.append(_amp_note(device, t["amp"]))
    model = model.to(device)
    if t["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    data = cfg["data"]
    train_split, test_split = load_data(data["dataset"], data["root"], device, data["train_subset"])
    if t["channels_last"]:
        for split in (train_split, test_split):
            split.images = split.images.contiguous(memory_format=torch.channels_last)
    optimizer = make_optimizer(cfg, model)
    return Setup(cfg, device, model, optimizer, make_scheduler(cfg, optimizer), train_split, test_split, notes)


# ---------------------------------------------------------------- one epoch


def train_epoch(s: Setup, step_model: nn.Module, epoch: int, progress: bool) -> dict[str, float]:
    """One pass over the shuffled training split; returns mean loss, accuracy and per-layer grad norms."""
    from tqdm import tqdm

    t = s.cfg["train"]
    model, n = s.model.train(), len(s.train)
    loss_sum = torch.zeros((), device=s.device)  # accumulated on the device: no sync per step
    correct = torch.zeros((), device=s.device, dtype=torch.long)
    weights = {name: p for name, p in model.named_parameters() if p.ndim >= 2} if t["log_grad_norms"] else {}
    grad_sums = torch.zeros(len(weights), device=s.device)
    autocast = _autocast(s.device, t["amp"])
    scaler = torch.amp.GradScaler("cuda") if t["amp"] == "fp16" and s.device.type == "cuda" else None
    bar = tqdm(total=num_batches(n, t["batch_size"]), file=sys.stderr, disable=not progress, mininterval=0.5)
    for step, (x, y) in enumerate(train_batches(s.train, t["batch_size"], seed=s.cfg["seed"] * 100_003 + epoch), 1):
        with autocast:
            out = step_model(x)
            loss = loss_fn(t["loss"], out.float(), y)
        s.optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()
            scaler.unscale_(s.optimizer)
        if weights:
            grad_sums += torch.stack([p.grad.detach().float().norm() for p in weights.values()])
        if scaler is None:
            s.optimizer.step()
        else:
            scaler.step(s.optimizer)
            scaler.update()
        loss_sum.add_(loss.detach(), alpha=len(y))
        correct.add_((out.detach().argmax(1) == y).sum())
        bar.update()
        if step % CHECK_EVERY == 0:
            with host_waits(s.device):
                if not torch.isfinite(loss_sum):
                    break
    bar.close()
    with host_waits(s.device):
        train_loss, right, norms = loss_sum.item(), correct.item(), dict(zip(weights, (grad_sums / step).tolist()))
    if not math.isfinite(train_loss):
        raise Diverged
    return {"train_loss": train_loss / n, "train_acc": 100.0 * right / n, "grad_norms": norms}


def evaluate(model: nn.Module, split: Split, loss: str, batch_size: int, progress: bool = False,
             amp: str | None = None) -> tuple[float, float]:
    """Mean loss and accuracy (%) over a split, in inference mode."""
    from tqdm import tqdm

    loss_sum = torch.zeros((), device=split.labels.device)
    correct = torch.zeros((), device=split.labels.device, dtype=torch.long)
    model.eval()
    with torch.inference_mode(), _autocast(split.labels.device, amp):
        for x, y in tqdm(eval_batches(split, batch_size), total=num_batches(len(split), batch_size),
                         file=sys.stderr, disable=not progress):
            out = model(x).float()
            loss_sum += loss_fn(loss, out, y) * len(y)
            correct += (out.argmax(1) == y).sum()
    model.train()
    with host_waits(split.labels.device):
        return loss_sum.item() / len(split), 100.0 * correct.item() / len(split)


@contextmanager
def host_waits(device: torch.device) -> Iterator[None]:
    """Marks where the loop waits for the device on purpose; allowed under torch.cuda.set_sync_debug_mode("error")."""
    if device.type != "cuda":
        yield
        return
    mode = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(0)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(mode)


_AMP_WHERE = {"bf16": "applies on CUDA and on CPUs with bf16 instructions (AVX512-BF16 or AMX)",
              "fp16": "applies on CUDA only", "auto": "found no bf16 on this device"}


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it bf16 is emulated and slower."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch's own CPU probes (private, hence getattr)
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def _amp_dtype(device: torch.device, amp: str | None) -> torch.dtype | None:
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


def _amp_note(device: torch.device, amp: str) -> str:
    """The log line that says in which precision a run with train.amp set computes."""
    dtype = _amp_dtype(device, amp)
    if dtype is None:
        return f"note: train.amp {amp} {_AMP_WHERE[amp]}; training in float32 on {device.type}"
    name = "bf16" if dtype == torch.bfloat16 else "fp16"
    return f"amp: {amp} -> {name} autocast on {device.type} (float32 weights, optimizer and loss sums)"


def _autocast(device: torch.device, amp: str | None) -> Any:
    """Mixed precision where train.amp applies; otherwise a no-op context (cheaper per step than a disabled autocast)."""
    dtype = _amp_dtype(device, amp)
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


# ---------------------------------------------------------------- the run


def train(cfg: dict[str, Any], runs_dir: str | Path = "runs", progress: bool = False) -> tuple[Run, dict[str, Any]]:
    """Train a resolved config into a new run folder; returns the run and its summary."""
    s = setup(cfg)
    run = Run.create(runs_dir, cfg["name"])
    run.write_text("config.yaml", to_yaml(cfg))
    summary = _new_summary(s, run)
    run.write_json("summary.json", summary)
    return run, fit(s, run, summary, start_epoch=1, progress=progress)


def resume(run_path: str | Path, epochs: int | None = None, progress: bool = False) -> tuple[Run, dict[str, Any]]:
    """Continue a stopped run from its last finished epoch, in the same folder."""
    run = Run(Path(run_path))
    if not (run.path / "config.yaml").is_file():
        raise UserError(f"{run.path} is not a run folder (no config.yaml); pass a folder under runs/")
    summary = read_summary(run.path) or {}
    if summary.get("status") == "running" and _alive(summary):
        raise UserError(f"{run.path} is still running (pid {summary['pid']}); wait for it or stop it first")
    cfg = load_config(run.path / "config.yaml", [f"train.epochs={epochs}"] if epochs else [])
    ckpt_path = run.path / "checkpoint.pt"
    if not ckpt_path.is_file():
        raise UserError(f"{run.path} has no checkpoint.pt (it stopped before its first epoch ended); start it again with --config")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    done = int(ckpt["epoch"])
    if done >= cfg["train"]["epochs"]:
        raise UserError(f"{run.path} has already trained {done} of {cfg['train']['epochs']} epochs; pass --epochs N to extend it")
    s = setup(cfg)
    s.model.load_state_dict(ckpt["model"])
    s.optimizer.load_state_dict(ckpt["optimizer"])
    if s.scheduler is not None and ckpt.get("scheduler"):
        s.scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng_cpu"])
    if s.device.type == "cuda" and "rng_cuda" in ckpt:
        torch.cuda.set_rng_state(ckpt["rng_cuda"], s.device)
    _write_rows(run, done, ckpt.get("rows", {}))
    run.write_text("config.yaml", to_yaml(cfg))
    summary = {**_new_summary(s, run), "started": summary.get("started"), "resumed": done,
               "wall_seconds": summary.get("wall_seconds", 0.0)}
    run.log(f"Resuming {run.path} after epoch {done} of {cfg['train']['epochs']}")
    return run, fit(s, run, summary, start_epoch=done + 1, progress=progress)


def fit(s: Setup, run: Run, summary: dict[str, Any], start_epoch: int, progress: bool) -> dict[str, Any]:
    """The epoch loop. Whatever ends it, summary.json says how it ended."""
    cfg, epochs = s.cfg, s.cfg["train"]["epochs"]
    step_model = torch.compile(s.model) if cfg["train"]["compile"] else s.model
    guard = SignalGuard()
    run.log(f"Run {run.path} | model {cfg['model']['name']}, {summary['params']:,} parameters | device {s.device}")
    for note in s.notes:
        run.log(note)
    started = time.perf_counter() - summary["wall_seconds"]
    try:
        with guard.installed():
            for epoch in range(start_epoch, epochs + 1):
                run.log(f"===== [Epochs] {epoch}/{epochs} =====")
                tic = time.perf_counter()
                lr = s.optimizer.param_groups[0]["lr"]
                result = train_epoch(s, step_model, epoch, progress)
                run.log(f"Train Loss: {result['train_loss']:.6f}")
                test_loss, test_acc = evaluate(step_model, s.test, cfg["train"]["loss"], cfg["eval"]["batch_size"],
                                               progress, cfg["train"]["amp"])
                run.log(f"Test Loss: {test_loss:.6f}")
                run.log(f"[Test Result] {test_acc:.3f}%")
                if s.scheduler is not None:
                    s.scheduler.step()
                row = {"epoch": epoch, "train_loss": f"{result['train_loss']:.6f}",
                       "train_acc": f"{result['train_acc']:.3f}", "test_loss": f"{test_loss:.6f}",
                       "test_acc": f"{test_acc:.3f}", "lr": f"{lr:.6g}", "seconds": f"{time.perf_counter() - tic:.3f}"}
                with guard.deferred():
                    _commit(s, run, summary, row, result["grad_norms"], started)
    except Stopped as stop:
        _finish(run, summary, "interrupted", started)
        run.log(f"Interrupted ({stop}) after epoch {summary['epochs_done']}. "
                f"Resume with: mlcl-train resume {run.path}")
        raise
    except Diverged:
        _finish(run, summary, "diverged", started, error="the training loss became NaN or infinite")
        run.log(f"Diverged: the training loss became NaN or infinite in epoch {summary['epochs_done'] + 1}; "
                "the learning rate may be too high (try a smaller train.optimizer.lr)")
        raise
    except BaseException as err:
        _finish(run, summary, "failed", started, error=f"{type(err).__name__}: {err}")
        raise
    _finish(run, summary, "completed", started)
    best = f"best {summary['best_acc']:.3f}% at epoch {summary['best_epoch']}"
    run.log(f"Done: {run.path} (final {summary['final_acc']:.3f}%, {best})")
    return summary


def _commit(s: Setup, run: Run, summary: dict[str, Any], row: dict[str, Any], norms: dict[str, float], started: float) -> None:
    """End-of-epoch writes, checkpoint first: a metrics row never outruns the weights it describes."""
    epoch = int(row["epoch"])
    state = {"epoch": epoch, "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
             "scheduler": s.scheduler.state_dict() if s.scheduler is not None else {},
             "rng_cpu": torch.get_rng_state()}
    if s.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(s.device)
    rows = {"metrics.csv": [METRICS, row]}
    if norms:
        rows["grad_norms.csv"] = [["epoch", *norms], {"epoch": epoch, **{k: f"{v:.6g}" for k, v in norms.items()}}]
    state["rows"] = rows  # so that resume can write rows a kill cut off between the checkpoint and the CSVs
    run.save_torch("checkpoint.pt", state)
    run.save_torch("model.pt", s.model.state_dict())
    for name, (columns, line) in rows.items():
        run.append_row(name, columns, line)
    acc = float(row["test_acc"])
    summary.update(epochs_done=epoch, final_acc=acc, final_test_loss=float(row["test_loss"]),
                   final_train_loss=float(row["train_loss"]), wall_seconds=round(time.perf_counter() - started, 3))
    if summary["best_acc"] is None or acc > summary["best_acc"]:
        summary.update(best_acc=acc, best_epoch=epoch)
    rows = read_csv(run.path / "metrics.csv")
    summary["seconds_per_epoch"] = round(sum(float(r["seconds"]) for r in rows) / len(rows), 3)
    run.write_json("summary.json", summary)


def _write_rows(run: Run, epoch: int, rows: dict[str, list[Any]]) -> None:
    """On resume: make each CSV end with the checkpoint's row of its epoch (dropping later ones)."""
    for name, (columns, row) in rows.items():
        run.keep_rows(name, epoch - 1)
        run.append_row(name, columns, row)


def _finish(run: Run, summary: dict[str, Any], status: str, started: float, error: str | None = None) -> None:
    summary.update(status=status, error=error, finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                   wall_seconds=round(time.perf_counter() - started, 3))
    run.write_json("summary.json", summary)


def _new_summary(s: Setup, run: Run) -> dict[str, Any]:
    rows = read_csv(run.path / "metrics.csv")
    best = max(rows, key=lambda r: float(r["test_acc"]), default=None)
    last = rows[-1] if rows else None
    return {
        "name": s.cfg["name"], "status": "running", "model": s.cfg["model"]["name"],
        "params": sum(p.numel() for p in s.model.parameters()),
        "epochs": s.cfg["train"]["epochs"], "epochs_done": int(last["epoch"]) if last else 0,
        "final_acc": float(last["test_acc"]) if last else None,
        "final_test_loss": float(last["test_loss"]) if last else None,
        "final_train_loss": float(last["train_loss"]) if last else None,
        "best_acc": float(best["test_acc"]) if best else None, "best_epoch": int(best["epoch"]) if best else None,
        "seconds_per_epoch": None, "wall_seconds": 0.0, "device": str(s.device),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "finished": None, "error": None,
        "host": socket.gethostname(), "pid": os.getpid(),
        "versions": {"mlcl_train": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


def _alive(summary: dict[str, Any]) -> bool:
    if summary.get("host") != socket.gethostname() or not isinstance(summary.get("pid"), int):
        return False
    try:
        os.kill(summary["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return summary["pid"] != os.getpid()


class SignalGuard:
    """SIGINT and SIGTERM raise Stopped, except inside deferred(), where they wait for its end."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.critical = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.critical:
            self.pending = signum
        else:
            raise Stopped(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending is not None:
            raise Stopped(self.pending)
