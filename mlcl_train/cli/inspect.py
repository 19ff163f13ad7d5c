"""Commands that read runs and configs: compare, plot, eval, summary, models, show-config.

    mlcl-train compare runs/ --format markdown
    mlcl-train plot runs/*-hw2_baseline runs/*-mlp_deep -o curves.png
    mlcl-train eval runs/20261127-101500-mlp_deep
    mlcl-train summary --config configs/mlp_deep.yaml
    mlcl-train models
    mlcl-train show-config --config configs/mlp_deep.yaml"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import (
    BaselineOpt,
    Choice,
    ConfigOpt,
    RunsDirOpt,
    SetOpt,
    TrustOpt,
    Weights,
    WeightsOpt,
    command,
    fail,
    records,
    run_paths,
    terminal_width,
)
from mlcl_train.core import shipped
from mlcl_train.core.values import plural

RunsFormat = Choice("RunsFormat", {f: f for f in ("table", "csv", "json", "markdown")})  # compare.FORMATS


@command
def compare(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(metavar="PATH", help="run folders, or folders of run folders [default: runs]"),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="KEY", help="column or dotted config key to sort by (accuracies best first, the rest low to high)"
        ),
    ] = "best_acc",
    reverse: Annotated[bool, typer.Option("--reverse", help="reverse the order")] = False,
    top: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="show only the first N runs")] = None,
    filter_: Annotated[
        Optional[list[str]],
        typer.Option(
            "--filter",
            "-f",
            metavar="KEY=VALUE|GLOB",
            help="KEY=VALUE on a column or config key (also != > >= < <=; VALUE may be a glob), "
            "or a glob on the run name ('mlp*'); repeat to narrow further",
        ),
    ] = None,
    fmt: Annotated[RunsFormat, typer.Option("--format", help="how to print the table")] = RunsFormat.table,
    columns: Annotated[
        Optional[list[str]],
        typer.Option(
            "--columns",
            metavar="A,B,...",
            help="the columns to show, in order: result columns, label, or dotted config keys "
            "(e.g. --columns label,best_acc,model.hidden); default: the results and the keys that differ",
        ),
    ] = None,
    runs_dir: RunsDirOpt = None,
    group: Annotated[
        bool, typer.Option("--group", help="one row per setting: runs that differ only by seed, mean ± std")
    ] = False,
    baseline: BaselineOpt = None,
) -> None:
    """One row per run, best first: results, status, and a column per config key that differs between the runs.

    Status: completed, running, interrupted, diverged, failed, pruned; incomplete (no summary.json),
    broken (unreadable summary.json), killed (marked running, but its process is gone).
    """
    from mlcl_train.inspect.compare import compare as compare_runs
    from mlcl_train.inspect.groups import compare_groups

    found = records(run_paths(paths, runs_dir))
    width, left_out = terminal_width(), []
    if group:
        text = compare_groups(found, sort, top, filter_, fmt.value, width, left_out)
    else:
        text = compare_runs(found, sort, reverse, top, filter_ or [], fmt.value, columns or [], width, left_out,
                            baseline)
    typer.echo(text, nl=False)
    if left_out:
        typer.echo(f"note: {plural(len(left_out), 'column')} did not fit {width} characters: {', '.join(left_out)}; "
                   f"{'' if group else 'choose columns with --columns, or '}see them all with --format csv", err=True)


@command
def plot(
    runs: Annotated[
        Optional[list[Path]], typer.Argument(metavar="RUN", help="run folders, or folders of run folders")
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="image to write (.png, .pdf or .svg)")
    ] = Path("plot.png"),
    acc_only: Annotated[bool, typer.Option("--acc-only", help="only the test accuracy")] = False,
    grad_norms: Annotated[
        bool,
        typer.Option("--grad-norms", help="each layer's gradient norm per epoch (grad_norms.csv), one panel per run"),
    ] = False,
    params: Annotated[
        bool, typer.Option("--params", help="a sweep's best accuracy against each swept key, one panel per key")
    ] = False,
    augment: Annotated[
        Optional[Path],
        typer.Option("--augment", metavar="CONFIG", help="draw training images as the config's data.augment "
                     "distorts them, instead of runs"),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Plot loss and test accuracy per epoch of one or more runs in one figure (or, with --augment, a grid of
    augmented training images)."""
    from mlcl_train.inspect.plot import NO_RUNS, augment_figure, plot_runs
    from mlcl_train.runs.store import read_runs

    if augment is not None:
        from mlcl_train.config.loader import load_config

        if runs:
            fail("--augment draws from a config; pass no run folders with it")
        typer.echo(f"wrote {augment_figure(load_config(augment, set_ or []), output)}")
        return
    if not runs:
        fail("pass run folders to plot (or --augment CONFIG)")
    path, notes = plot_runs(read_runs(runs, NO_RUNS), output, acc_only, grad_norms, params)
    typer.echo("".join(f"note: {note}\n" for note in notes), err=True, nl=False)
    typer.echo(f"wrote {path}")


@command
def eval_run(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN", help="the run folders to evaluate")],
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", metavar="DIR", help="folder for the images [default: each run's folder]"),
    ] = None,
    device: Annotated[str, typer.Option(metavar="DEVICE", help="where to evaluate: cpu | auto | cuda | mps")] = "cpu",
    mistakes: Annotated[
        int, typer.Option(min=0, metavar="N", help="how many wrong test images to show (0: none)")
    ] = 24,
    weights: WeightsOpt = Weights.last,
    trust_code: TrustOpt = False,
) -> None:
    """Evaluate runs' saved weights on the test split: accuracy, per class, confusion matrix, mistakes."""
    from mlcl_train.inspect.evaluation import report

    for text, note in report(runs, output, device, mistakes, weights.value, trust_code):
        typer.echo(text, err=note)


@command
def summary(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the model's layers with output shapes and parameter counts, without training."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.inspect.summary import summarize

    for i, path in enumerate(shipped.expand(config)):
        typer.echo(("\n" if i else "") + f"{path}: " + summarize(load_config(path, set_ or [])), nl=False)


@command
def models(
    pattern: Annotated[str, typer.Argument(help="only names matching this glob")] = "*",
) -> None:
    """List the registered models with their arguments and defaults."""
    from mlcl_train.models import describe, list_models

    names = list_models(pattern)
    if not names:
        fail(f"no model matches {pattern!r}; run 'mlcl-train models' for the list")
    for name in names:
        typer.echo("\n".join(describe(name)))
    if pattern == "*":  # the whole list ends with where the configs that use them are
        typer.echo(f"\nShipped configs, by name (--config mlp_deep): {shipped.location()} "
                   "('mlcl-train init' copies them)")


@command
def show_config(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the fully resolved config (defaults, extends and --set applied) as YAML."""
    from mlcl_train.config.loader import load_config, to_yaml

    for path in shipped.expand(config):
        typer.echo(to_yaml(load_config(path, set_ or [])), nl=False)

