"""A Slurm job array for a sweep: each array task runs one worker against the sweep's storage.

    mlcl-train sweep sweeps/width_depth.yaml --slurm --partition gpu --gpus-per-task 1 --array-parallelism 8
    sbatch runs/sweeps/width_depth/slurm.sh

The tasks share the sweep's storage (a database URL, or the journal file on a shared file
system) and claim pairs as any worker does: no scheduler of our own, no submitit or Ray.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from mlcl_train.sweeps.spec import Sweep

NFS_WARNING = ("the tasks share the journal file {path}; it must be on a file system every node sees, "
               "and NFS file locking is not always reliable: for many tasks prefer --storage postgresql://...")


def write_script(
    sweep: Sweep,
    sweep_file: Path,
    runs_dir: Path,
    storage: str | None,
    partition: str | None,
    gpus_per_task: int | None,
    tasks: int,
    time_limit: str | None,
) -> tuple[Path, str]:
    """Write runs_dir/sweeps/<name>/slurm.sh; returns its path and the sbatch line. Without a database URL, a
    warning on stderr: every node must see the journal file."""
    folder = sweep.folder(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    options = [f"--job-name=mlcl-{sweep.name}", f"--array=0-{tasks - 1}", "--ntasks=1",
               f"--output={folder.resolve()}/slurm-%A_%a.out"]
    options += [f"--partition={partition}"] if partition else []
    options += [f"--gpus-per-task={gpus_per_task}"] if gpus_per_task else []
    options += [f"--time={time_limit}"] if time_limit else []
    command = [sys.executable, "-m", "mlcl_train", "sweep", str(sweep_file.resolve()),
               "--runs-dir", str(runs_dir.resolve()), "--workers", "1"]
    command += ["--storage", storage] if storage else []
    lines = [
        "#!/bin/bash",
        *(f"#SBATCH {o}" for o in options),
        f"# Each array task is one worker of the sweep {sweep.name} ({sweep.total} trials); the tasks share",
        "# the sweep's storage and each (point, seed) trains once. Re-submit to retrain what failed.",
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd()))}",
        'echo "array task ${SLURM_ARRAY_TASK_ID:-none} on $(hostname)"',
        "exec " + " ".join(map(shlex.quote, command)),
    ]
    path = folder / "slurm.sh"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    if not storage:
        print(f"warning: {NFS_WARNING.format(path=folder.resolve() / 'optuna.journal')}", file=sys.stderr)
    return path, f"sbatch {shlex.quote(str(path))}"
