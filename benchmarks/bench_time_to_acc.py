"""Time to 99% test accuracy: configs/speedrun.yaml against the official PyTorch MNIST example, per seed.

    python benchmarks/bench_time_to_acc.py --seeds 1 2 3 --official-epochs 3
    python benchmarks/bench_time_to_acc.py --seeds 1 --official-epochs 1 --skip-speedrun   # the example only
    python benchmarks/bench_time_to_acc.py --threads 1    # both recipes on one thread (a busy machine)

The speedrun: the whole command `mlcl-train --config configs/speedrun.yaml --set seed=S` in a
fresh process, timed from start to exit (import torch, data, training, evaluation, the run folder),
with OMP_NUM_THREADS set to this process's torch thread count (--threads); its accuracy and
in-loop seconds (training + test) come from the run's metrics.csv.

The official recipe, as pytorch/examples mnist/main.py trains it on a CPU: torchvision's
datasets.MNIST (from the bundled IDX files, laid out as <tmp>/MNIST/raw/) with ToTensor +
Normalize, a shuffled DataLoader at batch 64, its CNN (conv 32 - conv 64 - max pool - dropout -
fc 128 - dropout - fc 10, log-softmax, NLL loss), Adadelta lr 1.0, StepLR gamma 0.7 after each
epoch, test at batch 1000. It runs in this process (torch already imported, which favours it) for
at most --official-epochs epochs; its time to 99% is the sum of its epochs' seconds (training +
test) up to the first epoch at 99% or more, or "not within N epochs".

Prints one table (seed, recipe, accuracy after each epoch, seconds, time to 99%) in Markdown,
with the load average before and after, for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "mlcl_train" / "mnist"
IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TARGET = 99.0


class Net(nn.Module):
    """pytorch/examples mnist/main.py's model, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def raw_mnist(folder: Path) -> Path:
    """The bundled files, decompressed into torchvision's layout <folder>/MNIST/raw/."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX:
        (raw / name).write_bytes(gzip.decompress((BUNDLED / f"{name}.gz").read_bytes()))
    return folder


def official(seed: int, root: Path, epochs: int) -> list[tuple[float, float]]:
    """(test accuracy %, seconds of training + test) after each epoch, stopping at 99% or after `epochs`."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_loader = DataLoader(datasets.MNIST(str(root), train=True, transform=transform), batch_size=64, shuffle=True)
    test_loader = DataLoader(datasets.MNIST(str(root), train=False, transform=transform), batch_size=1000)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    out = []
    for _ in range(epochs):
        tic = time.perf_counter()
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test_loader:
                correct += model(x).argmax(1).eq(y).sum().item()
        scheduler.step()
        out.append((100.0 * correct / len(test_loader.dataset), time.perf_counter() - tic))
        print(f"  official seed {seed} epoch {len(out)}: {out[-1][0]:.2f}% in {out[-1][1]:.1f} s", flush=True)
        if out[-1][0] >= TARGET:
            break
    return out


def speedrun(seed: int, runs: Path) -> tuple[float, float, float]:
    """(final test accuracy %, the epoch's seconds in the loop, the whole command's wall seconds)."""
    before = set(runs.iterdir()) if runs.exists() else set()
    command = [sys.executable, "-m", "mlcl_train", "--config", str(ROOT / "configs" / "speedrun.yaml"),
               "--set", f"seed={seed}", "--runs-dir", str(runs), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    tic = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - tic
    (run,) = set(runs.iterdir()) - before
    header, row = (run / "metrics.csv").read_text().splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    print(f"  speedrun seed {seed}: {values['test_acc']}% in {wall:.2f} s end to end", flush=True)
    return float(values["test_acc"]), float(values["seconds"]), wall


def time_to(accs: list[float], seconds: list[float]) -> float | None:
    """Seconds up to the end of the first epoch at TARGET or more; None if none reached it."""
    for i, acc in enumerate(accs):
        if acc >= TARGET:
            return sum(seconds[: i + 1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--official-epochs", type=int, default=4, help="at most this many epochs of the example")
    parser.add_argument("--threads", type=int, help="torch threads for both recipes (default: torch's, one per core)")
    parser.add_argument("--skip-official", action="store_true")
    parser.add_argument("--skip-speedrun", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; load average {load:.2f} at the start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = raw_mnist(Path(tmp) / "data")
        for seed in args.seeds:
            if not args.skip_speedrun:
                acc, loop, wall = speedrun(seed, Path(tmp) / "runs")
                secs = f"{loop:.1f} in the loop; {wall:.1f} whole command"
                reached = f"{wall:.1f}" if acc >= TARGET else "not reached"
                rows.append((seed, "speedrun.yaml (1 epoch)", [acc], secs, reached, wall))
            if not args.skip_official:
                epochs = official(seed, root, args.official_epochs)
                accs, secs = [a for a, _ in epochs], [s for _, s in epochs]
                reached = time_to(accs, secs)
                rows.append((seed, "official example", accs, " + ".join(f"{s:.0f}" for s in secs),
                             f"{reached:.0f}" if reached else f"not within {len(accs)} epochs", reached))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (start {load:.2f})\n")
    print("| seed | recipe | test accuracy after each epoch (%) | seconds | time to 99% (s) |")
    print("| --- | --- | --- | --- | --- |")
    for seed, recipe, accs, secs, reached, _ in rows:
        print(f"| {seed} | {recipe} | {', '.join(f'{a:.2f}' for a in accs)} | {secs} | {reached} |")
    walls = [r[5] for r in rows if r[1].startswith("speedrun")]
    firsts = [float(r[3].split(" + ")[0]) for r in rows if r[1] == "official example"]
    if walls and firsts:
        wall, first = statistics.median(walls), statistics.median(firsts)
        print(f"\nmedian whole speedrun command {wall:.1f} s = {wall / first:.3f}x one epoch of the official "
              f"recipe ({first:.0f} s, median)")


if __name__ == "__main__":
    main()
