"""Which model files may run: those of the configs you name, and, from a run folder, only files you trained with.

    with reading_run(trust_code=False):      # predict, export, demo, eval, resume, load_run(...).net
        model = build_model(cfg)              # a FILE.py:Class is imported only if its SHA-256 is known

A config names its own model class as `FILE.py:Class`, and importing FILE runs it. A config you
pass (`train`, `summary`, `show-config`, a sweep) is your instruction: its file is imported, and
its SHA-256 is written to the list of known files ($XDG_DATA_HOME/mlcl-train/known_model_files,
~/.local/share/ by default). A run folder may come from someone else, with a file of theirs beside
it: a command that reads a run imports a model file only when that list holds its hash (you
trained with exactly these bytes on this machine), or when you say so (--trust-code).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterator

from mlcl_train.core.errors import UserError

KNOWN_LIMIT = 4 * 2**20  # bytes of the list: 50,000 files
_FROM_RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar("from_run", default=None)  # None | known | all


def known_list() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "mlcl-train" / "known_model_files"


@contextlib.contextmanager
def reading_run(trust_code: bool = False) -> Iterator[None]:
    """Within it, a model file is imported only if known (or with trust_code), and is not recorded as known."""
    token = _FROM_RUN.set("all" if trust_code else "known")
    try:
        yield
    finally:
        _FROM_RUN.reset(token)


def admit(path: Path, digest: str) -> None:
    """Allow importing the model file `path` whose content has this SHA-256, or raise a UserError saying why not."""
    mode = _FROM_RUN.get()
    if mode is None:
        _remember(path, digest)
    elif mode == "known" and digest not in _known():
        raise UserError(
            f"model.name: the run names its own model file {path}, which was not trained with on this machine "
            f"(SHA-256 {digest[:12]}... is not in {known_list()}; the file came with the run, or changed since); "
            "importing it runs its code, so it is not imported: if you trust it, pass --trust-code "
            "(trust_code=True in Python)")


def _known() -> set[str]:
    try:
        with open(known_list(), "rb") as f:
            text = f.read(KNOWN_LIMIT).decode("utf-8", "replace")
    except OSError:  # no list yet, or an unreadable one: nothing is known
        return set()
    return {line.split(" ", 1)[0] for line in text.splitlines() if line}


def _remember(path: Path, digest: str) -> None:
    """Add a line `<sha256> <path>` to the list (once per content); a list that cannot be written is left as it is."""
    if digest in _known():
        return
    try:
        known_list().parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(known_list(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{digest} {path}\n".encode())  # one write: lines from two processes never mix
        finally:
            os.close(fd)
    except OSError:
        pass  # a read-only home: runs of this file then need --trust-code, and say so
