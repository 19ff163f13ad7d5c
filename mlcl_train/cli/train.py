"""Commands that train: train (one config or a series) and resume.

    mlcl-train --config configs/mlp_deep.yaml      # same as: mlcl-train train --config ...
    mlcl-train resume runs/20261127-101500-mlp_deep --epochs 20"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from mlcl_train.cli.common import (
    ConfigOpt,
    ProgressOpt,
    SetOpt,
    TrustOpt,
    command,
    expand_configs,
    fail,
    terminal_width,
)
from mlcl_train.core.errors import UserError

if TYPE_CHECKING:
    from mlcl_train.runs.store import RunRecord


@command
def train(
    config: ConfigOpt,
    set_: SetOpt = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="where run folders go")] = Path("runs"),
    name: Annotated[
        Optional[str], typer.Option(help="run name (default: the config's name, else the file's stem)")
    ] = None,
    device: Annotated[Optional[str], typer.Option(help="shortcut for --set device=...")] = None,
    progress: ProgressOpt = None,
) -> None:
    """Train and evaluate the model of each config; each run gets a new folder under --runs-dir."""
    paths = expand_configs(config)
    sets = [*(set_ or []), *([f"device={device}"] if device else [])]
    show = sys.stderr.isatty() if progress is None else progress
    if len(paths) == 1:
        raise typer.Exit(_train_one(paths[0], sets, runs_dir, show, name)[0])
    from mlcl_train.runs.store import echo  # a closed stdout (`| head`) does not stop the series

    codes, trained = [], []
    for path in paths:
        echo(f"----- {path} -----")
        code, record = _train_one(path, sets, runs_dir, show, name)
        codes.append(code)
        trained += [record] if record is not None else []
        if code in (130, 143):  # Ctrl-C or SIGTERM stops the whole series
            break
    if trained:
        from mlcl_train.inspect.compare import render, sort_runs

        echo(f"----- {len(trained)} runs, best first -----")
        echo(render(sort_runs(trained), width=terminal_width()).rstrip("\n"))  # all columns: mlcl-train compare
    failed = [str(p) for p, code in zip(paths, codes, strict=False) if code]  # a stopped series has fewer codes
    if codes[-1] in (130, 143):
        raise typer.Exit(codes[-1])
    if failed:
        typer.echo(f"error: {len(failed)} of {len(paths)} configs failed: {', '.join(failed)}", err=True)
    raise typer.Exit(1 if failed else 0)


def resume(
    run: Annotated[Path, typer.Argument(help="the run folder to continue")],
    epochs: Annotated[Optional[int], typer.Option(help="train up to this many epochs in all (extends the run)")] = None,
    progress: ProgressOpt = None,
    trust_code: TrustOpt = False,
) -> None:
    """Continue an interrupted run from its last finished epoch, in the same folder."""
    if epochs is not None and epochs < 1:
        fail("--epochs must be >= 1")
    show = sys.stderr.isatty() if progress is None else progress
    raise typer.Exit(_training(_resume, run, epochs, show, trust_code)[0])



def _train_one(
    path: Path, sets: list[str], runs_dir: Path, progress: bool, name: str | None
) -> tuple[int, RunRecord | None]:
    return _training(_train_config, path, sets, runs_dir, progress, name)


def _train_config(path: Path, sets: list[str], runs_dir: Path, progress: bool, name: str | None) -> RunRecord:
    from mlcl_train.training.loop import train_file

    return train_file(path, sets, runs_dir, progress, name)


def _resume(run: Path, epochs: int | None, progress: bool, trust_code: bool) -> RunRecord:
    from mlcl_train.training.loop import resume as resume_run

    return resume_run(run, epochs, progress, trust_code)


def _training(work: Callable[..., RunRecord], *args: Any) -> tuple[int, RunRecord | None]:
    """Run a training job; map every way it can end to an exit code, with the run's record when there is one."""
    from mlcl_train.core.errors import Diverged, Failed, Stopped

    try:
        from mlcl_train.core import signals

        with signals.deferred():  # a signal in the middle of torch's import waits for its end
            import torch  # noqa: F401
        return 0, work(*args)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        return err.exit_code, None
    except Stopped as stop:
        if stop.run is None:  # the run's folder says so itself when there is one
            typer.echo(f"interrupted ({stop}) before training began", err=True)
        return stop.exit_code, stop.run
    except KeyboardInterrupt:  # where the command line's handler is not installed (app() called directly)
        typer.echo("interrupted", err=True)
        return 130, None
    except Diverged as diverged:  # the run's folder and log say so
        return 1, diverged.run
    except Exception as err:
        error, record = (err.error, err.run) if isinstance(err, Failed) else (err, None)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            typer.echo(f"error: {no_space(error, record)}", err=True)
            return 1, record
        if os.environ.get("MLCL_DEBUG"):
            raise
        typer.echo(f"error: {type(error).__name__}: {error} (set MLCL_DEBUG=1 to see the traceback)", err=True)
        return 1, record


def no_space(err: OSError, record: RunRecord | None) -> str:
    """The one line for a full disk: where, and how to go on."""
    if record is None:
        where = Path(err.filename).parent if err.filename else "the runs folder"
        return f"no space left on device in {where}; free some space and start the run again"
    if record.epochs:
        then = f"continue with: mlcl-train resume {record.path}"
    else:
        then = f"start it again with: mlcl-train --config {record.path / 'config.yaml'}"
    return f"no space left on device in {record.path}; the run is marked failed; free some space, then {then}"

