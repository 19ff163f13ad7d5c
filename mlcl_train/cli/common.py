"""What the commands share: the options several take, one line per user error, the folders read-only commands read."""

from __future__ import annotations

import enum
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Optional, Sequence

import typer
from typer.core import TyperCommand, TyperOption

from mlcl_train.core.errors import UserError

if TYPE_CHECKING:
    from mlcl_train.runs.store import RunRecord

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
BaselineOpt = Annotated[
    Optional[str],
    typer.Option("--baseline", metavar="RUN|NAME", help="the run the others are described against: a run folder or "
                 "a run's name (default: the oldest run named *baseline*, else the oldest run)"),
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


class Command(TyperCommand):
    """A command whose bad option values (out of the range typer states, not one of its choices) are one line on
    stderr and exit code 2, as every other bad input is, instead of typer's usage text."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given_args = list(args)  # parsing empties args
        try:
            return super().parse_args(ctx, args)
        except typer.BadParameter as err:
            if type(err).__name__ == "MissingParameter" and "--config" in getattr(err.param, "opts", ()):
                fail(missing_config(ctx.info_name, given_args, self.params))
            if type(err) is not typer.BadParameter or not isinstance(err.param, TyperOption):
                raise  # a missing value, an argument: typer's own text
            fail(bad_value(err.param, given(given_args, err.param.opts), err.message))


def missing_config(command: str | None, args: Sequence[str], params: Sequence[Any]) -> str:
    """The one line for a command run without --config; a YAML file given as an argument (not as an option's
    value, such as --set's or --name's) is named in the fix."""
    valued = {opt for p in params if isinstance(p, TyperOption) and not p.is_flag for opt in p.opts}
    files = [arg for before, arg in zip(["", *args], args, strict=False)
             if before not in valued and not arg.startswith("-") and arg.lower().endswith((".yaml", ".yml"))]
    example = " ".join(f"--config {f}" for f in files) or "--config configs/mlp_deep.yaml"
    return f"no config given; try: mlcl-train {command} {example}"


def bad_value(option: TyperOption, value: str | None, message: str) -> str:
    """The one line for an option's bad value: the range or the choices typer knows from its declaration."""
    name, low = option.opts[0], getattr(option, "min", None)
    choices = [c.value for c in Choice.of(option)]
    if choices:
        what = "format" if name == "--format" else "value"
        return f"{name} {value!r}: unknown {what}; valid: {', '.join(choices)}"
    if low is not None and value is not None and value.lstrip("-").isdigit() and int(value) < low:
        return f"{name} must be >= {low}"
    return f"{name} {value!r}: {message}"


def given(args: Sequence[str], opts: Sequence[str]) -> str | None:
    """The value the command line gave an option last (`--top 0` or `--top=0`), or None."""
    value = None
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(f"{opt}="):
                value = arg[len(opt) + 1:]
    return value


class Choice(str, enum.Enum):
    """The base of an option's choices: `Format = Choice("Format", FORMATS)`; typer lists them in --help."""

    @staticmethod
    def of(option: TyperOption) -> list[Choice]:
        """The choices of an option declared with a Choice, else []."""
        kind = getattr(getattr(option, "type_descriptor", None), "annotation", None)
        return list(kind) if isinstance(kind, type) and issubclass(kind, Choice) else []


Weights = Choice("Weights", {"last": "last", "best": "best"})  # evaluation.WEIGHTS
WeightsOpt = Annotated[
    Weights, typer.Option(help="the weights: last (model.pt, the last finished epoch) or best (best.pt)")
]


def run_paths(paths: list[Path] | None, runs_dir: Path | None) -> list[Path]:
    """The folders a read-only command looks at: the paths given, --runs-dir, else runs/."""
    return [*(paths or []), *([runs_dir] if runs_dir else [])] or [Path("runs")]


def records(paths: list[Path]) -> list[RunRecord]:
    """The runs in paths; a note on stderr names the sweep trials under a folder's sweeps/, which are left out."""
    from mlcl_train.inspect.compare import NO_RUNS
    from mlcl_train.runs.store import read_runs, sweeps_left_out

    found = read_runs(paths, NO_RUNS)
    if note := sweeps_left_out(paths):
        typer.echo(f"note: {note}", err=True)
    return found


def terminal_width() -> int:
    """The width a table fits: the terminal's (at least 80), or COLUMNS, else 120 (output to a pipe or file)."""
    import shutil

    return max(shutil.get_terminal_size((120, 24)).columns, 80)


def progress_line(step: str) -> None:
    """A step of a command that takes a while, on stderr."""
    typer.echo(f"  {step}", err=True)


def where(paths: list[Path]) -> str:
    return ", ".join(map(str, paths))
