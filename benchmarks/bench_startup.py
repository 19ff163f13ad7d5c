"""Wall time of the commands a student runs dozens of times, and of training's start.

    python benchmarks/bench_startup.py --repeats 7

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
from mlcl_train.cli import main
sys.argv = ["mlcl-train", "--config", sys.argv[1], "--runs-dir", sys.argv[2], "--no-progress"]
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
    args = parser.parse_args()
    n = args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        runs = twenty_runs(Path(tmp))
        results = {
            "mlcl-train --help": wall([*CLI, "--help"], n),
            "mlcl-train models": wall([*CLI, "models"], n),
            "mlcl-train show-config": wall([*CLI, "show-config", "--config", "configs/mlp_deep.yaml"], n),
            "mlcl-train compare (20 runs)": wall([*CLI, "compare", str(runs)], n),
            'python -c "import torch"': wall([sys.executable, "-c", "import torch"], n),
            "train: start to first optimizer step": wall(
                [sys.executable, "-c", FIRST_STEP, "configs/mlp_deep.yaml", str(Path(tmp) / "first")], n
            ),
        }
    for name, seconds in results.items():
        print(f"{name:<40} {seconds:6.3f} s (median of {n})")
    extra = results["train: start to first optimizer step"] - results['python -c "import torch"']
    print(f"{'train start beyond importing torch':<40} {extra:6.3f} s")


if __name__ == "__main__":
    main()
