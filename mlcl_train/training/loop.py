"""Training: build everything from a resolved config, run the epoch loop, keep the run folder whole.

    record = train(load_config("configs/mlp_deep.yaml"), runs_dir="runs", progress=True)   # a runs.RunRecord

Per epoch the run folder gets a checkpoint, the weights and a metrics row, and then the log
prints the epoch's results: an epoch on the screen is an epoch on disk. The process holds the
folder's RunLock for the whole run. Ctrl-C or SIGTERM stops after writing what is finished; a
NaN, infinite or exploding loss (training or test) stops the run as diverged; either way the
exception raised carries the run's record (`err.run`). The model, loss and evaluation come
from mlcl_train.training.engine.
"""

from __future__ import annotations

import errno
import math
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import yaml
from torch import nn

from mlcl_train import __version__
from mlcl_train.config.loader import load_config, to_yaml
from mlcl_train.core import signals
from mlcl_train.core.errors import Diverged, Pruned, Stopped, UserError, first_line
from mlcl_train.core.files import CONFIG_LIMIT, read_bytes
from mlcl_train.data.augment import Augmenter, enabled
from mlcl_train.data.loader import STATS, Split, load_splits, num_batches, train_batches
from mlcl_train.models.trust import reading_run
from mlcl_train.runs.store import (
    METRICS,
    Epoch,
    Run,
    RunLock,
    RunRecord,
    flatten,
    new_summary,
    read_metrics,
    read_run,
    read_summary,
    results,
)
from mlcl_train.training.cuda_graphs import GraphStep, why_not
from mlcl_train.training.engine import (
    amp_note,
    autocast,
    build_model,
    evaluate,
    host_waits,
    load_state,
    loss_fn,
    make_optimizer,
    make_scheduler,
    model_output_kind,
    pitfalls,
    resolve_device,
)

CHECK_EVERY = 100  # steps between divergence checks (each one waits for the device: the loop's only wait on CUDA)
LOSS_LIMIT = 1e6  # a mean loss above this has exploded (cross-entropy starts near 2.3)
MAY_CHANGE = (  # config keys a resume may change: none of them changes what is learned
    "name", "device", "train.epochs", "eval.batch_size", "train.compile", "train.cuda_graphs",
)


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
    graph: GraphStep | None = None  # train.cuda_graphs where it applies
    val: Split | None = None  # held out of the training images (data.val_split)
    events: Any = None  # an events.Events (TensorBoard files) when train.tensorboard is on


# ---------------------------------------------------------------- building


def setup(cfg: dict[str, Any], data_loader: Callable[..., tuple[Split, Split | None, Split]] = load_splits) -> Setup:
    """Check the device, build the model and load the data: everything that can fail before a run folder exists.

    data_loader(dataset, root, device, train_subset, val_split, seed) gives the train, validation
    (or None) and test splits (a sweep's worker passes a cached one)."""
    device, note = resolve_device(cfg["device"])
    notes = [note] if note else []
    model = build_model(cfg)
    notes += pitfalls(cfg["train"]["loss"], model_output_kind(model))
    t = cfg["train"]
    if t["amp"]:
        notes.append(amp_note(device, t["amp"]))
    no_graphs = why_not(cfg, device) if t["cuda_graphs"] else None
    graphs = t["cuda_graphs"] and no_graphs is None
    if t["cuda_graphs"]:
        notes.append("cuda graphs: each full training batch replays one captured CUDA graph of the whole step"
                     if graphs else f"note: {no_graphs}")
    model = model.to(device)
    if t["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if t["tensorboard"]:
        from mlcl_train.training.tensorboard import require

        require()  # before any run folder exists
    data = cfg["data"]
    train_split, val_split, test_split = data_loader(
        data["dataset"], data["root"], device, data["train_subset"], data["val_split"], cfg["seed"]
    )
    if t["channels_last"]:  # new Splits: the loader's may be shared by the next run
        train_split, val_split, test_split = (
            None if split is None else Split(split.images.contiguous(memory_format=torch.channels_last), split.labels)
            for split in (train_split, val_split, test_split)
        )
    optimizer = make_optimizer(cfg, model)
    weights = list(logged_weights(model, t["log_grad_norms"]).values())
    graph = GraphStep(model, optimizer, t["loss"], t["amp"], weights) if graphs else None
    scheduler = make_scheduler(cfg, optimizer)
    return Setup(cfg, device, model, optimizer, scheduler, train_split, test_split, notes, graph, val_split)


def logged_weights(model: nn.Module, on: bool) -> dict[str, nn.Parameter]:
    """The weights (not biases or norms) whose gradient norms train.log_grad_norms records; {} when off."""
    return {name: p for name, p in model.named_parameters() if p.ndim >= 2} if on else {}


# ---------------------------------------------------------------- one epoch


def train_epoch(s: Setup, step_model: nn.Module, epoch: int, progress: bool) -> dict[str, float]:
    """One pass over the shuffled training split; returns mean loss, accuracy and per-layer grad norms."""
    from tqdm.auto import tqdm  # a widget in a notebook, text on stderr elsewhere

    t = s.cfg["train"]
    model, n, graph = s.model.train(), len(s.train), s.graph
    weights = logged_weights(model, t["log_grad_norms"])
    if graph is None:
        loss_sum = torch.zeros((), device=s.device)  # accumulated on the device: no sync per step
        correct = torch.zeros((), device=s.device, dtype=torch.long)
        grad_sums = torch.zeros(len(weights), device=s.device)
    else:
        loss_sum, correct, grad_sums = graph.begin_epoch()  # the graph's own: it adds to them on each replay
    amp = autocast(s.device, t["amp"])
    scaler = torch.amp.GradScaler("cuda") if t["amp"] == "fp16" and s.device.type == "cuda" else None
    distort = augmenter(s, epoch)
    bar = tqdm(total=num_batches(n, t["batch_size"]), file=sys.stderr, disable=not progress, mininterval=0.5)
    for step, (x, y) in enumerate(train_batches(s.train, t["batch_size"], seed=s.cfg["seed"] * 100_003 + epoch), 1):
        if distort is not None:
            x = distort(x)
        if graph is not None and len(y) == t["batch_size"]:
            graph(x, y)  # the step below, replayed (training/cuda_graphs.py); a last, smaller batch runs eagerly
        else:
            with amp:
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
                if not bool(loss_sum.abs() <= LOSS_LIMIT * n):  # False for NaN too
                    break
    bar.close()
    with host_waits(s.device):
        train_loss, right = loss_sum.item() / n, correct.item()
        norms = dict(zip(weights, (grad_sums / step).tolist(), strict=True))
    check_loss("training", train_loss)
    return {"train_loss": train_loss, "train_acc": 100.0 * right / n, "grad_norms": norms}


def check_loss(split: str, loss: float) -> None:
    """Raise Diverged for a NaN, infinite or exploding mean loss."""
    if not math.isfinite(loss):
        raise Diverged(f"the {split} loss became {loss}")
    if abs(loss) > LOSS_LIMIT:
        raise Diverged(f"the {split} loss exploded to {loss:.3g}")


def augmenter(s: Setup, epoch: int) -> Augmenter | None:
    """The epoch's augmentation (data.augment), seeded by the run's seed and the epoch; None when off."""
    spec = s.cfg["data"]["augment"]
    if not enabled(spec):
        return None
    mean, std = STATS[s.cfg["data"]["dataset"]]
    return Augmenter(spec, background=-mean / std, device=s.device, seed=(s.cfg["seed"] * 100_003 + epoch) ^ 0x5EED)


# ---------------------------------------------------------------- the run


def train(
    cfg: dict[str, Any],
    runs_dir: str | Path = "runs",
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    sweep: dict[str, Any] | None = None,
    data_loader: Callable[..., tuple[Split, Split | None, Split]] = load_splits,
) -> RunRecord:
    """Train a resolved config into a new run folder; returns the finished run's record.

    A sweep's trial passes `sweep` (summary.json's "sweep": name, point, seed, trial) and
    `on_epoch(row)`, called after each epoch's metrics row is written, which may raise Pruned."""
    with signals.installed():
        s = setup(cfg, data_loader)
        signals.hold()  # a signal now waits for fit, which records it: a whole run folder, or none
        try:
            run, lock, summary = _new_run(s, runs_dir, sweep)
        except BaseException:
            signals.release(stop=False)
            raise
        with lock:
            fit(s, run, summary, start_epoch=1, progress=progress, on_epoch=on_epoch)
        return read_run(run.path)


def _new_run(s: Setup, runs_dir: str | Path, sweep: dict[str, Any] | None) -> tuple[Run, RunLock, dict[str, Any]]:
    """A new run folder, locked, with its config and summary; when that fails (a full disk), no folder."""
    run = Run.create(runs_dir, s.cfg["name"])
    try:
        lock = RunLock(run.path).acquire()
        run.write_text("config.yaml", to_yaml(s.cfg))
        summary = _new_summary(s, run)
        if sweep is not None:
            summary["sweep"] = sweep
        run.write_json("summary.json", summary)
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run, lock, summary


def train_file(
    config: str | Path,
    sets: list[str] | tuple[str, ...] = (),
    runs_dir: str | Path = "runs",
    progress: bool = False,
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunRecord:
    """Train a config file or a shipped config, with --set overrides: what `mlcl-train train` and the Python API run."""
    cfg = load_config(config, sets, overrides)
    cfg["name"] = name or cfg["name"]
    return train(cfg, runs_dir, progress)


def resume(run_path: str | Path, epochs: int | None = None, progress: bool = False,
           trust_code: bool = False) -> RunRecord:
    """Continue a stopped run from its last finished epoch, in the same folder; returns its record.

    Everything is checked before the folder changes; a resume that fails before it finishes an
    epoch puts summary.json and config.yaml back as they were."""
    run = Run(Path(run_path))
    if not (run.path / "config.yaml").is_file():
        raise UserError(f"{run.path} is not a run folder (no config.yaml); pass a folder under runs/")
    with signals.installed(), RunLock(run.path):
        before = _saved_files(run.path, ("summary.json", "config.yaml"))
        summary = read_summary(run.path) or {}
        if summary.get("status") == "completed" and summary.get("stopped_early"):
            raise UserError(f"{run.path} stopped early after epoch {summary['stopped_early']} (train.early_stop) and "
                            "is completed; to train further, start a new run with a larger train.early_stop.patience")
        with reading_run(trust_code):  # a model file of the run's own: imported only if known or trusted
            cfg = load_config(run.path / "config.yaml", [f"train.epochs={epochs}"] if epochs else [])
            ckpt = _checkpoint(run.path, cfg)
            done = ckpt["epoch"]
            s = setup(cfg)
        _load_states(s, ckpt, run.path / "checkpoint.pt")
        signals.hold()  # until fit, which records a stop
        try:
            _write_rows(run, done, ckpt.get("rows", {}))
            run.write_text("config.yaml", to_yaml(cfg))
            summary = {
                **_new_summary(s, run),
                "started": summary.get("started"),
                "resumed": done,
                "wall_seconds": _seconds(summary.get("wall_seconds")),
            }
        except BaseException:
            signals.release(stop=False)
            raise
        try:
            fit(s, run, summary, start_epoch=done + 1, progress=progress,
                first=f"Resuming {run.path} after epoch {done} of {cfg['train']['epochs']}")
        except Exception as err:  # an error, not a stop (a BaseException) nor a divergence or pruning (results)
            if not isinstance(err, (Diverged, Pruned)) and summary["epochs_done"] == done:
                for name, data in before.items():
                    _quietly(run.write_bytes, name, data)
                err.run = read_run(run.path)  # type: ignore[attr-defined]
            raise
        return read_run(run.path)


def _saved_files(folder: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files as they are now, to put back if a resume fails."""
    saved = {}
    for name in names:
        try:
            saved[name] = read_bytes(folder / name, CONFIG_LIMIT)
        except UserError:
            pass
    return saved


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 else 0.0


def _checkpoint(folder: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The run's checkpoint, checked against its config.yaml (cfg) and the epochs to train."""
    path = folder / "checkpoint.pt"
    again = f"start it again with: mlcl-train --config {folder / 'config.yaml'}"
    if not path.is_file():
        raise UserError(f"{folder} has no checkpoint.pt (it stopped before its first epoch ended); {again}")
    ckpt = _read_checkpoint(path, again)
    changed = [key for key in _changed_keys(ckpt, cfg) if key not in MAY_CHANGE]
    if changed:
        raise UserError(f"{path} does not match config.yaml ({', '.join(changed)} changed); "
                        "undo the edit, or train the edited config as a new run with --config")
    if ckpt["epoch"] >= cfg["train"]["epochs"]:
        raise UserError(f"{folder} has already trained {ckpt['epoch']} of {cfg['train']['epochs']} epochs; "
                        "pass --epochs N to extend it")
    return ckpt


def _read_checkpoint(path: Path, again: str) -> dict[str, Any]:
    """checkpoint.pt as written by _commit, or a UserError that says it is damaged."""
    ckpt = load_state(path, f"it cannot be resumed; {again}")
    if not (isinstance(ckpt, dict) and type(ckpt.get("epoch")) is int and ckpt["epoch"] >= 1
            and isinstance(ckpt.get("model"), dict) and isinstance(ckpt.get("optimizer"), dict)
            and isinstance(ckpt.get("rng_cpu"), torch.Tensor)):
        raise UserError(f"{path} is damaged (it is not a checkpoint written by mlcl-train); {again}")
    return ckpt


def _changed_keys(ckpt: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """Dotted config keys whose value differs between the checkpoint's config and cfg (keys in both)."""
    saved = ckpt.get("config")
    if not isinstance(saved, str):
        return []  # a checkpoint from before configs were saved in it: _load_states checks what it can
    try:
        old = flatten(yaml.safe_load(saved))
    except (yaml.YAMLError, AttributeError):
        return []
    new = flatten(yaml.safe_load(to_yaml(cfg)))  # the same round trip as the saved one
    return [key for key in new if key in old and old[key] != new[key]]


def _load_states(s: Setup, ckpt: dict[str, Any], path: Path) -> None:
    """The checkpoint's model, optimizer, scheduler and random state; a mismatch is a UserError."""
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
    # an optimizer of another kind loads, then fails at its first step (KeyError: 'betas'): its settings are missing
    if any(set(s.optimizer.defaults) - set(group) for group in s.optimizer.param_groups):
        raise UserError(f"{path} does not match config.yaml (the optimizer changed); "
                        "undo the edit, or train the edited config as a new run")


def fit(
    s: Setup,
    run: Run,
    summary: dict[str, Any],
    start_epoch: int,
    progress: bool,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    first: str | None = None,
) -> dict[str, Any]:
    """The epoch loop. Whatever ends it, summary.json says how it ended (and an exception carries err.run)."""
    cfg, epochs = s.cfg, s.cfg["train"]["epochs"]
    started = time.perf_counter() - summary["wall_seconds"]
    if cfg["train"]["tensorboard"]:
        from mlcl_train.training.tensorboard import Events

        s.events = Events(run.path, cfg)
    try:
        with signals.installed():
            signals.release()  # raises a signal that came while train or resume held them
            step_model = torch.compile(s.model) if cfg["train"]["compile"] else s.model
            for line in ([first] if first else []):
                run.log(line)
            run.log(
                f"Run {run.path} | model {cfg['model']['name']}, {summary['params']:,} parameters | device {s.device}"
            )
            for note in s.notes:
                run.log(note)
            for epoch in range(start_epoch, epochs + 1):
                run.log(f"===== [Epochs] {epoch}/{epochs} =====")
                tic = time.perf_counter()
                lr = s.optimizer.param_groups[0]["lr"]
                result = train_epoch(s, step_model, epoch, progress)
                run.log(f"Train Loss: {result['train_loss']:.6f}")
                val_loss, val_acc = _validate(s, step_model, run, progress)
                if s.val is not None:
                    check_loss("validation", val_loss)
                test_loss, test_acc = evaluate(
                    step_model, s.test, cfg["train"]["loss"], cfg["eval"]["batch_size"], progress, cfg["train"]["amp"]
                )
                check_loss("test", test_loss)
                if s.scheduler is not None:
                    s.scheduler.step()
                row = {
                    "epoch": epoch,
                    "train_loss": f"{result['train_loss']:.6f}",
                    "train_acc": f"{result['train_acc']:.3f}",
                    "test_loss": f"{test_loss:.6f}",
                    "test_acc": f"{test_acc:.3f}",
                    "lr": f"{lr:.6g}",
                    "seconds": f"{time.perf_counter() - tic:.3f}",
                    "val_loss": "" if s.val is None else f"{val_loss:.6f}",
                    "val_acc": "" if s.val is None else f"{val_acc:.3f}",
                }
                with signals.deferred():  # commit, then print: an epoch on the screen is an epoch on disk
                    _commit(s, run, summary, row, result["grad_norms"], started)
                    run.log(f"Test Loss: {test_loss:.6f}")
                    run.log(f"[Test Result] {test_acc:.3f}%")
                    if on_epoch is not None:  # it writes too (a sweep's storage): a signal waits for it
                        on_epoch(row)
                if s.events is not None:
                    s.events.epoch(row, result["grad_norms"])
                if _stop_early(cfg, run, summary, epoch):
                    break
        _finish(run, summary, "completed", started)
    except Stopped as stop:
        _quietly(_finish, run, summary, "interrupted", started)
        done = summary["epochs_done"]
        if done:
            run.log(f"Interrupted ({stop}) after epoch {done}. Resume with: mlcl-train resume {run.path}")
        else:
            run.log(f"Interrupted ({stop}) before the first epoch ended; nothing to resume. "
                    f"Start it again with: mlcl-train --config {run.path / 'config.yaml'}")
        stop.run = read_run(run.path)
        raise
    except Pruned as pruned:
        _finish(run, summary, "pruned", started)
        run.log(f"Pruned after epoch {summary['epochs_done']}: its accuracy trails the other trials at this epoch")
        pruned.run = read_run(run.path)
        raise
    except Diverged as diverged:
        _finish(run, summary, "diverged", started, error=str(diverged))
        run.log(
            f"Diverged: {diverged} in epoch {summary['epochs_done'] + 1}; "
            "the learning rate may be too high (try a smaller train.optimizer.lr)"
        )
        diverged.run = read_run(run.path)
        raise
    except BaseException as err:
        _quietly(_finish, run, summary, "failed", started, error=describe(err))
        err.run = read_run(run.path)  # type: ignore[attr-defined]  # for the caller's table of runs
        raise
    finally:
        if s.events is not None:
            s.events.close(summary)
    best = f"best {summary['best_acc']:.3f}% at epoch {summary['best_epoch']}"
    if summary["best_split"] == "val":
        best += f", chosen on validation ({summary['best_val_acc']:.3f}%)"
    run.log(f"Done: {run.path} (final {summary['final_acc']:.3f}%, {best})")
    return summary


def describe(err: BaseException) -> str:
    """An error as summary.json records it: a full disk says so plainly."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return f"no space left on device (writing {Path(err.filename).name if err.filename else 'a file'})"
    return f"{type(err).__name__}: {err}"


def _quietly(write: Any, *args: Any, **kwargs: Any) -> None:
    """A write made while handling another error (a full disk, say): its own failure must not hide that one."""
    try:
        write(*args, **kwargs)
    except OSError:
        pass


def _validate(s: Setup, step_model: nn.Module, run: Run, progress: bool) -> tuple[float, float]:
    """Loss and accuracy on the validation split, logged; NaN without one (and nothing logged)."""
    if s.val is None:
        return math.nan, math.nan
    t = s.cfg["train"]
    loss, acc = evaluate(step_model, s.val, t["loss"], s.cfg["eval"]["batch_size"], progress, t["amp"])
    run.log(f"Val Loss: {loss:.6f}")
    run.log(f"[Val Result] {acc:.3f}%")
    return loss, acc


def _stop_early(cfg: dict[str, Any], run: Run, summary: dict[str, Any], epoch: int) -> bool:
    """Whether train.early_stop ends the run after this epoch (its metric not better for `patience` epochs).

    Decided from metrics.csv alone, so a resumed run decides as the uninterrupted one would."""
    metric, patience = cfg["train"]["early_stop"]["metric"], cfg["train"]["early_stop"]["patience"]
    if patience is None or epoch >= cfg["train"]["epochs"]:
        return False
    rows = read_metrics(run.path)
    sign = 1 if metric == "val_acc" else -1
    best = max(rows, key=lambda r: sign * getattr(r, metric))  # the first of equals
    if epoch - best.epoch < patience:
        return False
    summary["stopped_early"] = epoch
    run.log(f"Early stop: {metric} has not improved for {patience} epochs (best at epoch {best.epoch}); "
            f"stopped after epoch {epoch} of {cfg['train']['epochs']}")
    return True


def _commit(
    s: Setup, run: Run, summary: dict[str, Any], row: dict[str, Any], norms: dict[str, float], started: float
) -> None:
    """End-of-epoch writes, checkpoint first: a metrics row never outruns the weights it describes."""
    epoch = int(row["epoch"])
    state = {
        "epoch": epoch,
        "model": s.model.state_dict(),
        "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict() if s.scheduler is not None else {},
        "rng_cpu": torch.get_rng_state(),
        "config": to_yaml(s.cfg),  # so that resume can name the keys of an edited config.yaml
    }
    if s.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(s.device)
    rows = {"metrics.csv": [METRICS, row]}
    if norms:
        rows["grad_norms.csv"] = [["epoch", *norms], {"epoch": epoch, **{k: f"{v:.6g}" for k, v in norms.items()}}]
    state["rows"] = rows  # so that resume can write rows a kill cut off between the checkpoint and the CSVs
    run.save_torch("checkpoint.pt", state)
    run.save_torch("model.pt", s.model.state_dict())
    if _is_best(run, row):
        run.save_torch("best.pt", s.model.state_dict())
    for name, (columns, line) in rows.items():
        run.append_row(name, columns, line)
    summary.update(results(read_metrics(run.path)), wall_seconds=round(time.perf_counter() - started, 3))
    run.write_json("summary.json", summary)


def _is_best(run: Run, row: dict[str, Any]) -> bool:
    """Whether this epoch's row becomes the best one (on validation when there is a split, else on test)."""
    numbers = {k: float(v) if v != "" else math.nan for k, v in row.items() if k != "epoch"}
    rows = [r for r in read_metrics(run.path) if r.epoch < int(row["epoch"])]  # a resumed run redoes later ones
    return results([*rows, Epoch(int(row["epoch"]), **numbers)])["best_epoch"] == int(row["epoch"])


def _write_rows(run: Run, epoch: int, rows: dict[str, list[Any]]) -> None:
    """On resume: make each CSV end with the checkpoint's row of its epoch (dropping later ones)."""
    for name, (columns, row) in rows.items():
        run.keep_rows(name, epoch - 1)
        run.append_row(name, columns, row)


def _finish(run: Run, summary: dict[str, Any], status: str, started: float, error: str | None = None) -> None:
    summary.update(
        status=status,
        error=error,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
        wall_seconds=round(time.perf_counter() - started, 3),
    )
    run.write_json("summary.json", summary)


def _new_summary(s: Setup, run: Run) -> dict[str, Any]:
    versions = {"mlcl_train": __version__, "torch": torch.__version__, "python": platform.python_version()}
    params = sum(p.numel() for p in s.model.parameters())
    return new_summary(s.cfg, params, str(s.device), versions, read_metrics(run.path))
