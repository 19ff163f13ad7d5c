"""Errors a user can cause: the CLI prints them as one line and exits with their code."""


class UserError(Exception):
    """Bad input from the user (config, paths, options); exit code 2."""

    exit_code = 2


class DataError(UserError):
    """Missing, truncated or corrupt data files."""
