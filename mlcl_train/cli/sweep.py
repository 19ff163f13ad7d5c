"""The sweep command: many structures, many seeds, on one machine or many.

    mlcl-train sweep sweeps/width_depth.yaml --workers 2   # run again to resume"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mlcl_train.cli.common import command, fail


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

