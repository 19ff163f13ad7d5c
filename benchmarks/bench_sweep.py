"""Sweep overheads: one worker against separate commands, two workers against one, --status on 500 trials.

    OMP_NUM_THREADS=1 python benchmarks/bench_sweep.py [--repeats 3] [--only status|workers|all]

12 trials of 1 epoch on data.train_subset=5000 (12 widths of a one-layer MLP, one seed):
(a) `mlcl-train sweep` with one worker against the same 12 trials as 12 `mlcl-train --config` commands;
(b) two workers against one (each worker one thread); (c) `sweep --status` on a sweep folder of
500 trials (copies of one trial's run folder, each with its own point). Prints one line per number.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
WIDTHS = [16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384]
SET = {"train.epochs": 1, "data.train_subset": 5000, "device": "cpu"}
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def cli(*args: str) -> float:
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlcl_train", *args], cwd=ROOT, env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - tic


def sweep_file(folder: Path, name: str, widths: list[int]) -> Path:
    path = folder / f"{name}.yaml"
    data = {"name": name, "base": str(ROOT / "configs" / "mlp_deep.yaml"), "set": SET, "seeds": [1],
            "space": {"model.hidden": [[w] for w in widths]}}
    path.write_text(yaml.safe_dump(data))
    return path


def separate(folder: Path) -> float:
    sets = [f"--set={k}={v}" for k, v in SET.items()]
    return sum(cli("--config", "configs/mlp_deep.yaml", *sets, f"--set=model.hidden=[{w}]",
                   "--runs-dir", str(folder / "separate"), "--no-progress") for w in WIDTHS)


def status_500(folder: Path) -> float:
    """--status on 500 trial folders made from one real trial."""
    runs = folder / "runs"
    path = sweep_file(folder, "five_hundred", list(range(1, 501)))
    cli("sweep", str(sweep_file(folder, "one", [8])), "--runs-dir", str(runs))
    trial = next((runs / "sweeps" / "one").glob("*-one-*"))
    target = runs / "sweeps" / "five_hundred"
    target.mkdir(parents=True)
    for width in range(1, 501):
        copy = target / f"{trial.name}-{width}"
        shutil.copytree(trial, copy)
        summary = json.loads((copy / "summary.json").read_text())
        summary["sweep"] = {"name": "five_hundred", "point": {"model.hidden": [width]}, "seed": 1, "trial": width}
        (copy / "summary.json").write_text(json.dumps(summary))
    cli("sweep", str(path), "--status", "--runs-dir", str(runs))  # warm the file cache
    return min(cli("sweep", str(path), "--status", "--runs-dir", str(runs)) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="sweeps of one and of two workers, alternated")
    parser.add_argument("--only", choices=["status", "workers", "all"], default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only in ("status", "all"):
            print(f"status_500_trials_s {status_500(folder):.2f}", flush=True)
        if args.only == "status":
            return
        ones, twos = [], []
        for r in range(args.repeats):
            ones.append(cli("sweep", str(sweep_file(folder, f"one_{r}", WIDTHS)), "--runs-dir", str(folder / "runs")))
            twos.append(cli("sweep", str(sweep_file(folder, f"two_{r}", WIDTHS)), "--runs-dir", str(folder / "runs"),
                            "--workers", "2"))
            print(f"sweep_1_worker_s {ones[-1]:.1f}  sweep_2_workers_s {twos[-1]:.1f}", flush=True)
        one, two = statistics.median(ones), statistics.median(twos)
        print(f"median: 1 worker {one:.1f} s, 2 workers {two:.1f} s, ratio {two / one:.2f}", flush=True)
        if args.only == "all":
            apart = separate(folder)
            print(f"separate_commands_s {apart:.1f}  sweep/separate {one / apart:.2f}", flush=True)


if __name__ == "__main__":
    main()
