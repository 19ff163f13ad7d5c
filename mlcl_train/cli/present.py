"""Commands that present runs: slides and report.

    mlcl-train slides runs/ -o results.pptx
    mlcl-train report runs/ -o report.html"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import RunsDirOpt, command, progress_line, records, run_paths, where

RunsArg = Annotated[
    Optional[list[Path]], typer.Argument(metavar="RUN", help="run folders, or folders of run folders [default: runs]")
]
TitleOpt = Annotated[
    Optional[str], typer.Option(metavar="TEXT", help="the title [default: the dataset and how many runs]")
]
FilterOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--filter",
        "-f",
        metavar="KEY=VALUE|GLOB",
        help="keep only matching runs, as in compare; repeat to narrow further",
    ),
]
EvalDeviceOpt = Annotated[
    str,
    typer.Option(
        "--device", metavar="DEVICE", help="where the best run's weights are evaluated: cpu | auto | cuda | mps"
    ),
]



@command
def slides(
    runs: RunsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="the deck to write (.pptx)")] = Path(
        "results.pptx"
    ),
    title: TitleOpt = None,
    filter_: FilterOpt = None,
    device: EvalDeviceOpt = "cpu",
    runs_dir: RunsDirOpt = None,
) -> None:
    """A PowerPoint deck of the runs: comparison table, one slide per run, curves, the best run's confusion matrix."""
    from mlcl_train.config.loader import check_device
    from mlcl_train.present.slides import check_output, write_slides

    check_output(output)
    check_device(device)
    paths = run_paths(runs, runs_dir)
    path, count = write_slides(records(paths), output, title, filter_ or [], device, where(paths), progress_line)
    typer.echo(f"wrote {path} ({count} slides)")


@command
def report(
    runs: RunsArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="the page to write (.html)")] = Path(
        "report.html"
    ),
    title: TitleOpt = None,
    filter_: FilterOpt = None,
    device: EvalDeviceOpt = "cpu",
    runs_dir: RunsDirOpt = None,
) -> None:
    """The same content as `slides`, as one self-contained HTML page (images inside it)."""
    from mlcl_train.config.loader import check_device
    from mlcl_train.present.report import check_output, write_report

    check_output(output)
    check_device(device)
    paths = run_paths(runs, runs_dir)
    path = write_report(records(paths), output, title, filter_ or [], device, where(paths), progress_line)
    typer.echo(f"wrote {path}")

