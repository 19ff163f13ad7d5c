"""Commands of the course: init (copy the shipped configs) and backprop (the first homework worked by hand).

    mlcl-train init my_course
    mlcl-train backprop --steps 3"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlcl_train.cli.common import command
from mlcl_train.core import shipped
from mlcl_train.core.values import plural


@command
def init(
    folder: Annotated[Path, typer.Argument(help="where to put configs/ (created if missing)")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite files that differ from the shipped ones")] = False,
) -> None:
    """Copy the shipped configs into FOLDER/configs, to edit; an existing file is kept unless --force."""
    written, kept = shipped.copy_into(folder, force)
    for path in kept:
        typer.echo(f"kept {path} (it differs from the shipped one; --force overwrites it)", err=True)
    into = ", ".join(f"{sum(p.is_relative_to(folder / name) for p in written)} into {folder / name}"
                     for name in shipped.FOLDERS)
    typer.echo(f"copied {plural(len(written), 'file')} ({into})" + (f", kept {len(kept)}" if kept else ""))
    typer.echo(f"train one with: mlcl-train --config {folder / shipped.FOLDERS[0] / 'mlp_deep.yaml'}")


def _weight(into: str, source: str) -> Any:
    return Annotated[Optional[float], typer.Option(help=f"the weight into {into} from {source}")]


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

