"""Errors a user can cause: the CLI prints them as one line and exits with their code."""

from __future__ import annotations

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
