"""The command line: one typer app, its commands from one module per group (cli/train.py, cli/inspect.py,
cli/present.py, cli/serve.py, cli/sweep.py, cli/course.py). Commands parse their options and call the
library; errors a user can cause print one line on stderr and exit non-zero. Torch is imported only by
commands that train.

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

import sys
from typing import Annotated

import typer

from mlcl_train import __version__
from mlcl_train.cli import course, inspect, present, serve, sweep, train
from mlcl_train.cli.common import Command
from mlcl_train.core import shipped

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
COMMANDS = [  # in the order --help lists them
    train.train, train.resume,
    inspect.compare, inspect.plot, inspect.eval_run,
    serve.predict, serve.demo, serve.export,
    present.slides, present.report,
    inspect.summary, inspect.models, inspect.show_config,
    sweep.sweep,
    course.init, course.backprop,
]
NAMES = {inspect.eval_run: "eval"}  # where the command's name is not its function's (show_config: show-config)
for function in COMMANDS:
    app.command(NAMES.get(function), cls=Command)(function)


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
    if args and args[0].lower().endswith((".yaml", ".yml")):  # a file where a command goes
        typer.echo(f"error: {args[0]} is not a command; train a config with: mlcl-train --config {args[0]} "
                   f"(a sweep file: mlcl-train sweep {args[0]})", err=True)
        sys.exit(2)
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
