"""The run folder: one new folder per run, every file in it complete at any moment.

    runs/20261127-101500-mlp_deep/
      config.yaml    the fully resolved config (pass it back to --config to re-run)
      metrics.csv    one row per finished epoch
      grad_norms.csv each layer's mean gradient norm per epoch (train.log_grad_norms)
      summary.json   status, final and best accuracy, parameters, device, versions, times
      log.txt        the lines printed on stdout
      model.pt       the weights after the last finished epoch (a state_dict; train.ema: their average)
      best.pt        the weights of the best epoch (chosen on the validation split when there is one)
      checkpoint.pt  model, optimizer, scheduler, random state (and train.ema's average), for `mlcl-train resume`

Whole files are written to a temporary name and renamed; metrics are appended a whole line
at a time. Reading needs no torch, so `compare` stays fast:

    records = read_runs(["runs"])          # one RunRecord per run folder, each file read once
    records[0].best_acc, records[0].status, records[0].metrics[-1].test_acc

A summary number is a field of RunRecord (with its summary.json key in SUMMARY_KEYS) and a
column in the renderers; `results` derives the same numbers from metrics.csv, for training
and for a folder without summary.json.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import math
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

import yaml

from mlcl_train.config.schema import Config, flatten
from mlcl_train.core import signals
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import CONFIG_LIMIT, read_text, write_atomically

METRICS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "val_loss", "val_acc"]
METRICS_LIMIT = 64 * 2**20  # bytes of metrics.csv: about 500,000 epochs
NAME_MAX = 100  # characters of a run name; the folder name adds a time stamp and must stay under 255 bytes
STATUSES = ("running", "completed", "interrupted", "diverged", "failed", "pruned")  # what summary.json says
READ_STATUSES = (*STATUSES, "killed", "incomplete", "broken")  # what a reader can find (RunRecord.status)
LOCK = ".lock"  # flock()ed by the process that trains in the folder; the kernel releases it when that process dies
RUN_FILES = ("summary.json", "config.yaml", "metrics.csv")  # a folder with any of them is a run folder
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: same result, ~10x faster


class Run:
    """A run folder and the writes into it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, runs_dir: str | Path, name: str) -> "Run":
        """A new, empty folder runs_dir/<YYYYmmdd-HHMMSS>-<name>[-N]; never an existing one."""
        runs_dir = Path(runs_dir)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"
        if len(safe) > NAME_MAX:
            raise UserError(f"the run name is {len(name)} characters long; use at most {NAME_MAX} (--name or 'name:')")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):
                path = runs_dir / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
                try:
                    path.mkdir()  # atomic: two runs started together get two folders
                    return cls(path)
                except FileExistsError:
                    continue
        except OSError as err:
            raise UserError(
                f"cannot create a run folder in {runs_dir}: {err.strerror}; choose another --runs-dir"
            ) from None
        raise UserError(f"too many runs named {safe} in {runs_dir} this second")

    def write_text(self, name: str, text: str) -> None:
        """Write a whole file atomically (temporary file, fsync, rename)."""
        self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a whole file atomically; a failed write (a full disk) leaves no temporary file."""
        write_atomically(self.path / name, data)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        self.write_text(name, json.dumps(data, indent=2) + "\n")

    def save_torch(self, name: str, obj: Any) -> None:
        """torch.save, atomically: serialized in memory first, so that a write error is a plain OSError."""
        import torch

        buf = io.BytesIO()
        torch.save(obj, buf)
        self.write_bytes(name, buf.getvalue())

    def append_row(self, name: str, columns: list[str], row: dict[str, Any]) -> None:
        """Append one CSV line (with the header first if the file is new) in a single write; never half a line."""
        path = self.path / name
        buf = io.StringIO()
        header = _header(path)  # a run written before a column was added keeps its columns
        writer = csv.DictWriter(buf, fieldnames=header or columns, lineterminator="\n", extrasaction="ignore")
        if not header:
            writer.writeheader()
        writer.writerow(row)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        try:
            data = buf.getvalue().encode()
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)  # a full disk: drop the part of the line that was written
            raise
        finally:
            os.close(fd)

    def keep_rows(self, name: str, last_epoch: int) -> None:
        """Drop rows after last_epoch (a resumed run redoes them)."""
        rows = read_csv(self.path / name)
        if rows and int(rows[-1]["epoch"]) > last_epoch:
            columns = list(rows[0])
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(r for r in rows if int(r["epoch"]) <= last_epoch)
            self.write_text(name, buf.getvalue())

    def log(self, line: str) -> None:
        """Append a line to log.txt, then print it on stdout (a closed stdout leaves only the file)."""
        with signals.deferred():  # both or neither: a signal waits until the line is in both places
            with open(self.path / "log.txt", "a", encoding="utf-8") as f:
                f.write(line + "\n")
            echo(line)


def echo(line: str) -> None:
    """Print a line on stdout; once stdout is closed (`| head -1`), print nothing more instead of failing."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):  # ValueError: sys.stdout itself was closed
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # later output, and the flush at exit, go nowhere
            os.close(devnull)
        except (OSError, ValueError):
            pass


class RunLock:
    """An exclusive lock on a run folder, held by the process that trains in it.

        with RunLock(run_path):   # UserError when another process holds it
            ...train...

    flock() on <run>/.lock: the kernel releases it when the process ends, however it ends, so a
    lock never outlives its process and a reused pid fools nothing. Locks are per host.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise UserError(
                f"{self.path.parent} is in use by another mlcl-train process{holder}; wait for it to end or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())  # for the message above only
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the lock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self if self.fd is not None else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_holder(fd: int) -> str:
    try:
        host, pid = os.pread(fd, 200, 0).decode().split()
    except (OSError, ValueError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if host == socket.gethostname() else f" (pid {pid} on {host})"


def is_locked(folder: str | Path) -> bool:
    """Whether a process (this one included) holds the folder's RunLock; never blocks."""
    try:
        fd = os.open(Path(folder) / LOCK, os.O_RDONLY)
    except OSError:  # no lock file: no process has trained here with this version
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def _header(path: Path) -> list[str] | None:
    """The column names of an existing CSV file, or None when there is none yet."""
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    return next(csv.reader([line])) if line.endswith("\n") else None


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file; a missing file or a half-written last line yields what is complete."""
    try:
        text = read_text(path, METRICS_LIMIT)
    except UserError:  # missing, not a regular file, too large or not UTF-8
        return []
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a hard kill can leave half a line
    try:
        return list(csv.DictReader(io.StringIO(text)))
    except csv.Error:  # a field over csv's limit (128 KB): not a metrics file
        return []


def read_summary(path: Path) -> dict[str, Any] | None:
    """summary.json of a run folder, or None when it is missing or unreadable."""
    try:
        data = json.loads(read_text(Path(path) / "summary.json", CONFIG_LIMIT))
    except (UserError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def read_config(folder: Path) -> dict[str, Any] | None:
    """config.yaml of a run folder as written (nested), or None if it is missing or unreadable."""
    try:
        data = yaml.load(read_text(Path(folder) / "config.yaml", CONFIG_LIMIT), Loader=SAFE_LOADER)
    except (UserError, yaml.YAMLError):  # missing, not a regular file, too large, not UTF-8, not YAML
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- the record


@dataclass(frozen=True)
class Epoch:
    """One row of metrics.csv as numbers (NaN where a value is missing)."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    lr: float
    seconds: float
    val_loss: float = math.nan  # NaN without a validation split (data.val_split: 0)
    val_acc: float = math.nan


@dataclass(frozen=True)
class RunRecord:
    """A run folder read once: its results, status, config and metrics; numbers as numbers, None when missing."""

    path: Path
    status: str  # one of READ_STATUSES
    name: str | None
    model: str | None
    params: int | None
    epochs: int  # finished epochs
    epochs_planned: int | None
    final_acc: float | None  # % on the test split after the last finished epoch
    best_acc: float | None  # % on the test split at best_epoch
    best_epoch: int | None  # chosen on best_split
    test_loss: float | None  # after the last finished epoch
    sec_per_epoch: float | None
    config: dict[str, Any] | None  # config.yaml as written (nested); None when unreadable
    metrics: tuple[Epoch, ...] = ()
    sweep: str | None = None  # the sweep's name, for a sweep's trial (summary.json's "sweep")
    point: dict[str, Any] | None = None  # the trial's point, {dotted key: value}
    seed: int | None = None  # config.yaml's seed (a sweep's trial: summary.json's)
    best_split: str | None = None  # "val" or "test": the split that chose best_epoch
    val_acc: float | None = None  # % on the validation split after the last finished epoch
    best_val_acc: float | None = None  # % on the validation split at best_epoch
    stopped_early: int | None = None  # the epoch after which early stopping ended the run

    @property
    def run(self) -> str:
        """The folder's name, e.g. 20261127-101500-mlp_deep."""
        return self.path.name

    @cached_property
    def settings(self) -> dict[str, Any] | None:
        """The config flattened to dotted keys ({'model.hidden': [512, 256], ...}), or None."""
        return None if self.config is None else flatten(self.config)

    def get(self, column: str) -> Any:
        """A column's value by name (one of COLUMNS)."""
        return str(self.path) if column == "path" else getattr(self, column)


COLUMNS = (
    "run",
    "name",
    "model",
    "params",
    "epochs",
    "epochs_planned",
    "final_acc",
    "best_acc",
    "best_epoch",
    "test_loss",
    "sec_per_epoch",
    "status",
    "path",
    "best_split",
    "val_acc",
    "best_val_acc",
    "stopped_early",
)  # the record's values, as csv and json give them
SUMMARY_KEYS = {  # record field -> its summary.json key
    "name": "name",
    "model": "model",
    "params": "params",
    "epochs": "epochs_done",
    "epochs_planned": "epochs",
    "final_acc": "final_acc",
    "best_acc": "best_acc",
    "best_epoch": "best_epoch",
    "test_loss": "final_test_loss",
    "sec_per_epoch": "seconds_per_epoch",
    "best_split": "best_split",
    "val_acc": "final_val_acc",
    "best_val_acc": "best_val_acc",
    "stopped_early": "stopped_early",
}


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders in paths: each path is a run folder or a folder of run folders."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UserError(f"{path}: no such folder; pass run folders or a folder of them (default: runs/)")
        if is_run(path):
            found.append(path)
        else:
            found += sorted(p for p in path.iterdir() if p.is_dir() and is_run(p))
    return list(dict.fromkeys(found))


def sweeps_left_out(paths: Iterable[str | Path]) -> str | None:
    """One line naming the sweep trials under a given folder's sweeps/ (runs/sweeps/<name>/), which find_runs
    does not descend into, and how to see them; None when there are none."""
    found = {}
    for path in map(Path, paths):
        if (path / "sweeps").is_dir() and not is_run(path):
            for sweep in sorted(p for p in (path / "sweeps").iterdir() if p.is_dir()):
                if trials := find_runs([sweep]):
                    found[sweep] = len(trials)
    if not found:
        return None
    count = sum(found.values())
    return (f"left out {count} sweep trial{'s' * (count != 1)} ({', '.join(p.name for p in found)}); "
            f"show them with: mlcl-train compare {next(iter(found))}")


def is_run(path: Path) -> bool:
    return any((path / name).is_file() for name in RUN_FILES)


def read_runs(paths: Iterable[str | Path], hint: str | None = None, full: bool = True) -> list[RunRecord]:
    """A record per run folder in paths; with a hint, none found is a UserError that ends with it."""
    paths = [Path(p) for p in paths]
    records = [read_run(folder, full) for folder in find_runs(paths)]
    if not records and hint is not None:
        raise UserError(f"no run folders in {', '.join(map(str, paths))}; {hint}")
    return records


def read_run(folder: str | Path, full: bool = True) -> RunRecord:
    """A run folder's record: results from summary.json, or from metrics.csv where it says nothing; never raises.

    full=False reads summary.json alone where it exists (no config, no metrics): a sweep's status, at once."""
    folder = Path(folder)
    summary = read_summary(folder)
    config = read_config(folder) if full or summary is None else None
    metrics = tuple(read_metrics(folder)) if full or summary is None else ()
    known = {**{k: v for k, v in results(metrics).items() if v is not None}, **(summary or {})}
    train = config.get("train") if config else None
    values = {
        "name": config.get("name") if config else (summary or {}).get("name"),
        "model": _model_name(config),
        "epochs_planned": train.get("epochs") if isinstance(train, dict) else None,
    }
    for attr, key in SUMMARY_KEYS.items():
        if known.get(key) is not None or attr not in values:
            values[attr] = known.get(key)
    if summary is None:
        status = "broken" if (folder / "summary.json").exists() else "incomplete"
    else:
        status = run_state(summary, folder)
    meta = summary.get("sweep") if summary else None
    meta = meta if isinstance(meta, dict) else {}
    return RunRecord(
        path=folder,
        status=status,
        name=_text(values["name"]),
        model=_text(values["model"]),
        params=_int(values["params"]),
        epochs=_int(values["epochs"]) or 0,
        epochs_planned=_int(values["epochs_planned"]),
        final_acc=as_number(values["final_acc"]),
        best_acc=as_number(values["best_acc"]),
        best_epoch=_int(values["best_epoch"]),
        test_loss=as_number(values["test_loss"]),
        sec_per_epoch=as_number(values["sec_per_epoch"]),
        config=config,
        metrics=metrics,
        sweep=_text(meta.get("name")),
        seed=_int(meta["seed"] if "seed" in meta else (config or {}).get("seed")),
        point=meta["point"] if isinstance(meta.get("point"), dict) else None,
        best_split=_text(values["best_split"]),
        val_acc=as_number(values["val_acc"]),
        best_val_acc=as_number(values["best_val_acc"]),
        stopped_early=_int(values["stopped_early"]),
    )


def read_metrics(folder: str | Path) -> list[Epoch]:
    """metrics.csv as numbers; a row without an epoch number and a test accuracy is left out."""
    return [e for e in map(parse_row, read_csv(Path(folder) / "metrics.csv")) if e is not None]


def parse_row(row: dict[str, Any]) -> Epoch | None:
    """A metrics.csv row as numbers, or None without an epoch number and a test accuracy."""
    values = {k: as_number(row.get(k)) for k in METRICS}
    if values["epoch"] is None or values["test_acc"] is None:
        return None
    return Epoch(int(values.pop("epoch")), **{k: math.nan if v is None else v for k, v in values.items()})


def metrics_row(e: Epoch) -> dict[str, Any]:
    """An epoch as its metrics.csv row: the one place its numbers are formatted (no validation split: blanks)."""
    return {
        "epoch": e.epoch,
        "train_loss": f"{e.train_loss:.6f}",
        "train_acc": f"{e.train_acc:.3f}",
        "test_loss": f"{e.test_loss:.6f}",
        "test_acc": f"{e.test_acc:.3f}",
        "lr": f"{e.lr:.6g}",
        "seconds": f"{e.seconds:.3f}",
        "val_loss": "" if math.isnan(e.val_loss) else f"{e.val_loss:.6f}",
        "val_acc": "" if math.isnan(e.val_acc) else f"{e.val_acc:.3f}",
    }


def as_written(e: Epoch) -> Epoch:
    """The epoch as metrics.csv gives it back (its numbers rounded as written): what later readers will see."""
    written = parse_row(metrics_row(e))
    assert written is not None, f"epoch {e.epoch} has no test accuracy"
    return written


def epoch_rows(e: Epoch, norms: dict[str, float]) -> dict[str, list[Any]]:
    """A finished epoch's CSV rows, {file: [columns, row]}: metrics.csv, and grad_norms.csv when norms are logged."""
    rows: dict[str, list[Any]] = {"metrics.csv": [METRICS, metrics_row(e)]}
    if norms:
        rows["grad_norms.csv"] = [["epoch", *norms], {"epoch": e.epoch, **{k: f"{v:.6g}" for k, v in norms.items()}}]
    return rows


def results(metrics: Iterable[Epoch]) -> dict[str, Any]:
    """The summary's result keys as metrics rows tell them (None where there is no finished epoch)."""
    rows = list(metrics)
    if not rows:
        return {
            "epochs_done": 0,
            "final_acc": None,
            "final_test_loss": None,
            "final_train_loss": None,
            "best_acc": None,
            "best_epoch": None,
            "seconds_per_epoch": None,
            "best_split": None,
            "final_val_acc": None,
            "best_val_acc": None,
        }
    split = best_split(rows)
    best = max(rows, key=lambda r: r.val_acc if split == "val" else r.test_acc)  # the first of equals
    seconds = [r.seconds for r in rows if not math.isnan(r.seconds)]
    return {
        "epochs_done": rows[-1].epoch,
        "final_acc": rows[-1].test_acc,
        "final_test_loss": _nan_none(rows[-1].test_loss),
        "final_train_loss": _nan_none(rows[-1].train_loss),
        "best_acc": best.test_acc,
        "best_epoch": best.epoch,
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None,
        "best_split": split,
        "final_val_acc": _nan_none(rows[-1].val_acc),
        "best_val_acc": _nan_none(best.val_acc),
    }


def best_split(rows: list[Epoch]) -> str:
    """'val' when every row has a validation accuracy (the best epoch is chosen on it), else 'test'."""
    return "val" if rows and not any(math.isnan(r.val_acc) for r in rows) else "test"


@dataclass
class Summary:
    """summary.json as training writes it; `as_dict()` gives the file's keys, in the file's order."""

    name: str
    status: str  # one of STATUSES
    model: str
    params: int
    epochs: int  # planned
    epochs_done: int = 0  # from here to best_val_acc: the keys of results(), in its order
    final_acc: float | None = None
    final_test_loss: float | None = None
    final_train_loss: float | None = None
    best_acc: float | None = None
    best_epoch: int | None = None
    seconds_per_epoch: float | None = None
    best_split: str | None = None
    final_val_acc: float | None = None
    best_val_acc: float | None = None
    wall_seconds: float = 0.0
    device: str = ""
    started: str | None = None
    finished: str | None = None
    error: str | None = None
    host: str = ""
    pid: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None  # a sweep's trial: name, point, seed, trial (left out when None)
    resumed: int | None = None  # the epoch a resume went on from (left out when None)
    stopped_early: int | None = None  # the epoch after which train.early_stop ended the run (left out when None)

    def record(self, metrics: Iterable[Epoch]) -> None:
        """Set the result keys from the run's metrics rows (results())."""
        for key, value in results(metrics).items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in OPTIONAL_KEYS:
            if out[key] is None:
                del out[key]
        return out


OPTIONAL_KEYS = ("sweep", "resumed", "stopped_early")  # Summary's keys that summary.json has only when set


def new_summary(
    cfg: Config, params: int, device: str, versions: dict[str, str], metrics: Iterable[Epoch] = ()
) -> Summary:
    """summary.json of a run starting now (a resumed run passes the epochs it keeps)."""
    summary = Summary(
        name=cfg.name,
        status="running",
        model=cfg.model.name,
        params=params,
        epochs=cfg.train.epochs,
        device=device,
        started=time.strftime("%Y-%m-%dT%H:%M:%S"),
        host=socket.gethostname(),
        pid=os.getpid(),
        versions=versions,
    )
    summary.record(metrics)
    return summary


def alive(summary: dict[str, Any], folder: str | Path | None = None, other_host: bool = True) -> bool:
    """Whether a process still trains in the run folder: on this host, whether it holds the folder's RunLock.

    A run on another host (summary.json's `host`) cannot be checked from here: it counts as `other_host`.
    Without a folder (a sweep's worker before it has one), whether summary's pid still runs, other than this one."""
    if summary.get("host") != socket.gethostname():
        return other_host
    if folder is not None:
        return is_locked(folder)
    pid = summary.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def run_state(summary: dict[str, Any], folder: str | Path) -> str:
    """The summary's status, with `killed` for a run marked running that no process trains any more."""
    status = str(summary.get("status", "unknown"))
    return "killed" if status == "running" and not alive(summary, folder) else status


def _model_name(config: dict[str, Any] | None) -> Any:
    model = config.get("model") if config else None
    return model.get("name") if isinstance(model, dict) else model


def as_number(v: Any) -> float | None:
    """v as a number (ints stay ints), or None for None, bools and text that is not a number."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v if abs(v) < 2**63 else None  # a larger one is no count or accuracy, and breaks float formatting
    if isinstance(v, float):
        return v
    try:
        number = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and str(v).strip().lstrip("-").isdigit() else number


def _int(v: Any) -> int | None:
    number = as_number(v)
    return int(number) if number is not None and math.isfinite(number) and number == int(number) else None


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _nan_none(v: float) -> float | None:
    return None if math.isnan(v) else v
