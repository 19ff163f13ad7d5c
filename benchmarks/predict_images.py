"""How `predict` reads pictures: the test split written out as PNGs, and digits drawn like a hand on paper.

    python benchmarks/predict_images.py agreement runs/X            # predict on 10,000 PNGs against eval
    python benchmarks/predict_images.py handmade runs/X docs/img    # draw 20 digits, predict, one contact sheet

`agreement` writes each test image as a PNG (white on black, 28x28), reads it back through
predict's preprocessing and compares the predicted class with the model's on the test tensors
(what `eval` does). `handmade` draws the digits 0-9 as pen strokes on shaded, grainy paper
(thick and thin pens, shifted, off-centre, at several sizes; a hairline, a marker, a
tiny digit in the shadow, the continental 1 and 7, ruled paper, a speck of dirt), predicts them and writes
`predict_handmade.png`: each photo, the 28x28 image the model saw, the answer.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from mlcl_train.data.loader import load_split, load_test, locate
from mlcl_train.serve.predict import load_model, predict_files, probabilities, run_dataset


def agreement(run: str) -> None:
    files, md5s = locate(run_dataset(run), None)
    pixels, labels = load_split(files, md5s, "test")
    model = load_model(run)
    reference = probabilities(model, load_test(run_dataset(run), None, torch.device("cpu")).images).argmax(1)
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"{i:05d}.png" for i in range(len(labels))]
        for path, image in zip(paths, pixels[:, 0].numpy(), strict=True):
            Image.fromarray(image).save(path)
        predicted = []
        for start in range(0, len(paths), 1000):
            predicted += [int(r.prediction) for r in predict_files(run, paths[start : start + 1000], top=1)]
    predicted = torch.tensor(predicted)
    agree = (predicted == reference).float().mean().item()
    print(f"{len(paths)} test images as PNGs: predict agrees with eval on {100 * agree:.2f}% "
          f"({int((predicted != reference).sum())} differ); "
          f"accuracy predict {100 * (predicted == labels).float().mean():.2f}% "
          f"eval {100 * (reference == labels).float().mean():.2f}%")


# Each digit as pen strokes in a unit box (x right, y down); an arc is (cx, cy, rx, ry, start, end) in degrees.
STROKES = {
    "0": [("arc", 0.5, 0.5, 0.32, 0.45, 0, 360)],
    "1": [("line", [(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)])],
    "2": [("arc", 0.5, 0.3, 0.3, 0.25, 190, 380), ("line", [(0.78, 0.38), (0.2, 0.95), (0.85, 0.95)])],
    "3": [("arc", 0.48, 0.27, 0.28, 0.22, 200, 450), ("arc", 0.48, 0.72, 0.32, 0.24, 270, 520)],
    "4": [("line", [(0.6, 0.05), (0.12, 0.68), (0.9, 0.68)]), ("line", [(0.65, 0.35), (0.65, 0.97)])],
    "5": [("line", [(0.8, 0.05), (0.28, 0.05), (0.22, 0.45)]), ("arc", 0.48, 0.67, 0.32, 0.28, 220, 500)],
    "6": [("line", [(0.7, 0.05), (0.35, 0.4), (0.2, 0.7)]), ("arc", 0.5, 0.72, 0.3, 0.24, 0, 360)],
    "7": [("line", [(0.12, 0.08), (0.88, 0.08), (0.4, 0.97)])],
    "8": [("arc", 0.5, 0.27, 0.25, 0.22, 0, 360), ("arc", 0.5, 0.72, 0.3, 0.25, 0, 360)],
    "9": [("arc", 0.5, 0.3, 0.28, 0.24, 0, 360), ("line", [(0.78, 0.3), (0.72, 0.97)])],
    "1-serif": [("line", [(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)]), ("line", [(0.3, 0.95), (0.8, 0.95)])],
    "7-crossbar": [("line", [(0.12, 0.08), (0.88, 0.08), (0.4, 0.97)]), ("line", [(0.35, 0.52), (0.85, 0.52)])],
    "4-closed": [("line", [(0.62, 0.97), (0.62, 0.05), (0.12, 0.68), (0.9, 0.68)])],
}
# (digit, pen width as a share of the digit's height, digit height as a share of the page, centre x, centre y, slant)
SHEET = [("0", 0.09, 0.5, 0.35, 0.45, 0.0), ("1", 0.03, 0.6, 0.7, 0.5, 0.15), ("2", 0.12, 0.35, 0.3, 0.7, 0.0),
         ("3", 0.025, 0.45, 0.65, 0.35, 0.1), ("4", 0.08, 0.55, 0.5, 0.5, 0.0), ("5", 0.05, 0.3, 0.75, 0.7, 0.2),
         ("6", 0.1, 0.6, 0.4, 0.5, 0.1), ("7", 0.02, 0.5, 0.3, 0.35, 0.0), ("8", 0.07, 0.65, 0.55, 0.5, 0.0),
         ("9", 0.04, 0.4, 0.6, 0.6, 0.15),
         # harder: a hairline pen, a marker, a tiny digit in the shadow, and the continental 1 and 7
         ("0", 0.008, 0.5, 0.5, 0.5, 0.0), ("9", 0.2, 0.55, 0.45, 0.5, 0.0), ("4-closed", 0.06, 0.12, 0.85, 0.8, 0.0),
         ("1-serif", 0.06, 0.55, 0.5, 0.5, 0.0), ("7-crossbar", 0.06, 0.55, 0.5, 0.5, 0.0),
         # on ruled paper, and with a speck of dirt far from the digit
         ("3", 0.06, 0.5, 0.5, 0.5, 0.0, "ruled"), ("8", 0.03, 0.5, 0.4, 0.55, 0.1, "ruled"),
         ("2", 0.06, 0.5, 0.6, 0.5, 0.0, "speck"), ("5", 0.05, 0.4, 0.7, 0.6, 0.1, "speck"),
         ("6", 0.04, 0.3, 0.2, 0.7, 0.0, "ruled")]


def hand_drawn(digit: str, pen: float, size: float, cx: float, cy: float, slant: float, paper_kind: str = "plain",
               seed: int = 0) -> Image.Image:
    """A digit in blue-black ink on off-white paper (plain, ruled, or with a speck of dirt), lit from one side.

    640x480 RGB."""
    rng = np.random.default_rng(seed)
    w, h = 640, 480
    y, x = np.mgrid[0:h, 0:w]
    light = 0.93 - 0.3 * (x / w) * (0.5 + y / h)  # a shadow across the page, darkest bottom right
    paper = light[..., None] * np.array([1.0, 0.98, 0.92]) + rng.normal(0, 0.015, (h, w, 1))
    if paper_kind == "ruled":
        for row in range(30, h, 40):
            paper[row : row + 2] *= np.array([0.75, 0.8, 0.95])  # pale blue lines
    if paper_kind == "speck":
        paper[50:56, 50:56] = 0.15  # a speck of dirt in the corner
    ink = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(ink)
    height = size * h
    box = (cx * w - 0.35 * height, cy * h - 0.5 * height)
    width = max(1, round(pen * height))

    def at(u: float, v: float) -> tuple[float, float]:
        u, v = u + rng.normal(0, 0.008), v + rng.normal(0, 0.008)  # the hand's wobble
        return box[0] + (u + slant * (1 - v)) * 0.7 * height, box[1] + v * height

    for kind, *spec in STROKES[digit]:
        if kind == "line":
            points = [at(u, v) for u, v in spec[0]]
        else:
            ax, ay, rx, ry, start, end = spec
            points = [at(ax + rx * math.cos(math.radians(t)), ay + ry * math.sin(math.radians(t)))
                      for t in np.linspace(start, end, 60)]
        draw.line(points, fill=255, width=width, joint="curve")
        for p in (points[0], points[-1]):  # round pen ends
            draw.ellipse([p[0] - width / 2, p[1] - width / 2, p[0] + width / 2, p[1] + width / 2], fill=255)
    amount = np.asarray(ink, np.float32)[..., None] / 255 * 0.8  # the ink absorbs 80% of the light
    page = paper * (1 - amount) + amount * np.array([0.05, 0.07, 0.2]) * light[..., None]
    return Image.fromarray((page.clip(0, 1) * 255).astype(np.uint8), "RGB")


def handmade(run: str, out: str) -> None:
    folder = Path(out) / "handmade"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, spec in enumerate(SHEET):
        paths.append(folder / f"{i:02d}_{spec[0]}.jpg")
        hand_drawn(*spec, seed=i).save(paths[-1], quality=85)
    results = predict_files(run, paths, top=2, save_dir=folder / "seen")
    for spec, r in zip(SHEET, results, strict=True):
        tops = ", ".join(f"{c} {100 * p:.1f}%" for c, p in r.top)
        print(f"{Path(r.image).name}: pen {spec[1]:.3f} of the height, height {spec[2]:.2f} of the page -> "
              f"{r.prediction} ({'right' if r.prediction == spec[0][0] else 'WRONG'}; top {tops})")
    sheet(paths, results, Path(out) / "predict_handmade.png")


def sheet(paths: list[Path], results: list, out: Path) -> None:
    """Rows of five: the photo, the 28x28 input scaled up, and the answer below."""
    cell_w, cell_h = 330, 190
    canvas = Image.new("RGB", (5 * cell_w, math.ceil(len(paths) / 5) * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    for i, (path, r) in enumerate(zip(paths, results, strict=True)):
        x, y = (i % 5) * cell_w + 8, (i // 5) * cell_h + 8
        canvas.paste(Image.open(path).resize((192, 144)), (x, y))
        seen = Image.fromarray((r.seen * 255).astype(np.uint8)).resize((112, 112), Image.Resampling.NEAREST)
        canvas.paste(seen, (x + 200, y + 16))
        truth = path.stem.split("_")[1][0]
        colour = (20, 110, 40) if r.prediction == truth else (190, 30, 30)
        label = f"drawn {truth}  read {r.prediction} ({100 * r.top[0][1]:.0f}%)"
        draw.text((x, y + 150), label, fill=colour, font=font)
    canvas.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"agreement": agreement, "handmade": handmade}[command](*args)
