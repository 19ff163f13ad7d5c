"""Commands that use a run's model: predict, demo, export.

    mlcl-train predict runs/20261127-101500-cnn my_digit.jpg
    mlcl-train demo runs/20261127-101500-cnn
    mlcl-train export runs/20261127-101500-cnn --format onnx"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import Choice, TrustOpt, Weights, WeightsOpt, command
from mlcl_train.core.datasets import IMAGE_SIZE, INPUT_SHAPE
from mlcl_train.core.values import plural

PredictFormat = Choice("PredictFormat", {"table": "table", "json": "json"})


@command
def predict(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="the run folder whose model reads the images")],
    images: Annotated[
        list[Path], typer.Argument(metavar="IMAGE", help="PNG or JPEG pictures of one digit (or garment) each")
    ],
    top: Annotated[int, typer.Option(min=1, metavar="N", help="how many classes to show per image")] = 3,
    save_preprocessed: Annotated[Optional[Path], typer.Option(
        metavar="DIR", help=f"write the {IMAGE_SIZE}x{IMAGE_SIZE} image the model saw, one PNG per image")] = None,
    fmt: Annotated[PredictFormat, typer.Option("--format", help="how to print the predictions")] = PredictFormat.table,
    device: Annotated[str, typer.Option(metavar="DEVICE", help="cpu | auto | cuda | mps")] = "cpu",
    weights: WeightsOpt = Weights.last,
    trust_code: TrustOpt = False,
) -> None:
    """Read your own images as MNIST was made (crop, scale to 20 px, centre) and print the top classes."""
    from mlcl_train.serve.predict import predict_files, render

    results = predict_files(run, images, top, save_preprocessed, device, weights.value, trust_code)
    typer.echo(render(results, fmt.value), nl=False)
    if save_preprocessed is not None:
        typer.echo(f"wrote {plural(len(results), 'image')} the model saw to {save_preprocessed}", err=True)


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


@command
def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="the run folder to export")],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="onnx")] = "onnx",
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="the file to write [default: model.onnx in the run folder]")] = None,
    trust_code: TrustOpt = False,
) -> None:
    from mlcl_train.serve.export import export_run

    typer.echo(f"wrote {export_run(run, fmt, output, trust_code)}")


export.__doc__ = (  # its --help, with the data set's shape
    f"Write the run's model as one ONNX file: input (N, {', '.join(map(str, INPUT_SHAPE))}) in [0, 1], "
    "output probabilities.")

