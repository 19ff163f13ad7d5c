"""A training job as the command line runs it: every way it can end becomes an `errors.Ending` (an exit code, a
line for stderr, the run's record), by the one policy of `errors.ending`.

    end = train_job("configs/mlp_deep.yaml", ["train.epochs=3"], Path("runs"), progress=True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mlcl_train.core import signals
from mlcl_train.core.errors import Ending, Stopped, ending


def run_job(work: Callable[..., Any], *args: Any) -> Ending:
    """Run work(*args), which returns the run's record; MLCL_DEBUG=1 lets an unexpected error's traceback through."""
    try:
        with signals.deferred():  # a signal in the middle of torch's import waits for its end
            import torch  # noqa: F401
        return ending(None, work(*args))
    except (Exception, Stopped, KeyboardInterrupt) as err:
        end = ending(err)
        if end.message and end.message.endswith("(set MLCL_DEBUG=1 to see the traceback)") and os.environ.get(
                "MLCL_DEBUG"):
            raise
        return end


def train_job(path: Path, sets: list[str], runs_dir: Path, progress: bool, name: str | None = None) -> Ending:
    """Train one config file (`mlcl-train train --config PATH`) into a new run folder under runs_dir."""
    from mlcl_train.training.loop import train_file

    return run_job(train_file, path, sets, runs_dir, progress, name)


def resume_job(run: Path, epochs: int | None, progress: bool, trust_code: bool = False) -> Ending:
    """Continue a run from its last finished epoch (`mlcl-train resume RUN`)."""
    from mlcl_train.training.loop import resume

    return run_job(resume, run, epochs, progress, trust_code)
