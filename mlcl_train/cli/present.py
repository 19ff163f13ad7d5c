"""Commands that present runs: slides and report.

    mlcl-train slides runs/ -o results.pptx
    mlcl-train report runs/ -o report.html"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import BaselineOpt, RunsDirOpt, command, progress_line, records, run_paths, where
from mlcl_train.core.values import plural

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
LangOpt = Annotated[str, typer.Option("--lang", metavar="en|ko", help="the language of the deck's own words")]
ColumnsOpt = Annotated[
    Optional[list[str]],
    typer.Option("--columns", metavar="A,B,...", help="the comparison's columns, in order (as compare's); default: "
                 "the accuracy, its difference to the baseline, and the keys the accuracy varies most with"),
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
    baseline: BaselineOpt = None,
    appendix: Annotated[
        bool, typer.Option("--appendix/--no-appendix", help="the per-run slides after the talk")
    ] = True,
    lang: LangOpt = "en",
    columns: ColumnsOpt = None,
) -> None:
    """A deck for a 5-10 minute talk: setup, what each change did, curves, the best model's mistakes, findings,
    takeaways; then an appendix with the comparison and one slide per run. Speaker notes on every slide."""
    from mlcl_train.config.schema import check_device
    from mlcl_train.present.slides import check_output, write_slides

    check_output(output)
    check_device(device)
    paths = run_paths(runs, runs_dir)
    path, count = write_slides(records(paths), output, title, filter_ or [], device, where(paths), progress_line,
                               baseline, appendix, lang, columns or [])
    typer.echo(f"wrote {path} ({plural(count, 'slide')})")


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
    baseline: BaselineOpt = None,
    lang: LangOpt = "en",
    columns: ColumnsOpt = None,
) -> None:
    """The same content as `slides`, as one self-contained HTML page (images inside it)."""
    from mlcl_train.config.schema import check_device
    from mlcl_train.present.report import check_output, write_report

    check_output(output)
    check_device(device)
    paths = run_paths(runs, runs_dir)
    path = write_report(records(paths), output, title, filter_ or [], device, where(paths), progress_line,
                        baseline, lang, columns or [])
    typer.echo(f"wrote {path}")

