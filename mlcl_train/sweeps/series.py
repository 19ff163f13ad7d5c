"""Several configs trained one after another (`mlcl-train train --config a.yaml --config b.yaml`, or a glob), and
the table of their runs at the end, best first.

    code = train_series([Path("configs/mlp_deep.yaml"), Path("configs/cnn.yaml")], [], Path("runs"), False)

Every config is trained even when one before it fails; Ctrl-C or SIGTERM stops the whole series. With one
config it is the plain training job: no headers, no table.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlcl_train.core.values import plural
from mlcl_train.training.jobs import train_job


def train_series(paths: list[Path], sets: list[str], runs_dir: Path, progress: bool, name: str | None = None,
                 width: int = 120) -> int:
    """Train each config into a new run folder under runs_dir; the exit code (the first stop's, else 1 if any
    failed). width: the end table's, in characters."""
    from mlcl_train.runs.store import echo  # a closed stdout (`| head`) does not stop the series

    ends = []
    for path in paths:
        if len(paths) > 1:
            echo(f"----- {path} -----")
        ends.append(train_job(path, sets, runs_dir, progress, name))
        if ends[-1].message:
            print(ends[-1].message, file=sys.stderr)
        if ends[-1].stopped:
            break
    if len(paths) == 1:
        return ends[0].code
    trained = [end.run for end in ends if end.run is not None]
    if trained:
        from mlcl_train.inspect.compare import render, sort_runs

        echo(f"----- {plural(len(trained), 'run')}, best first -----")
        left_out: list[str] = []
        echo(render(sort_runs(trained), width=width, left_out=left_out).rstrip("\n"))
        if left_out:
            echo(f"(left out to fit: {', '.join(left_out)}; all columns: mlcl-train compare --format csv)")
    if ends[-1].stopped:
        return ends[-1].code
    failed = [str(path) for path, end in zip(paths, ends, strict=False) if end.code]  # a stopped series has fewer
    if failed:
        print(f"error: {len(failed)} of {len(paths)} configs failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
