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
    ConfigOpt,
    RunsDirOpt,
    SetOpt,
    TrustOpt,
    command,
    expand_configs,
    fail,
    run_paths,
    terminal_width,
)
from mlcl_train.core import shipped


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
    top: Annotated[Optional[int], typer.Option(metavar="N", help="show only the first N runs")] = None,
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
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table | csv | json | markdown")] = "table",
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
) -> None:
    """One row per run, best first: results, status, and a column per config key that differs between the runs.

    Status: completed, running, interrupted, diverged, failed, pruned; incomplete (no summary.json),
    broken (unreadable summary.json), killed (marked running, but its process is gone).
    """
    from mlcl_train.inspect.compare import FORMATS, NO_RUNS
    from mlcl_train.inspect.compare import compare as compare_runs
    from mlcl_train.runs.store import read_runs

    if top is not None and top < 1:
        fail("--top must be >= 1")
    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: unknown format; valid: {', '.join(FORMATS)}")
    records = read_runs(run_paths(paths, runs_dir), NO_RUNS)
    if group:
        from mlcl_train.inspect.compare import filter_runs
        from mlcl_train.inspect.groups import METRICS, best_first, group_runs, render_groups, seedless_keys

        if fmt == "json":
            fail("--group prints table, markdown or csv")
        if sort not in METRICS:
            fail(f"--group sorts by a mean: --sort {' | '.join(METRICS)}")
        kept = filter_runs(records, filter_ or [])
        keys = seedless_keys(kept)
        groups = best_first(group_runs(kept, keys), sort)[:top]
        text = render_groups(groups, keys, sort, {"table": "text"}.get(fmt, fmt))
        typer.echo(text, nl=False)
        return
    width, left_out = terminal_width(), []
    typer.echo(compare_runs(records, sort, reverse, top, filter_ or [], fmt, columns or [], width, left_out), nl=False)
    if left_out:
        typer.echo(f"note: {len(left_out)} columns did not fit {width} characters: {', '.join(left_out)}; "
                   "choose columns with --columns, or see them all with --format csv", err=True)


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
    if augment is not None:
        from mlcl_train.config.loader import load_config
        from mlcl_train.inspect.plot import augment_figure

        if runs:
            fail("--augment draws from a config; pass no run folders with it")
        typer.echo(f"wrote {augment_figure(load_config(augment, set_ or []), output)}")
        return
    from mlcl_train.inspect.plot import NO_RUNS, plot_runs
    from mlcl_train.runs.store import read_runs

    if not runs:
        fail("pass run folders to plot (or --augment CONFIG)")
    path, notes = plot_runs(read_runs(runs, NO_RUNS), output, acc_only, grad_norms, params)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {path}")


@command
def eval_run(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN", help="the run folders to evaluate")],
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", metavar="DIR", help="folder for the images [default: each run's folder]"),
    ] = None,
    device: Annotated[str, typer.Option(metavar="DEVICE", help="where to evaluate: cpu | auto | cuda | mps")] = "cpu",
    mistakes: Annotated[int, typer.Option(metavar="N", help="how many wrong test images to show (0: none)")] = 24,
    weights: Annotated[
        str, typer.Option(metavar="WHICH", help="last (model.pt, the last finished epoch) | best (best.pt)")
    ] = "last",
    trust_code: TrustOpt = False,
) -> None:
    """Evaluate runs' saved weights on the test split: accuracy, per class, confusion matrix, mistakes."""
    if mistakes < 0:
        fail("--mistakes must be >= 0")
    from mlcl_train.config.loader import check_device

    check_device(device)
    from mlcl_train.core.table import render
    from mlcl_train.inspect.evaluation import WEIGHTS, class_table, evaluate_run
    from mlcl_train.runs.store import read_run

    for run in runs:
        if not run.is_dir():
            fail(f"{run}: no such folder; pass run folders such as runs/20261127-101500-mlp_deep")
    for i, run in enumerate(runs):
        out = output / run.name if output is not None and len(runs) > 1 else output  # one folder per run
        record = read_run(run)
        result = evaluate_run(record, out, device, mistakes, which=weights, trust_code=trust_code)
        recorded = "" if result.final_acc is None else f" (the run recorded {result.final_acc:.3f}%)"
        images = sum(n for n, _ in result.per_class)
        shown = "" if weights == "last" else f" | weights best.pt (epoch {record.best_epoch})"
        typer.echo(("\n" if i else "") + f"Run {run} | {images:,} test images | device {device}{shown}")
        if weights == "best" and record.best_split != "val":
            typer.echo(f"note: {run.name}: this best epoch was chosen on the test split itself, so its test "
                       "accuracy is optimistic; train with data.val_split to choose on validation", err=True)
        typer.echo(f"Test Loss: {result.loss:.6f}")
        typer.echo(f"[Test Result] {result.acc:.3f}%{recorded}")
        if result.final_acc is not None and abs(result.acc - result.final_acc) > 0.01:
            typer.echo(
                f"note: {run.name}: this differs from the recorded accuracy: "
                f"the data or {WEIGHTS[weights]} changed since the run",
                err=True,
            )
        headers, rows, right = class_table(result)
        typer.echo(render(headers, rows, right=right, rule=False), nl=False)
        for path in result.files:
            typer.echo(f"wrote {path}")


@command
def summary(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the model's layers with output shapes and parameter counts, without training."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.inspect.summary import summarize

    for i, path in enumerate(expand_configs(config)):
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

    for path in expand_configs(config):
        typer.echo(to_yaml(load_config(path, set_ or [])), nl=False)

