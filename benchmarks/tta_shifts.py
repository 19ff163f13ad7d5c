"""Test-time shifts on finished runs: does averaging the model over shifted copies of each image help?

    python benchmarks/tta_shifts.py runs/*-ceiling
    python benchmarks/tta_shifts.py runs/*-ceiling --weights model.pt

For each run folder, loads its saved weights (best.pt by default) into the model its config.yaml
builds and prints validation and test accuracy three ways: the image alone; the mean of the
softmax over the image and its four 1-pixel shifts; and over all nine shifts of -1, 0 and +1
pixels in each direction. A shift rolls the normalized image (its border is blank, so what wraps
round is background). The validation split is the one the run held out (data.val_split and its
seed); a run without one prints test accuracy only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

VIEWS = {
    "alone": [(0, 0)],
    "5 shifts": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
    "9 shifts": [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)],
}


def accuracy(model, split, views, autocast) -> float:
    """Test accuracy (%) of the mean softmax over the shifted views, in batches of 1,000."""
    import torch

    correct = 0
    with torch.inference_mode(), autocast:
        for start in range(0, len(split.labels), 1000):
            x, y = split.images[start:start + 1000], split.labels[start:start + 1000]
            p = sum(model(torch.roll(x, shifts=(dy, dx), dims=(2, 3)).contiguous(
                memory_format=torch.channels_last)).float().softmax(1) for dx, dy in views)
            correct += int((p.argmax(1) == y).sum())
    return 100.0 * correct / len(split.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--weights", default="best.pt", help="best.pt (default) or model.pt")
    args = parser.parse_args()

    import torch

    from mlcl_train.config.loader import load_config
    from mlcl_train.data.loader import load_splits
    from mlcl_train.training.engine import autocast, build_model

    device = torch.device("cpu")
    print("| run | seed | " + " | ".join(f"{k}: val, test (%)" for k in VIEWS) + " |")
    print("| --- | --- |" + " --- |" * len(VIEWS))
    for folder in args.runs:
        cfg = load_config(folder / "config.yaml")
        _, val, test = load_splits(cfg.data.dataset, cfg.data.root, device, None, cfg.data.val_split, cfg.seed)
        model = build_model(cfg).to(memory_format=torch.channels_last)
        model.load_state_dict(torch.load(folder / args.weights, map_location=device, weights_only=True))
        model.eval()
        cells = []
        for views in VIEWS.values():
            got = [accuracy(model, s, views, autocast(device, cfg.train.amp)) for s in (val, test) if s is not None]
            cells.append(", ".join(f"{a:.2f}" for a in got))
        print(f"| {folder.name} | {cfg.seed} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
