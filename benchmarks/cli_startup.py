"""Wall time of the commands that do not train: `mlcl-train --help` and `mlcl-train compare` on 20 runs.

    python benchmarks/cli_startup.py                  # trains one 1-epoch run, copies it 20 times
    python benchmarks/cli_startup.py --from runs/20261127-101500-mlp_deep --repeat 30

Each copy gets a different config (hidden widths, learning rate, activation) and accuracy, so
compare has differing keys to find. Prints the median, min and max of --repeat fresh processes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "mlcl_train"]


def make_runs(folder: Path, source: Path | None, n: int) -> Path:
    """n run folders in folder/runs, copies of source (or of a fresh 1-epoch run) with varied configs."""
    if source is None:
        subprocess.run([*CLI, "--config", str(ROOT / "configs/mlp_deep.yaml"), "--runs-dir", str(folder / "seed"),
                        "--set", "train.epochs=1", "--set", "data.train_subset=2000", "--device", "cpu",
                        "--no-progress"], check=True, capture_output=True, cwd=ROOT)
        source = next((folder / "seed").iterdir())
    runs = folder / "runs"
    for i in range(n):
        run = shutil.copytree(source, runs / f"20261127-1200{i:02d}-run{i}")
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        cfg["name"] = f"run{i}"
        cfg["model"]["hidden"] = [64 * (1 + i % 4), 32 * (1 + i % 3)]
        cfg["model"]["activation"] = ("relu", "sigmoid", "tanh")[i % 3]
        cfg["train"]["optimizer"]["lr"] = 0.01 * (1 + i % 5)
        (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        summary = json.loads((run / "summary.json").read_text())
        summary.update(name=f"run{i}", final_acc=90 + i * 0.37, best_acc=90.5 + i * 0.37)
        (run / "summary.json").write_text(json.dumps(summary))
    return runs


def wall_times(args: list[str], repeat: int) -> list[float]:
    """Seconds per fresh process, after one untimed warm-up run (file cache)."""
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - tic)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="copy this run folder instead of training one")
    parser.add_argument("--runs", type=int, default=20, help="how many run folders compare reads")
    parser.add_argument("--repeat", type=int, default=20, help="timed processes per command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = make_runs(Path(tmp), args.source, args.runs)
        print(f"python {sys.version.split()[0]}, {args.repeat} runs of each command, seconds of wall time")
        print("| command | median | min | max |\n|:---|---:|---:|---:|")
        for label, cmd in (("mlcl-train --help", ["--help"]), (f"mlcl-train compare ({args.runs} runs)", ["compare", str(runs)])):
            times = wall_times([*CLI, *cmd], args.repeat)
            print(f"| `{label}` | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |")


if __name__ == "__main__":
    main()
