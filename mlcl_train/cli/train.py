"""Commands that train: train (one config or a series) and resume.

    mlcl-train --config configs/mlp_deep.yaml      # same as: mlcl-train train --config ...
    mlcl-train resume runs/20261127-101500-mlp_deep --epochs 20"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import ConfigOpt, ProgressOpt, SetOpt, TrustOpt, command, terminal_width
from mlcl_train.core import shipped


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
    from mlcl_train.sweeps.series import train_series

    paths = shipped.expand(config)
    sets = [*(set_ or []), *([f"device={device}"] if device else [])]
    show = sys.stderr.isatty() if progress is None else progress
    raise typer.Exit(train_series(paths, sets, runs_dir, show, name, terminal_width()))


def resume(
    run: Annotated[Path, typer.Argument(help="the run folder to continue")],
    epochs: Annotated[
        Optional[int], typer.Option(min=1, help="train up to this many epochs in all (extends the run)")
    ] = None,
    progress: ProgressOpt = None,
    trust_code: TrustOpt = False,
) -> None:
    """Continue an interrupted run from its last finished epoch, in the same folder."""
    from mlcl_train.training.jobs import resume_job

    end = resume_job(run, epochs, sys.stderr.isatty() if progress is None else progress, trust_code)
    if end.message:
        typer.echo(end.message, err=True)
    raise typer.Exit(end.code)
