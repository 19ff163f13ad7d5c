"""Errors a user can cause: the CLI prints them as one line and exits with their code."""


class UserError(Exception):
    """Bad input from the user (config, paths, options); exit code 2."""

    exit_code = 2


class DataError(UserError):
    """Missing, truncated or corrupt data files."""


class Stopped(Exception):
    """SIGINT or SIGTERM arrived during training; exit_code is 130 or 143; `run` is the run's record."""

    run = None  # the runs.RunRecord of the stopped run, once its folder is written

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


class Diverged(Exception):
    """The training loss became NaN or infinite; `run` is the run's record."""

    run = None  # the runs.RunRecord of the diverged run


class Pruned(Exception):
    """Raised by an on_epoch callback to stop a trial that trails the others; `run` is the run's record."""

    run = None  # the runs.RunRecord of the pruned run
