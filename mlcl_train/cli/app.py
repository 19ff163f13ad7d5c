"""The command line. Commands parse their options and call the library; errors a user can
cause print one line on stderr and exit non-zero. Torch is imported only by commands that train.

    mlcl-train --config configs/mlp_deep.yaml      # same as: mlcl-train train --config ...
    mlcl-train compare runs/ --format markdown
    mlcl-train plot runs/*-hw2_baseline runs/*-mlp_deep -o curves.png
    mlcl-train eval runs/20261127-101500-mlp_deep
    mlcl-train summary --config configs/mlp_deep.yaml
    mlcl-train slides runs/ -o results.pptx        # and: mlcl-train report runs/ -o report.html
    mlcl-train models
    mlcl-train show-config --config configs/mlp_deep.yaml
    mlcl-train backprop --steps 3
    mlcl-train sweep sweeps/width_depth.yaml --workers 2   # many structures; run again to resume
    mlcl-train predict runs/20261127-101500-cnn my_digit.jpg     # and: demo RUN, export RUN --format onnx
    mlcl-train init my_course                      # copy the shipped configs into a folder, to edit
"""

from __future__ import annotations

import errno
import functools
import glob
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Optional

import typer

from mlcl_train import __version__
from mlcl_train.core import shipped
from mlcl_train.core.errors import UserError

if TYPE_CHECKING:
    from mlcl_train.runs.store import RunRecord

app = typer.Typer(
    name="mlcl-train",
    help="Train, compare and present MNIST model-structure experiments from YAML configs.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    epilog=f"Shipped configs (--config mlp_deep, --config lessons/vanishing_relu) are in {shipped.location()}; "
    "'mlcl-train init DIR' copies them into DIR/configs to edit.",
)

ConfigOpt = Annotated[
    list[str], typer.Option("--config", "-c", help="YAML config file (repeat, or quote a glob, for several)")
]
SetOpt = Annotated[
    Optional[list[str]], typer.Option("--set", "-s", help="override a key: --set train.epochs=3 (value is YAML)")
]
RunsDirOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--runs-dir", metavar="DIR", help="a folder of run folders, as given to train (same as passing it as a path)"
    ),
]
TrustOpt = Annotated[
    bool,
    typer.Option("--trust-code", help="import the model file (FILE.py:Class) the run names even if it is not one you "
                 "trained with on this machine; importing it runs its code"),
]
ProgressOpt = Annotated[
    Optional[bool],
    typer.Option("--progress/--no-progress", help="progress bars on stderr (default: when it is a terminal)"),
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose UserError becomes one line on stderr and its exit code."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            fail(str(err), err.exit_code)

    return run


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlcl-train {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Train, compare and present MNIST model-structure experiments from YAML configs.

    mlcl-train --config configs/mlp_deep.yaml is short for mlcl-train train --config ...
    """


@app.command()
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
        echo(render(sort_runs(trained), width=_width()).rstrip("\n"))  # all columns: mlcl-train compare
    failed = [str(p) for p, code in zip(paths, codes, strict=False) if code]  # a stopped series has fewer codes
    if codes[-1] in (130, 143):
        raise typer.Exit(codes[-1])
    if failed:
        typer.echo(f"error: {len(failed)} of {len(paths)} configs failed: {', '.join(failed)}", err=True)
    raise typer.Exit(1 if failed else 0)


@app.command()
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


@app.command()
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
    records = read_runs(_run_paths(paths, runs_dir), NO_RUNS)
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
    width, left_out = _width(), []
    typer.echo(compare_runs(records, sort, reverse, top, filter_ or [], fmt, columns or [], width, left_out), nl=False)
    if left_out:
        typer.echo(f"note: {len(left_out)} columns did not fit {width} characters: {', '.join(left_out)}; "
                   "choose columns with --columns, or see them all with --format csv", err=True)


@app.command()
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


@app.command("eval")
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


@app.command()
@command
def predict(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="the run folder whose model reads the images")],
    images: Annotated[
        list[Path], typer.Argument(metavar="IMAGE", help="PNG or JPEG pictures of one digit (or garment) each")
    ],
    top: Annotated[int, typer.Option(metavar="N", help="how many classes to show per image")] = 3,
    save_preprocessed: Annotated[Optional[Path], typer.Option(
        metavar="DIR", help="write the 28x28 image the model saw, one PNG per image")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table | json")] = "table",
    device: Annotated[str, typer.Option(metavar="DEVICE", help="cpu | auto | cuda | mps")] = "cpu",
    weights: Annotated[
        str, typer.Option(metavar="WHICH", help="last (model.pt, the last finished epoch) | best (best.pt)")
    ] = "last",
    trust_code: TrustOpt = False,
) -> None:
    """Read your own images as MNIST was made (crop, scale to 20 px, centre) and print the top classes."""
    if fmt not in ("table", "json"):
        fail(f"--format: unknown format {fmt!r}; valid: table, json")

    from mlcl_train.serve.predict import predict_files

    results = predict_files(run, images, top, save_preprocessed, device, weights, trust_code)
    if fmt == "json":
        import json

        typer.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        from mlcl_train.serve.predict import render_table

        typer.echo(render_table(results), nl=False)
    if save_preprocessed is not None:
        typer.echo(f"wrote {len(results)} images the model saw to {save_preprocessed}", err=True)


@app.command()
@command
def demo(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="the run folder whose model reads the drawing")],
    port: Annotated[int, typer.Option(help="the port on 127.0.0.1")] = 8000,
    trust_code: TrustOpt = False,
) -> None:
    """Serve a page on 127.0.0.1 where you draw a digit and watch the model's probabilities. Ctrl-C stops it."""
    from mlcl_train.serve.demo import serve

    serve(run, port, lambda url: typer.echo(f"Draw a digit at {url} (Ctrl-C stops)"), trust_code)
    typer.echo("stopped")


@app.command()
@command
def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="the run folder to export")],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="onnx")] = "onnx",
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="the file to write [default: model.onnx in the run folder]")] = None,
    trust_code: TrustOpt = False,
) -> None:
    """Write the run's model as one ONNX file: input (N, 1, 28, 28) in [0, 1], output probabilities."""
    from mlcl_train.serve.export import export_run

    path = export_run(run, fmt, output, trust_code)
    typer.echo(f"wrote {path}")


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


@app.command()
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
    paths = _run_paths(runs, runs_dir)
    path, count = write_slides(_records(paths), output, title, filter_ or [], device, _where(paths), _progress)
    typer.echo(f"wrote {path} ({count} slides)")


@app.command()
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
    paths = _run_paths(runs, runs_dir)
    typer.echo(f"wrote {write_report(_records(paths), output, title, filter_ or [], device, _where(paths), _progress)}")


@app.command()
@command
def summary(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the model's layers with output shapes and parameter counts, without training."""
    from mlcl_train.config.loader import load_config
    from mlcl_train.inspect.summary import summarize

    for i, path in enumerate(expand_configs(config)):
        typer.echo(("\n" if i else "") + f"{path}: " + summarize(load_config(path, set_ or [])), nl=False)


@app.command()
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


@app.command("show-config")
@command
def show_config(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the fully resolved config (defaults, extends and --set applied) as YAML."""
    from mlcl_train.config.loader import load_config, to_yaml

    for path in expand_configs(config):
        typer.echo(to_yaml(load_config(path, set_ or [])), nl=False)


@app.command()
@command
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP.yaml", help="the sweep file (see sweeps/)")],
    workers: Annotated[int, typer.Option(metavar="N", help="worker processes on this machine")] = 1,
    gpus: Annotated[
        Optional[str], typer.Option(metavar="IDS", help="CUDA: spread the workers over these GPUs, e.g. 0,1")
    ] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(metavar="URL", help="a database URL (postgresql://...) every host joins [default: a journal "
                     "file in the sweep's folder]"),
    ] = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="trials go to DIR/sweeps/<name>/")] = Path("runs"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the points and the trial count")] = False,
    status: Annotated[bool, typer.Option("--status", help="print the table of results so far")] = False,
    slurm: Annotated[bool, typer.Option("--slurm", help="write an sbatch job-array script")] = False,
    partition: Annotated[Optional[str], typer.Option(help="--slurm: the partition")] = None,
    gpus_per_task: Annotated[Optional[int], typer.Option(help="--slurm: GPUs per array task")] = None,
    array_parallelism: Annotated[int, typer.Option(metavar="M", help="--slurm: array tasks (workers) at once")] = 4,
    time_limit: Annotated[Optional[str], typer.Option("--time", metavar="T", help="--slurm: limit per task")] = None,
) -> None:
    """Train every (point, seed) of a sweep file; run the same command again to resume it."""
    from mlcl_train.sweeps.spec import describe, load_sweep

    if workers < 1:
        fail("--workers must be >= 1")
    if array_parallelism < 1:
        fail("--array-parallelism must be >= 1")
    gpu_ids = [g.strip() for g in gpus.split(",")] if gpus else None
    if gpu_ids is not None and not all(g.isdigit() for g in gpu_ids):
        fail(f"--gpus {gpus!r}: expected GPU numbers separated by commas, e.g. --gpus 0,1")
    spec = load_sweep(sweep_file, check=not status)
    if dry_run:
        typer.echo(describe(spec), nl=False)
        return
    if status:
        typer.echo(_sweep_status(spec, runs_dir), nl=False)
        return
    if slurm:
        from mlcl_train.sweeps.slurm import write_script

        path, line, warning = write_script(spec, sweep_file, runs_dir, storage, partition, gpus_per_task,
                                           array_parallelism, time_limit)
        if warning:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"wrote {path}\nsubmit it with: {line}")
        return
    from mlcl_train.sweeps.study import run_sweep

    typer.echo(f"sweep {spec.name}: {spec.total} trials, {workers} worker{'s' if workers > 1 else ''}", err=True)
    code = run_sweep(spec, storage, runs_dir, workers, gpu_ids)
    typer.echo(_sweep_status(spec, runs_dir), nl=False)
    raise typer.Exit(code)


def _sweep_status(spec: Any, runs_dir: Path) -> str:
    from mlcl_train.inspect.groups import sweep_status
    from mlcl_train.runs.store import read_runs

    folder = runs_dir / "sweeps" / spec.name
    return sweep_status(spec, read_runs([folder], full=False) if folder.is_dir() else [])


@app.command()
@command
def init(
    folder: Annotated[Path, typer.Argument(help="where to put configs/ (created if missing)")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite files that differ from the shipped ones")] = False,
) -> None:
    """Copy the shipped configs into FOLDER/configs, to edit; an existing file is kept unless --force."""
    written, kept = shipped.copy_into(folder, force)
    for path in kept:
        typer.echo(f"kept {path} (it differs from the shipped one; --force overwrites it)", err=True)
    where = folder / shipped.FOLDERS[0]
    typer.echo(f"copied {len(written)} files into {where}" + (f", kept {len(kept)}" if kept else ""))
    typer.echo(f"train one with: mlcl-train --config {where / 'mlp_deep.yaml'}")


def _weight(into: str, source: str) -> Any:
    return Annotated[Optional[float], typer.Option(help=f"the weight into {into} from {source}")]


@app.command()
@command
def backprop(
    from_: Annotated[
        Optional[Path], typer.Option("--from", help="YAML file with any of the option names as keys")
    ] = None,
    w11h: _weight("hidden node 1", "input 1") = None,
    w12h: _weight("hidden node 1", "input 2") = None,
    w21h: _weight("hidden node 2", "input 1") = None,
    w22h: _weight("hidden node 2", "input 2") = None,
    w11o: _weight("the output", "hidden node 1") = None,
    w12o: _weight("the output", "hidden node 2") = None,
    x1: Annotated[Optional[float], typer.Option(help="input 1")] = None,
    x2: Annotated[Optional[float], typer.Option(help="input 2")] = None,
    y: Annotated[Optional[float], typer.Option(help="the target output")] = None,
    eta: Annotated[Optional[float], typer.Option(help="step size (> 0)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="iterations on the same example")] = None,
) -> None:
    """Backpropagation worked by hand on the first homework's net: 2 inputs, 2 hidden, 1 output.

    Every neuron is a sigmoid, no biases; E = 1/2 (o - y)^2. wij^h is the weight into hidden
    node i from input j, wij^o into output node i from hidden node j. Without options: the
    homework (w11h=0.1 w12h=0.3 w21h=0.3 w22h=0.4 w11o=0.4 w12o=0.6, x=[0.2, 0.6], y=0.7,
    eta=10, one iteration). Options override the --from file, which overrides the homework.
    """
    from mlcl_train.lessons import backprop as bp

    given = dict(
        w11h=w11h, w12h=w12h, w21h=w21h, w22h=w22h, w11o=w11o, w12o=w12o, x1=x1, x2=x2, y=y, eta=eta, steps=steps
    )
    params = bp.load_params(from_, {k: v for k, v in given.items() if v is not None})
    w_h, w_o, x, target = bp.homework_net(params)
    typer.echo(bp.render(bp.train(w_h, w_o, x, target, params["eta"], params["steps"])), nl=False)


def _run_paths(paths: list[Path] | None, runs_dir: Path | None) -> list[Path]:
    """The folders a read-only command looks at: the paths given, --runs-dir, else runs/."""
    return [*(paths or []), *([runs_dir] if runs_dir else [])] or [Path("runs")]


def _records(paths: list[Path]) -> list[RunRecord]:
    from mlcl_train.inspect.compare import NO_RUNS
    from mlcl_train.runs.store import read_runs

    return read_runs(paths, NO_RUNS)


def _width() -> int:
    """The width a table fits: the terminal's (at least 80), or COLUMNS, else 120 (output to a pipe or file)."""
    import shutil

    return max(shutil.get_terminal_size((120, 24)).columns, 80)


def _progress(step: str) -> None:
    """A step of a command that takes a while, on stderr."""
    typer.echo(f"  {step}", err=True)


def _where(paths: list[Path]) -> str:
    return ", ".join(map(str, paths))


def expand_configs(patterns: list[str]) -> list[Path]:
    """Config paths from --config values; a value with *, ? or [ is a glob (leaving out names that start with _)."""
    paths: list[Path] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(p for p in glob.glob(pattern) if not Path(p).name.startswith("_"))
            matches = matches or shipped.glob(pattern)
            if not matches:
                raise UserError(f"--config {pattern!r} matches no file")
            paths += map(Path, matches)
        else:
            paths.append(Path(pattern))
    return paths


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
    from mlcl_train.core.errors import Diverged, Stopped

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
    except Exception as err:
        record = getattr(err, "run", None)
        if isinstance(err, Diverged):
            return 1, record
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            typer.echo(f"error: {no_space(err, record)}", err=True)
            return 1, record
        if os.environ.get("MLCL_DEBUG"):
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (set MLCL_DEBUG=1 to see the traceback)", err=True)
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


COMMANDS_WITHOUT_TRAIN = {"--help", "-h", "--version"}


def expand_args(args: list[str]) -> list[str]:
    """`mlcl-train --config X` means `mlcl-train train --config X`: options first mean the train command."""
    if args and args[0].startswith("-") and args[0] not in COMMANDS_WITHOUT_TRAIN:
        return ["train", *args]
    return args


def unquoted_set(args: list[str]) -> str | None:
    """The first --set value that a shell split at a space (`--set model.hidden=[1024, 512]` unquoted), or None."""
    for option, text in zip(args, args[1:], strict=False):
        if option in ("--set", "-s") and (text.count("[") > text.count("]") or text.count("{") > text.count("}")):
            return text
    return None


def main() -> None:
    """Console entry point. From here on, Ctrl-C and SIGTERM end the process with 130 or 143, never a traceback."""
    from mlcl_train.core import signals
    from mlcl_train.core.errors import Stopped

    signals.install_for_process()
    args = expand_args(sys.argv[1:])
    cut = unquoted_set(args)
    if cut is not None:
        key = cut.partition("=")[0]
        typer.echo(f"error: --set {cut!r} ends at a space: quote the whole value, e.g. --set '{key}=[1024, 512]'",
                   err=True)
        sys.exit(2)
    try:
        app(args=args, prog_name="mlcl-train")
    except Stopped as stop:  # outside a training job (those report their own): nothing to clean up
        typer.echo(f"interrupted ({stop})", err=True)
        sys.exit(stop.exit_code)
