"""Commands that use a run's model: predict, demo, export.

    mlcl-train predict runs/20261127-101500-cnn my_digit.jpg
    mlcl-train demo runs/20261127-101500-cnn
    mlcl-train export runs/20261127-101500-cnn --format onnx"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import TrustOpt, command, fail


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
    """Write the run's model as one ONNX file: input (N, 1, 28, 28) in [0, 1], output probabilities."""
    from mlcl_train.serve.export import export_run

    path = export_run(run, fmt, output, trust_code)
    typer.echo(f"wrote {path}")

