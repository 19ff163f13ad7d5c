"""One exit-code policy (errors.ending) for the command line and the API."""

from __future__ import annotations

import errno
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import DataError, Diverged, Stopped, UserError, ending

RUN = SimpleNamespace(path=Path("runs/x"), epochs=[1])


def with_run(err: BaseException, run: object = RUN) -> BaseException:
    err.run = run
    return err


@pytest.mark.parametrize("err,code,message,returned", [
    (None, 0, None, True),
    (UserError("bad key"), 2, "error: bad key", False),
    (DataError("truncated file"), 2, "error: truncated file", False),
    (with_run(Stopped(signal.SIGINT)), 130, None, False),
    (Stopped(signal.SIGTERM), 143, "interrupted (SIGTERM) before training began", False),
    (KeyboardInterrupt(), 130, "interrupted", False),
    (with_run(Diverged("loss nan")), 1, None, True),
    (RuntimeError("boom"), 1, "error: RuntimeError: boom (set MLCL_DEBUG=1 to see the traceback)", False),
    (with_run(OSError(errno.ENOSPC, "No space left on device")), 1,
     "error: no space left on device in runs/x; the run is marked failed; free some space, then continue with: "
     "mlcl-train resume runs/x", False),
], ids=["done", "user", "data", "sigint", "sigterm", "keyboard", "diverged", "other", "disk"])
def test_every_ending_has_one_code_and_at_most_one_line(err, code, message, returned) -> None:
    end = ending(err, RUN if err is None else None)
    assert (end.code, end.message, end.returns_run) == (code, message, returned)


@pytest.mark.parametrize("args,line", [
    (["compare", "--top", "0"], "error: --top must be >= 1"),
    (["compare", "--format=xml"], "error: --format 'xml': unknown format; valid: table, csv, json, markdown"),
    (["eval", "run", "--mistakes", "-1"], "error: --mistakes must be >= 0"),
    (["eval", "run", "--weights", "worst"], "error: --weights 'worst': unknown value; valid: last, best"),
    (["sweep", "s.yaml", "--workers", "0"], "error: --workers must be >= 1"),
    (["resume", "run", "--epochs", "0"], "error: --epochs must be >= 1"),
])
def test_a_bad_option_value_is_one_line_and_exit_code_2(args: list[str], line: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output == line + "\n"


@pytest.mark.parametrize("args,message", [
    (["train", "mlp_deep.yaml"], "error: no config given; try: mlcl-train train --config mlp_deep.yaml"),
    (["train", "a.yaml", "b.yml"], "error: no config given; try: mlcl-train train --config a.yaml --config b.yml"),
    (["summary"], "error: no config given; try: mlcl-train summary --config configs/mlp_deep.yaml"),
    (["train", "--set", "data.root=x.yaml", "--name", "b.yml", "c.yaml"],
     "error: no config given; try: mlcl-train train --config c.yaml"),  # options' values are not configs
], ids=["positional", "two", "none", "option-values"])
def test_a_command_without_its_config_says_how_to_give_it_in_one_line(args, message) -> None:
    """A config named without --config (as many scripts take it) is the first thing a student tries."""
    result = CliRunner().invoke(app, args)
    assert (result.exit_code, result.stderr) == (2, message + "\n")


def test_a_yaml_file_where_the_command_goes_names_both_commands_that_take_one() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "mlcl_train", "sweeps/width.yaml", "--workers", "2"],
                            capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (2, "error: sweeps/width.yaml is not a command; train a config "
                                                  "with: mlcl-train --config sweeps/width.yaml (a sweep file: "
                                                  "mlcl-train sweep sweeps/width.yaml)\n")
