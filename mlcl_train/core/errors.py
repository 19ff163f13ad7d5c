"""Errors a user can cause, and how a job ends: `ending(err)` is the one exit-code policy of the command
line and the API (UserError 2, Stopped 130 or 143, Diverged and any other failure 1)."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RunRecord = Any  # a runs.store.RunRecord: runs/ is a layer above this one, so it is not imported here


def first_line(err: BaseException) -> str:
    """The first line of an error's message (torch's often run to many lines), or its type's name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class UserError(Exception):
    """Bad input from the user (config, paths, options); exit code 2."""

    exit_code = 2


class DataError(UserError):
    """Missing, truncated or corrupt data files."""


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived; exit_code is 130 or 143; `run` is the run's record, if a run folder exists.

    A BaseException, like KeyboardInterrupt: an `except Exception` in a library must not swallow it.
    The signal handler raises it without a run; the training loop raises it again with one."""

    def __init__(self, signum: int, run: RunRecord | None = None) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum
        self.run = run  # the runs.RunRecord of the stopped run, once its folder is written


class Diverged(Exception):
    """A training or test loss became NaN, infinite or exploded; the message says which; `run` is the run's record."""

    def __init__(self, message: str, run: RunRecord | None = None) -> None:
        super().__init__(message)
        self.run = run  # the runs.RunRecord of the diverged run, once the loop has written it


class Pruned(Exception):
    """Raised by an on_epoch callback to stop a trial that trails the others; `run` is the run's record."""

    def __init__(self, *args: object, run: RunRecord | None = None) -> None:
        super().__init__(*args)
        self.run = run  # the runs.RunRecord of the pruned run, once the loop has written it


class Failed(Exception):
    """Another error ended a run after its folder was made: `error` is that error, `run` the run's record.

    The command line prints `error` as it would without a run; the Python API raises `error` itself."""

    def __init__(self, error: Exception, run: RunRecord) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.run = run


SIGINT_EXIT, SIGTERM_EXIT = 130, 143  # Stopped.exit_code of Ctrl-C and of SIGTERM


@dataclass(frozen=True)
class Ending:
    """How a job ended, for the command line (an exit code and a line) and the API (a run returned, or raised)."""

    code: int  # 0 done; 1 failed or diverged; 2 bad input (UserError); 130, 143 stopped
    message: str | None = None  # the one line for stderr; None where the run's own log said it
    run: Any = None  # the run's record (runs.RunRecord), where a run folder was written

    @property
    def returns_run(self) -> bool:
        """The run ran to its end (completed, or diverged: its status says which), so the caller gets its record."""
        return self.run is not None and self.code in (0, 1) and self.message is None

    @property
    def stopped(self) -> bool:
        return self.code in (SIGINT_EXIT, SIGTERM_EXIT)


def ending(err: BaseException | None, run: Any = None) -> Ending:
    """The one exit-code policy: how a job that raised err (None: it finished, returning run) ends."""
    if isinstance(err, Failed):  # another error, after the run's folder was made
        run, err = err.run, err.error
    run = getattr(err, "run", None) if run is None else run
    if err is None or isinstance(err, Diverged):  # a diverged run's log and summary say so
        return Ending(0 if err is None else 1, None, run)
    if isinstance(err, UserError):
        return Ending(err.exit_code, f"error: {err}")
    if isinstance(err, Stopped):  # the run's folder says so itself when there is one
        return Ending(err.exit_code, None if run is not None else f"interrupted ({err}) before training began", run)
    if isinstance(err, KeyboardInterrupt):  # where the command line's handler is not installed
        return Ending(SIGINT_EXIT, "interrupted")
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return Ending(1, f"error: {no_space(err, run)}", run)
    return Ending(1, f"error: {type(err).__name__}: {err} (set MLCL_DEBUG=1 to see the traceback)", run)


def no_space(err: OSError, run: Any) -> str:
    """The one line for a full disk: where, and how to go on (run: the run's record, or None)."""
    if run is None:
        where = Path(err.filename).parent if err.filename else "the runs folder"
        return f"no space left on device in {where}; free some space and start the run again"
    if run.epochs:
        then = f"continue with: mlcl-train resume {run.path}"
    else:
        then = f"start it again with: mlcl-train --config {run.path / 'config.yaml'}"
    return f"no space left on device in {run.path}; the run is marked failed; free some space, then {then}"
