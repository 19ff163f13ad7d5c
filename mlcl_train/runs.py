"""The run folder: one new folder per run, every file in it complete at any moment.

    runs/20261127-101500-mlp_deep/
      config.yaml    the fully resolved config (pass it back to --config to re-run)
      metrics.csv    one row per finished epoch
      grad_norms.csv each layer's mean gradient norm per epoch (train.log_grad_norms)
      summary.json   status, final and best accuracy, parameters, device, versions, times
      log.txt        the lines printed on stdout
      model.pt       the weights after the last finished epoch (a state_dict)
      checkpoint.pt  model, optimizer, scheduler and random state, for `mlcl-train resume`

Whole files are written to a temporary name and renamed; metrics are appended a whole line
at a time. Reading needs no torch, so `compare` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from mlcl_train.errors import UserError
from mlcl_train.files import CONFIG_LIMIT, read_text

METRICS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"]
STATUSES = ("running", "completed", "interrupted", "diverged", "failed")
METRICS_LIMIT = 64 * 2**20  # bytes of metrics.csv: about 500,000 epochs
NAME_MAX = 100  # characters of a run name; the folder name adds a time stamp and must stay under 255 bytes


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
            raise UserError(f"cannot create a run folder in {runs_dir}: {err.strerror}; choose another --runs-dir") from None
        raise UserError(f"too many runs named {safe} in {runs_dir} this second")

    def write_text(self, name: str, text: str) -> None:
        """Write a whole file atomically (temporary file, fsync, rename)."""
        tmp = self.path / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        self.write_text(name, json.dumps(data, indent=2) + "\n")

    def save_torch(self, name: str, obj: Any) -> None:
        import torch

        tmp = self.path / f".{name}.tmp"
        torch.save(obj, tmp)
        os.replace(tmp, self.path / name)

    def append_row(self, name: str, columns: list[str], row: dict[str, Any]) -> None:
        """Append one CSV line (with the header first if the file is new) in a single write."""
        path = self.path / name
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        if not path.exists():
            writer.writeheader()
        writer.writerow(row)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, buf.getvalue().encode())
            os.fsync(fd)
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
        """Print a line on stdout and append it to log.txt."""
        print(line, flush=True)
        with open(self.path / "log.txt", "a", encoding="utf-8") as f:
            f.write(line + "\n")


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


def run_state(summary: dict[str, Any]) -> str:
    """The summary's status, with `killed` for a run marked running whose process on this host is gone."""
    status = str(summary.get("status", "unknown"))
    if status != "running" or summary.get("host") != socket.gethostname():
        return status  # a run on another host cannot be checked from here
    pid = summary.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return "killed"  # no process, or this one, which is not training it now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "killed"
    except PermissionError:  # another user's process: alive
        pass
    return "running"
