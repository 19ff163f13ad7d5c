"""Where the wall time of one training command goes, phase by phase, in one process.

    python benchmarks/startup_phases.py configs/speedrun.yaml
    python benchmarks/startup_phases.py configs/speedrun.yaml --set train.epochs=1 --device cuda

Times (wall clock, from the interpreter's start) the import of the command line, of torch and of
the training loop, then the loop's own phases, each measured by wrapping the function named:
the model (engine.build_model), the data (data.loader.load_splits), the optimizer
(engine.make_optimizer: torch's optimizers import torch._dynamo on first use), the epochs
(loop.train_epoch), evaluation (engine.evaluate), and the end-of-epoch writes (loop._commit).
Also says whether torch._dynamo was imported.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time

START = time.perf_counter()
TIMES: dict[str, float] = {}


def timed(module: object, name: str, label: str) -> None:
    """Wrap module.name so that its calls add their seconds to TIMES[label]."""
    fn = getattr(module, name)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tic = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[label] = TIMES.get(label, 0.0) + time.perf_counter() - tic

    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--device")
    args = parser.parse_args()
    marks = {}
    import mlcl_train.cli.app  # noqa: F401  the command line, which imports no torch
    marks["import the command line"] = time.perf_counter()
    import torch  # noqa: F401
    marks["import torch"] = time.perf_counter()
    from mlcl_train.config.loader import load_config
    from mlcl_train.training import loop, setup

    marks["import the training loop"] = time.perf_counter()
    timed(setup, "build_model", "build the model")
    timed(setup, "load_splits", "load the data")  # setup's default data loader, bound at import: see below
    timed(setup, "make_optimizer", "build the optimizer")
    timed(loop, "train_epoch", "train (the epochs)")
    timed(loop, "evaluate", "evaluate")
    timed(loop, "_commit", "write checkpoint, metrics, summary")
    sets = args.set + ([f"device={args.device}"] if args.device else [])
    cfg = load_config(args.config, sets)
    with tempfile.TemporaryDirectory() as runs:
        tic = time.perf_counter()
        loop.train(cfg, runs, data_loader=setup.load_splits)
        done = time.perf_counter()
    previous = START
    print(f"{'phase':45} seconds")
    for label, mark in marks.items():
        print(f"{label:45} {mark - previous:6.2f}")
        previous = mark
    print(f"{'load the config':45} {tic - previous:6.2f}")
    for label, seconds in TIMES.items():
        print(f"  {label:43} {seconds:6.2f}")
    print(f"{'train (the loop, all of the above indented)':45} {done - tic:6.2f}")
    print(f"{'total (from the interpreter start)':45} {done - START:6.2f}")
    print(f"torch._dynamo imported: {'torch._dynamo' in sys.modules}")


if __name__ == "__main__":
    main()
