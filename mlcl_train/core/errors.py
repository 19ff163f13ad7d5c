"""Errors a user can cause: the CLI prints them as one line and exits with their code."""


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

    A BaseException, like KeyboardInterrupt: an `except Exception` in a library must not swallow it."""

    run = None  # the runs.RunRecord of the stopped run, once its folder is written

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


class Diverged(Exception):
    """A training or test loss became NaN, infinite or exploded; the message says which; `run` is the run's record."""

    run = None  # the runs.RunRecord of the diverged run


class Pruned(Exception):
    """Raised by an on_epoch callback to stop a trial that trails the others; `run` is the run's record."""

    run = None  # the runs.RunRecord of the pruned run
