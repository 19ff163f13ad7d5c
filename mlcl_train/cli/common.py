"""What the commands share: the options several take, one line per user error, the folders read-only commands read."""

from __future__ import annotations

import functools
import glob
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Optional

import typer

from mlcl_train.core import shipped
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


def run_paths(paths: list[Path] | None, runs_dir: Path | None) -> list[Path]:
    """The folders a read-only command looks at: the paths given, --runs-dir, else runs/."""
    return [*(paths or []), *([runs_dir] if runs_dir else [])] or [Path("runs")]


def records(paths: list[Path]) -> list[RunRecord]:
    from mlcl_train.inspect.compare import NO_RUNS
    from mlcl_train.runs.store import read_runs

    return read_runs(paths, NO_RUNS)


def terminal_width() -> int:
    """The width a table fits: the terminal's (at least 80), or COLUMNS, else 120 (output to a pipe or file)."""
    import shutil

    return max(shutil.get_terminal_size((120, 24)).columns, 80)


def progress_line(step: str) -> None:
    """A step of a command that takes a while, on stderr."""
    typer.echo(f"  {step}", err=True)


def where(paths: list[Path]) -> str:
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

