"""Training: build everything from a resolved config, run the epoch loop, keep the run folder whole.

    record = train(load_config("configs/mlp_deep.yaml"), runs_dir="runs", progress=True)   # a runs.RunRecord

Per epoch the run folder gets a checkpoint, the weights and a metrics row, and then the log
prints the epoch's results: an epoch on the screen is an epoch on disk. The process holds the
folder's RunLock for the whole run. Ctrl-C or SIGTERM stops after writing what is finished; a
NaN, infinite or exploding loss (training or test) stops the run as diverged; either way the
exception raised carries the run's record (`err.run`; another error arrives as errors.Failed,
with the error and the record). What a run trains with comes from training/setup.py, the step
from training/step.py, checkpoints from training/checkpoint.py.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NoReturn

import torch
from torch import nn

from mlcl_train import __version__
from mlcl_train.config.loader import load_config, to_yaml
from mlcl_train.core import signals
from mlcl_train.core.errors import Diverged, Failed, Pruned, Stopped, UserError
from mlcl_train.core.files import CONFIG_LIMIT, read_bytes
from mlcl_train.core.values import plural
from mlcl_train.data.loader import Split, load_splits, num_batches, train_batches
from mlcl_train.models.trust import reading_run
from mlcl_train.runs.store import (
    Epoch,
    Run,
    RunLock,
    RunRecord,
    Summary,
    as_written,
    epoch_rows,
    new_summary,
    read_metrics,
    read_run,
    read_summary,
    results,
)
from mlcl_train.training import checkpoint
from mlcl_train.training.engine import autocast, evaluate, host_waits, per_step_scheduler
from mlcl_train.training.setup import Setup, augmenter, setup
from mlcl_train.training.step import LOSS_LIMIT, Step, Sums, logged_weights

CHECK_EVERY = 100  # steps between divergence checks (each one waits for the device: the loop's only wait on CUDA)


# ---------------------------------------------------------------- one epoch


@dataclass
class Trained:
    """What a pass over the training split gives: mean loss, accuracy (%) and each logged weight's mean grad norm."""

    train_loss: float
    train_acc: float
    grad_norms: dict[str, float]


def train_epoch(s: Setup, step_model: nn.Module, epoch: int, progress: bool) -> Trained:
    """One pass over the shuffled training split, a step.Step per batch (or its CUDA graph, s.graph)."""
    from tqdm.auto import tqdm  # a widget in a notebook, text on stderr elsewhere

    t = s.cfg.train
    model, n, graph = s.model.train(), len(s.train), s.graph
    weights = logged_weights(model, t.log_grad_norms)
    sums = Sums.zeros(s.device, len(weights)) if graph is None else graph.begin_epoch()  # the graph adds to its own
    scaler = torch.amp.GradScaler("cuda") if t.amp == "fp16" and s.device.type == "cuda" else None
    eager = Step(step_model, s.optimizer, t.loss, autocast(s.device, t.amp), list(weights.values()), sums, scaler,
                 t.label_smoothing)
    per_step = s.scheduler if per_step_scheduler(s.cfg) else None  # onecycle: stepped after every batch
    distort = augmenter(s, epoch)
    bar = tqdm(total=num_batches(n, t.batch_size), file=sys.stderr, disable=not progress, mininterval=0.5)
    for i, (x, y) in enumerate(train_batches(s.train, t.batch_size, seed=s.cfg.seed * 100_003 + epoch), 1):
        if distort is not None:
            x = distort(x)
        step = graph if graph is not None and len(y) == t.batch_size else eager  # a last, smaller batch: eager
        step(x, y)
        if s.ema is not None:
            s.ema.update(model)
        if per_step is not None:
            per_step.step()
        bar.update()
        if i % CHECK_EVERY == 0:
            with host_waits(s.device):
                if not sums.within_limit(n):
                    break
    bar.close()
    with host_waits(s.device):
        train_loss, right = sums.loss.item() / n, sums.correct.item()
        norms = dict(zip(weights, (sums.grad_norms / i).tolist(), strict=True))
    check_loss("training", train_loss)
    return Trained(train_loss, 100.0 * right / n, norms)


def check_loss(split: str, loss: float) -> None:
    """Raise Diverged for a NaN, infinite or exploding mean loss."""
    if not math.isfinite(loss):
        raise Diverged(f"the {split} loss became {loss}")
    if abs(loss) > LOSS_LIMIT:
        raise Diverged(f"the {split} loss exploded to {loss:.3g}")


# ---------------------------------------------------------------- the run


def train(
    cfg: dict[str, Any],
    runs_dir: str | Path = "runs",
    progress: bool = False,
    on_epoch: Callable[[Epoch], None] | None = None,
    sweep: dict[str, Any] | None = None,
    data_loader: Callable[..., tuple[Split, Split | None, Split]] = load_splits,
) -> RunRecord:
    """Train a resolved config into a new run folder; returns the finished run's record.

    A sweep's trial passes `sweep` (summary.json's "sweep": name, point, seed, trial) and
    `on_epoch(epoch)`, called with each epoch's runs.Epoch (as metrics.csv has it) once it is written, which
    may raise Pruned."""
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


def _new_run(s: Setup, runs_dir: str | Path, sweep: dict[str, Any] | None) -> tuple[Run, RunLock, Summary]:
    """A new run folder, locked, with its config and summary; when that fails (a full disk), no folder."""
    run = Run.create(runs_dir, s.cfg.name)
    try:
        lock = RunLock(run.path).acquire()
        run.write_text("config.yaml", to_yaml(s.cfg))
        summary = _new_summary(s, run)
        summary.sweep = sweep
        run.write_json("summary.json", summary.as_dict())
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
    return train(dataclasses.replace(cfg, name=name or cfg.name), runs_dir, progress)


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
        old = read_summary(run.path) or {}
        if old.get("status") == "completed" and old.get("stopped_early"):
            raise UserError(f"{run.path} stopped early after epoch {old['stopped_early']} (train.early_stop) and "
                            "is completed; to train further, start a new run with a larger train.early_stop.patience")
        with reading_run(trust_code):  # a model file of the run's own: imported only if known or trusted
            cfg = load_config(run.path / "config.yaml", [f"train.epochs={epochs}"] if epochs else [])
            ckpt = checkpoint.read(run.path, cfg)
            s = setup(cfg)
        checkpoint.load(s, ckpt, run.path / "checkpoint.pt")
        summary = _reopen(s, run, ckpt, old)
        _fit_again(s, run, summary, ckpt["epoch"], progress, before)
        return read_run(run.path)


def _reopen(s: Setup, run: Run, ckpt: dict[str, Any], old: dict[str, Any]) -> Summary:
    """The folder made ready to go on from the checkpoint (its CSV rows, config.yaml); the resumed run's summary.

    Signals wait from here until fit, which records a stop."""
    signals.hold()
    try:
        checkpoint.restore_rows(run, ckpt)
        run.write_text("config.yaml", to_yaml(s.cfg))
        summary = _new_summary(s, run)
        summary.started, summary.resumed = old.get("started"), ckpt["epoch"]
        summary.wall_seconds = _seconds(old.get("wall_seconds"))
    except BaseException:
        signals.release(stop=False)
        raise
    return summary


def _fit_again(s: Setup, run: Run, summary: Summary, done: int, progress: bool, before: dict[str, bytes]) -> None:
    """fit from epoch done + 1; an error before an epoch ends puts `before`'s files back as they were."""
    try:
        fit(s, run, summary, start_epoch=done + 1, progress=progress,
            first=f"Resuming {run.path} after epoch {done} of {s.cfg.train.epochs}")
    except Exception as err:  # an error, not a stop (a BaseException) nor a divergence or pruning (results)
        if isinstance(err, (Diverged, Pruned)) or summary.epochs_done != done:
            raise
        for name, data in before.items():
            _quietly(run.write_bytes, name, data)
        if isinstance(err, Failed):  # the record as the folder is now
            raise Failed(err.error, read_run(run.path)) from err.error
        raise


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


def fit(
    s: Setup,
    run: Run,
    summary: Summary,
    start_epoch: int,
    progress: bool,
    on_epoch: Callable[[Epoch], None] | None = None,
    first: str | None = None,
) -> Summary:
    """The epoch loop. Whatever ends it, summary.json says how it ended (and the exception raised carries the run)."""
    started = time.perf_counter() - summary.wall_seconds
    if s.cfg.train.tensorboard:
        from mlcl_train.training.tensorboard import Events

        s.events = Events(run.path, s.cfg)
    try:
        with signals.installed():
            signals.release()  # raises a signal that came while train or resume held them
            _epochs(s, run, summary, start_epoch, progress, on_epoch, first, started)
        _finish(run, summary, "completed", started)
    except BaseException as err:
        _end(err, run, summary, started)
    finally:
        if s.events is not None:
            s.events.close(summary)
    best = f"best {summary.best_acc:.3f}% at epoch {summary.best_epoch}"
    if summary.best_split == "val":
        best += f", chosen on validation ({summary.best_val_acc:.3f}%)"
    run.log(f"Done: {run.path} (final {summary.final_acc:.3f}%, {best})")
    return summary


def _epochs(
    s: Setup, run: Run, summary: Summary, start_epoch: int, progress: bool,
    on_epoch: Callable[[Epoch], None] | None, first: str | None, started: float,
) -> None:
    """The log's first lines, then each epoch: trained and evaluated, committed to the folder, then printed."""
    cfg, epochs = s.cfg, s.cfg.train.epochs
    step_model = torch.compile(s.model) if cfg.train.compile else s.model
    for line in [*([first] if first else []),
                 f"Run {run.path} | model {cfg.model.name}, {summary.params:,} parameters | device {s.device}",
                 *s.notes]:
        run.log(line)
    for epoch in range(start_epoch, epochs + 1):
        run.log(f"===== [Epochs] {epoch}/{epochs} =====")
        done, norms = _epoch(s, step_model, run, epoch, progress)
        with signals.deferred():  # commit, then print: an epoch on the screen is an epoch on disk
            _commit(s, run, summary, done, norms, started)
            run.log(f"Test Loss: {done.test_loss:.6f}")
            run.log(f"[Test Result] {done.test_acc:.3f}%")
            if on_epoch is not None:  # it writes too (a sweep's storage): a signal waits for it
                on_epoch(as_written(done))
        if s.events is not None:
            s.events.epoch(as_written(done), norms)
        if _stop_early(cfg, run, summary, epoch):
            break


def _epoch(s: Setup, step_model: nn.Module, run: Run, epoch: int, progress: bool) -> tuple[Epoch, dict[str, float]]:
    """Train one epoch, validate, test and step the scheduler: the epoch's record and its gradient norms."""
    tic = time.perf_counter()
    lr = s.optimizer.param_groups[0]["lr"]
    trained = train_epoch(s, step_model, epoch, progress)
    run.log(f"Train Loss: {trained.train_loss:.6f}")
    scored = step_model if s.ema is None else s.ema.model  # train.ema: the average is what is evaluated
    val_loss, val_acc = _validate(s, scored, run, progress)
    if s.val is not None:
        check_loss("validation", val_loss)
    t = s.cfg.train
    test_loss, test_acc = evaluate(scored, s.test, t.loss, s.cfg.eval.batch_size, progress, t.amp)
    check_loss("test", test_loss)
    if s.scheduler is not None and not per_step_scheduler(s.cfg):
        s.scheduler.step()
    seconds = time.perf_counter() - tic
    record = Epoch(epoch, trained.train_loss, trained.train_acc, test_loss, test_acc, lr, seconds, val_loss, val_acc)
    return record, trained.grad_norms


def _end(err: BaseException, run: Run, summary: Summary, started: float) -> NoReturn:
    """Record how the run ended (summary.json, the log); raise the error again, carrying the run's record."""
    if isinstance(err, Stopped):
        _quietly(_finish, run, summary, "interrupted", started)
        if summary.epochs_done:
            run.log(f"Interrupted ({err}) after epoch {summary.epochs_done}. Resume with: mlcl-train resume {run.path}")
        else:
            run.log(f"Interrupted ({err}) before the first epoch ended; nothing to resume. "
                    f"Start it again with: mlcl-train --config {run.path / 'config.yaml'}")
        raise Stopped(err.signum, read_run(run.path)).with_traceback(err.__traceback__) from None
    if isinstance(err, Pruned):
        _finish(run, summary, "pruned", started)
        run.log(f"Pruned after epoch {summary.epochs_done}: its accuracy trails the other trials at this epoch")
        raise Pruned(*err.args, run=read_run(run.path)).with_traceback(err.__traceback__) from None
    if isinstance(err, Diverged):
        _finish(run, summary, "diverged", started, error=str(err))
        run.log(f"Diverged: {err} in epoch {summary.epochs_done + 1}; "
                "the learning rate may be too high (try a smaller train.optimizer.lr)")
        raise Diverged(str(err), read_run(run.path)).with_traceback(err.__traceback__) from None
    _quietly(_finish, run, summary, "failed", started, error=describe(err))
    if isinstance(err, UserError) or not isinstance(err, Exception):
        raise err  # a user error says all there is; KeyboardInterrupt or SystemExit go on as they are
    raise Failed(err, read_run(run.path)) from err  # for the caller's table of runs


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


def _validate(s: Setup, model: nn.Module, run: Run, progress: bool) -> tuple[float, float]:
    """Loss and accuracy on the validation split, logged; NaN without one (and nothing logged)."""
    if s.val is None:
        return math.nan, math.nan
    t = s.cfg.train
    loss, acc = evaluate(model, s.val, t.loss, s.cfg.eval.batch_size, progress, t.amp)
    run.log(f"Val Loss: {loss:.6f}")
    run.log(f"[Val Result] {acc:.3f}%")
    return loss, acc


def _stop_early(cfg: dict[str, Any], run: Run, summary: Summary, epoch: int) -> bool:
    """Whether train.early_stop ends the run after this epoch (its metric not better for `patience` epochs).

    Decided from metrics.csv alone, so a resumed run decides as the uninterrupted one would."""
    metric, patience = cfg.train.early_stop.metric, cfg.train.early_stop.patience
    if patience is None or epoch >= cfg.train.epochs:
        return False
    rows = read_metrics(run.path)
    sign = 1 if metric == "val_acc" else -1
    best = max(rows, key=lambda r: sign * getattr(r, metric))  # the first of equals
    if epoch - best.epoch < patience:
        return False
    summary.stopped_early = epoch
    run.log(f"Early stop: {metric} has not improved for {plural(patience, 'epoch')} (best at epoch {best.epoch}); "
            f"stopped after epoch {epoch} of {cfg.train.epochs}")
    return True


def _commit(s: Setup, run: Run, summary: Summary, done: Epoch, norms: dict[str, float], started: float) -> None:
    """End-of-epoch writes, checkpoint first: a metrics row never outruns the weights it describes."""
    rows = epoch_rows(done, norms)
    checkpoint.save(run, s, done.epoch, rows, best=_is_best(run, done))
    for name, (columns, line) in rows.items():
        run.append_row(name, columns, line)
    summary.record(read_metrics(run.path))
    summary.wall_seconds = round(time.perf_counter() - started, 3)
    run.write_json("summary.json", summary.as_dict())


def _is_best(run: Run, done: Epoch) -> bool:
    """Whether this epoch becomes the best one (on validation when there is a split, else on test), as written."""
    rows = [r for r in read_metrics(run.path) if r.epoch < done.epoch]  # a resumed run redoes later ones
    return results([*rows, as_written(done)])["best_epoch"] == done.epoch


def _finish(run: Run, summary: Summary, status: str, started: float, error: str | None = None) -> None:
    summary.status, summary.error = status, error
    summary.finished = time.strftime("%Y-%m-%dT%H:%M:%S")
    summary.wall_seconds = round(time.perf_counter() - started, 3)
    run.write_json("summary.json", summary.as_dict())


def _new_summary(s: Setup, run: Run) -> Summary:
    versions = {"mlcl_train": __version__, "torch": torch.__version__, "python": platform.python_version()}
    params = sum(p.numel() for p in s.model.parameters())
    return new_summary(s.cfg, params, str(s.device), versions, read_metrics(run.path))
