"""Wall time of the commands a student runs dozens of times, and of training's start.

    python benchmarks/bench_startup.py --repeats 7
    python benchmarks/bench_startup.py --repeats 3 --train-only --device cuda   # training's start on a GPU

Measures (median over repeats) `mlcl-train --help`, `models`, `show-config`, `compare` on a
folder of 20 run folders, `python -c "import torch"`, and the train command from its start to
its first optimizer step (the process exits there, through a global optimizer hook).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "mlcl-train"  # the console script, as a student runs it
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "mlcl_train"]
FIRST_STEP = """
import os, sys
from torch.optim.optimizer import register_optimizer_step_pre_hook
register_optimizer_step_pre_hook(lambda *args: os._exit(0))  # leave at the first optimizer step
from mlcl_train.cli.app import main
sys.argv = ["mlcl-train", "--config", sys.argv[1], "--runs-dir", sys.argv[2], "--no-progress", *sys.argv[3:]]
main()
"""


def wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def twenty_runs(folder: Path) -> Path:
    """20 small run folders that differ in model.hidden and the learning rate."""
    subprocess.run(
        [
            *CLI,
            "--config",
            "configs/mlp_deep.yaml",
            "--set",
            "train.epochs=1",
            "--set",
            "data.train_subset=256",
            "--runs-dir",
            str(folder / "seed"),
            "--no-progress",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    (seed,) = (folder / "seed").iterdir()
    runs = folder / "runs"
    for i in range(20):
        copy = runs / f"{seed.name}-{i:02d}"
        shutil.copytree(seed, copy)
        text = (copy / "config.yaml").read_text().replace("hidden: [512, 256]", f"hidden: [{64 * (i + 1)}]")
        (copy / "config.yaml").write_text(text.replace("lr: 0.01", f"lr: 0.0{i % 5 + 1}"))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--train-only", action="store_true", help="only `import torch` and training's start")
    parser.add_argument("--device", help="train on this device (default: the config's, auto)")
    args = parser.parse_args()
    n = args.repeats
    device = ["--device", args.device] if args.device else []
    with tempfile.TemporaryDirectory() as tmp:
        first_step = [sys.executable, "-c", FIRST_STEP, "configs/mlp_deep.yaml", str(Path(tmp) / "first"), *device]
        if args.train_only:
            results = {'python -c "import torch"': wall([sys.executable, "-c", "import torch"], n),
                       "train: start to first optimizer step": wall(first_step, n)}
            report(results, n)
            return
        runs = twenty_runs(Path(tmp))
        results = {
            "mlcl-train --help": wall([*CLI, "--help"], n),
            "mlcl-train models": wall([*CLI, "models"], n),
            "mlcl-train show-config": wall([*CLI, "show-config", "--config", "configs/mlp_deep.yaml"], n),
            "mlcl-train compare (20 runs)": wall([*CLI, "compare", str(runs)], n),
            'python -c "import torch"': wall([sys.executable, "-c", "import torch"], n),
            "train: start to first optimizer step": wall(first_step, n),
        }
    report(results, n)


def report(results: dict[str, float], n: int) -> None:
    for name, seconds in results.items():
        print(f"{name:<40} {seconds:6.3f} s (median of {n})")
    extra = results["train: start to first optimizer step"] - results['python -c "import torch"']
    print(f"{'train start beyond importing torch':<40} {extra:6.3f} s")


if __name__ == "__main__":
    main()
