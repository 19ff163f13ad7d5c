"""The sweep command: many structures, many seeds, on one machine or many.

    mlcl-train sweep sweeps/width_depth.yaml --workers 2   # run again to resume"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlcl_train.cli.common import command


@command
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP.yaml", help="the sweep file (see sweeps/)")],
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="worker processes on this machine")] = 1,
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
    page: Annotated[int, typer.Option(min=1, metavar="N", help="--dry-run, --status: the Nth page of 100 rows")] = 1,
    slurm: Annotated[bool, typer.Option("--slurm", help="write an sbatch job-array script")] = False,
    partition: Annotated[Optional[str], typer.Option(help="--slurm: the partition")] = None,
    gpus_per_task: Annotated[Optional[int], typer.Option(help="--slurm: GPUs per array task")] = None,
    array_parallelism: Annotated[
        int, typer.Option(min=1, metavar="M", help="--slurm: array tasks (workers) at once")
    ] = 4,
    time_limit: Annotated[Optional[str], typer.Option("--time", metavar="T", help="--slurm: limit per task")] = None,
) -> None:
    """Train every (point, seed) of a sweep file; run the same command again to resume it."""
    from mlcl_train.sweeps.spec import describe, load_sweep, parse_gpus, status_table
    gpu_ids = parse_gpus(gpus)
    spec = load_sweep(sweep_file, check=not status)
    if dry_run or status:
        typer.echo(describe(spec, page) if dry_run else status_table(spec, runs_dir, page), nl=False)
        return
    if slurm:
        from mlcl_train.sweeps.slurm import write_script
        typer.echo("wrote {}\nsubmit it with: {}".format(*write_script(
            spec, sweep_file, runs_dir, storage, partition, gpus_per_task, array_parallelism, time_limit)))
        return
    from mlcl_train.sweeps.study import run_sweep
    code = run_sweep(spec, storage, runs_dir, workers, gpu_ids)
    typer.echo(status_table(spec, runs_dir), nl=False)
    raise typer.Exit(code)
