"""Use a trained run: rebuild its model, read photos or drawings of digits the way MNIST was made, predict.

    model = load_model("runs/20261127-101500-cnn")
    results = predict_files("runs/20261127-101500-cnn", ["my_seven.jpg"], top=3)

MNIST's digits are white ink on black, cropped to the ink, scaled so the longer side is 20 px
(anti-aliased), and pasted into 28x28 with the centre of mass at the centre. `preprocess` does
the same to any image: grayscale, the paper's shading removed, inverted when the background is
light, then the training normalisation. Fashion-MNIST's products fill 28 px and are centred by
their box, so for fashion_mnist runs only those steps apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from mlcl_train.config.loader import load_config
from mlcl_train.core import table
from mlcl_train.core.datasets import DATASETS, IMAGE_SIZE
from mlcl_train.core.errors import UserError, first_line
from mlcl_train.core.files import open_regular
from mlcl_train.data.loader import STATS
from mlcl_train.models.trust import reading_run
from mlcl_train.training.engine import as_probabilities, build_model, load_state, resolve_device

SIDE = IMAGE_SIZE  # pixels per side of the image a model takes
WORK = 256  # images are shrunk to at most this many pixels on their longer side before anything else
MAX_PIXELS = 64 * 2**20  # a picture is decoded only up to this many pixels (a 48-megapixel photo is 48e6)
THIN, STROKE = 1.5, 2.0  # MNIST's strokes are 1.3-2.3 px wide (5th to 75th percentile); thinner ones are widened to 2


@dataclass(frozen=True)
class Recipe:
    """How a dataset's images were made from a picture."""

    box: int  # the longer side of the object, in pixels of the 28x28 image
    centre_of_mass: bool  # centred by the centre of mass (MNIST) or by the box (Fashion-MNIST)
    saturate: bool  # strokes of full strength (pen ink) or the picture's own shades (photos of clothes)


RECIPES = {"mnist": Recipe(20, True, True), "fashion_mnist": Recipe(IMAGE_SIZE, False, False)}


@dataclass
class Prediction:
    image: str
    top: list[tuple[str, float]]  # (class name, probability), most likely first
    seen: np.ndarray  # (28, 28) in [0, 1]: the image the model saw, before normalisation
    dataset: str = "mnist"

    @property
    def found(self) -> bool:
        """Whether the picture held anything to read (a blank page gives an empty 28x28 image)."""
        return bool(self.seen.any())

    @property
    def prediction(self) -> str | None:
        return self.top[0][0] if self.found else None

    @property
    def note(self) -> str:
        thing = "digit" if self.dataset == "mnist" else "object"
        return "" if self.found else f"no {thing} found: the image is blank"

    def as_json(self) -> dict[str, Any]:
        if not self.found:
            return {"image": self.image, "prediction": None, "top": [], "note": self.note}
        return {"image": self.image, "prediction": self.prediction,
                "top": [{"class": c, "probability": round(p, 6)} for c, p in self.top]}


# ---------------------------------------------------------------- the run's model


def load_model(run_path: str | Path, weights: str = "last", device: str = "cpu",
               trust_code: bool = False) -> torch.nn.Module:
    """A run's model in eval mode with its saved weights ("last": model.pt; "best": best.pt; else a state_dict file).
    A model file of the run's own is imported only if known or trusted (models.trust)."""
    run = Path(run_path)
    file = run / {"last": "model.pt", "best": "best.pt"}[weights] if weights in ("last", "best") else Path(weights)
    for path in (run / "config.yaml", file):
        if not path.is_file():
            raise UserError(f"{path} not found; pass a run folder that finished at least one epoch")
    dev, _ = resolve_device(device)
    with reading_run(trust_code):
        model = build_model(load_config(run / "config.yaml")).to(dev)
    state = load_state(file, "train the run again, or pass another", map_location=dev)
    try:
        model.load_state_dict(state)
    except (RuntimeError, AttributeError, TypeError) as err:
        reason = first_line(err)
        raise UserError(f"{file} does not fit the model of {run}/config.yaml ({reason})") from None
    return model.eval()


def run_dataset(run_path: str | Path, trust_code: bool = False) -> str:
    """The dataset a run was trained on (its config's data.dataset)."""
    path = Path(run_path) / "config.yaml"
    if not path.is_file():
        raise UserError(f"{path} not found; pass a run folder")
    with reading_run(trust_code):
        return load_config(path).data.dataset


def probabilities(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, classes) probabilities for normalised images, whether the model ends in logits, softmax or log-softmax."""
    with torch.inference_mode():
        out = model(images.to(next(model.parameters()).device)).float().cpu()
    return as_probabilities(out)


# ---------------------------------------------------------------- pictures -> 28x28


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a PNG/JPEG (any format Pillow reads) of at most max_pixels; a missing, unreadable, huge or
    non-regular file (a FIFO, a folder) is a UserError."""
    if not Path(path).exists():
        raise UserError(f"image not found: {path}")
    with open_regular(Path(path)) as f:
        return decode(f, str(path), max_pixels)


def decode(source: Any, name: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The picture in a file object, decoded only when its declared size is at most max_pixels; else a UserError."""
    try:
        img = Image.open(source)
        if img.width * img.height > max_pixels:
            raise UserError(f"{name} is {img.width}x{img.height} pixels; at most {max_pixels:,} pixels are read: "
                            "scale it down")
        img.load()
        return ImageOps.exif_transpose(img)  # phone photos: upright as they were taken
    except Image.DecompressionBombError:  # declares even more pixels than Pillow's own limit
        raise UserError(f"{name} declares over {max_pixels:,} pixels; at most that many are read: "
                        "scale it down") from None
    except UnidentifiedImageError:
        raise UserError(f"{name} is not an image Pillow can read; use a PNG or JPEG") from None
    except UserError:
        raise
    except Exception as err:  # any error a damaged file raises inside a decoder (OSError, SyntaxError, struct.error...)
        raise UserError(f"{name} is not an image Pillow can read ({type(err).__name__}); use a PNG or JPEG") from None


def preprocess(img: Image.Image, dataset: str = "mnist") -> np.ndarray:
    """The (28, 28) image in [0, 1] (ink = 1, background = 0) that a model trained on `dataset` expects."""
    recipe = RECIPES[dataset]
    gray = _grayscale(img)
    ink = _drop_specks(_ink(gray, recipe.saturate))
    rows, cols = np.nonzero(ink > 0)
    if len(rows) == 0:
        return np.zeros((SIDE, SIDE), np.float32)  # a blank page reads as a blank image
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    if recipe.saturate:
        ink = _thicken(ink, recipe.box / max(ink.shape))
    return _place(_fit(ink, recipe.box), recipe.centre_of_mass)


def normalise(seen: np.ndarray, dataset: str) -> torch.Tensor:
    """(28, 28) in [0, 1] -> (1, 1, 28, 28) with the training normalisation."""
    mean, std = STATS[dataset]
    return ((torch.from_numpy(seen).float() - mean) / std).view(1, 1, SIDE, SIDE)


def _grayscale(img: Image.Image) -> np.ndarray:
    """Luminance in [0, 1], at most WORK pixels on the longer side; transparency reads as white paper."""
    if img.mode in ("F", "I") or img.mode.startswith("I;"):  # 16- and 32-bit pictures (TIFF): on their own scale
        gray, top = Image.fromarray(_unit(np.asarray(img, np.float32)), "F"), 1.0
    else:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(paper, rgba)
        gray, top = img.convert("L"), 255.0
    if max(gray.size) > WORK:
        scale = WORK / max(gray.size)
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.BOX)
    return np.asarray(gray, np.float32) / top


def _unit(values: np.ndarray) -> np.ndarray:
    """Pixel values in [0, 1]: as they are when they lie there (a float image), else over 255 or 65535 (or the max)."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    high = float(values.max(initial=0.0))
    top = next((t for t in (1.0, 255.0, 65535.0) if high <= t), high)
    return np.clip(values / top, 0, 1).astype(np.float32)


def _ink(gray: np.ndarray, saturate: bool) -> np.ndarray:
    """How much ink each pixel holds, in [0, 1]; 0 on the paper.

    The paper is modelled as a smooth surface (a quadratic in x and y) fitted to the pixels that
    are not ink, so a shadow or uneven light across a photo does not read as ink. The ink is
    what departs from it, on the side away from the paper's brightness (dark ink on light paper
    is inverted, light ink on a dark background is not).
    """
    paper = _paper(gray)
    light = float(np.median(paper)) > 0.5
    ink = (paper - gray) if light else (gray - paper)
    noise = max(_spread(ink), 1 / 255)  # the paper's grain: most pixels are paper
    strength = float(np.quantile(ink, 0.999))  # the ink's strength, even where a digit covers few pixels
    if strength < 8 * noise or strength < 0.08:
        return np.zeros_like(gray)  # nothing stands out from the paper
    low = max(6 * noise, 0.03 * strength)  # below this: paper texture and noise
    core = ink[ink > max(low, 0.5 * strength)]  # the strokes, not faint lines or smudges
    high = float(np.quantile(core, 0.9)) if saturate else 1.0  # a stroke's core is full ink
    out = np.clip((ink - low) / max(high - low, 1e-6), 0, 1).astype(np.float32)
    if saturate:  # faint marks more than 2 px from a stroke (ruled lines, smudges) are not the digit
        strokes = Image.fromarray(((ink > 0.4 * high) * 255).astype(np.uint8))
        out *= np.asarray(strokes.filter(ImageFilter.MaxFilter(5))) > 0
    return out


def _drop_specks(ink: np.ndarray, share: float = 0.05) -> np.ndarray:
    """Erase marks cut off from the rest by empty rows or columns that hold under `share` of the ink (dirt, a dot)."""
    ink = ink.copy()
    for axis in (1, 0, 1, 0):  # rows, then columns, twice: a speck may be apart in one direction only
        profile = ink.sum(axis=axis)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], profile > 0, [0]]).astype(np.int8)))
        for start, end in zip(edges[::2], edges[1::2], strict=True):  # runs of rows (columns) that hold ink
            if profile[start:end].sum() < share * profile.sum():
                (ink[start:end] if axis == 1 else ink[:, start:end])[...] = 0
    return ink


def _paper(gray: np.ndarray, rounds: int = 4) -> np.ndarray:
    """The background's brightness at every pixel: a quadratic surface fitted to the non-ink pixels."""
    h, w = gray.shape
    y, x = np.mgrid[0:h, 0:w]
    y, x = y.ravel() / max(h - 1, 1) - 0.5, x.ravel() / max(w - 1, 1) - 0.5
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], 1)
    values = gray.ravel()
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    light = float(np.median(border)) > 0.5
    middle = np.median(values)
    keep = values >= middle if light else values <= middle  # start from the half on the paper's side
    for _ in range(rounds):  # fit, drop what lies well on the ink side of the fit, fit again
        coef, *_ = np.linalg.lstsq(basis[keep], values[keep], rcond=None)
        fit = basis @ coef
        away = (fit - values) if light else (values - fit)
        keep = away < max(3 * _spread(away[keep]), 0.02)
    return (basis @ coef).reshape(h, w).astype(np.float32)


def _spread(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 times the median absolute deviation)."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in pixels: a stroke of width w and length L covers w*L and has 2L of edge."""
    mask = ink > 0.5
    edges = (mask[1:] != mask[:-1]).sum() + (mask[:, 1:] != mask[:, :-1]).sum()
    return 2 * float(mask.sum()) / max(int(edges), 1)


def _thicken(ink: np.ndarray, scale: float) -> np.ndarray:
    """Widen strokes that would be thinner than THIN px in the 28x28 image (a fine pen, a hairline) to STROKE px."""
    width = stroke_width(ink)
    if width * scale >= THIN:
        return ink
    size = 2 * round((STROKE / scale - width) / 2) + 1  # a max filter of this size adds size - 1 to the width
    pad = size // 2
    return np.asarray(Image.fromarray(np.pad(ink, pad), "F").filter(ImageFilter.MaxFilter(size)))


def _fit(ink: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio, anti-aliased."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(ink, "F").resize(size, Image.Resampling.LANCZOS)).clip(0, 1)


def _place(ink: np.ndarray, centre_of_mass: bool) -> np.ndarray:
    """Paste into 28x28: the centre of mass at pixel (14, 14), where MNIST has it, or the box in the middle."""
    h, w = ink.shape
    if centre_of_mass and ink.sum() > 0:
        rows, cols = np.indices(ink.shape)
        top = round(SIDE / 2 - (rows * ink).sum() / ink.sum())
        left = round(SIDE / 2 - (cols * ink).sum() / ink.sum())
    else:
        top, left = (SIDE - h) // 2, (SIDE - w) // 2
    out = np.zeros((SIDE, SIDE), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, SIDE), min(left + w, SIDE)
    out[y0:y1, x0:x1] = ink[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def save_seen(seen: np.ndarray, path: Path) -> None:
    """Write the 28x28 image the model saw as a PNG (white ink on black, as in MNIST)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((seen * 255).round().astype(np.uint8), "L").save(path)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None


# ---------------------------------------------------------------- the command


def predict_images(model: torch.nn.Module, dataset: str, images: list[Image.Image], top: int = 3,
                   names: list[str] | None = None) -> list[Prediction]:
    """Preprocess each picture, run the model once on all of them, keep the `top` classes of each."""
    return classify(model, dataset, [preprocess(img, dataset) for img in images], top, names)


def classify(model: torch.nn.Module, dataset: str, seen: list[np.ndarray], top: int = 3,
             names: list[str] | None = None) -> list[Prediction]:
    """Run the model once on preprocessed (28, 28) images; keep the `top` classes of each."""
    probs = probabilities(model, torch.cat([normalise(s, dataset) for s in seen]))
    classes = list(DATASETS[dataset].classes)
    results = []
    for i, (row, s) in enumerate(zip(probs, seen, strict=True)):
        best = row.argsort(descending=True)[:top].tolist()
        name = names[i] if names else str(i)
        results.append(Prediction(name, [(classes[c], float(row[c])) for c in best], s, dataset))
    return results


def predict_files(run_path: str | Path, paths: list[str | Path], top: int = 3, save_dir: Path | None = None,
                  device: str = "cpu", weights: str = "last", trust_code: bool = False) -> list[Prediction]:
    """`mlcl-train predict`: the top classes of each image file; the 28x28 inputs written to save_dir.

    The files are read one at a time, each kept only as its 28x28 image: memory does not grow with their number."""
    if top < 1:
        raise UserError("--top must be >= 1")
    if weights not in ("last", "best"):
        raise UserError(f"--weights {weights!r}: unknown; valid: last, best")
    targets = save_paths(paths, Path(save_dir)) if save_dir is not None else None
    model = load_model(run_path, weights, device=device, trust_code=trust_code)
    dataset = run_dataset(run_path, trust_code)
    seen = [preprocess(read_image(p), dataset) for p in paths]
    results = classify(model, dataset, seen, top, [str(p) for p in paths])
    for target, result in zip(targets or [], results, strict=False):
        save_seen(result.seen, target)
    return results


def save_paths(paths: list[str | Path], folder: Path) -> list[Path]:
    """Where --save-preprocessed writes each image's 28x28: FOLDER/<stem>.png, -2, -3... for stems seen before.

    Checked before anything is read: FOLDER must be a folder (or not yet exist), and no name may be an input."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--save-preprocessed {folder} is a file; name a folder for the 28x28 images")
    inputs = {Path(p).resolve() for p in paths}
    taken: set[str] = set()
    targets = []
    for path in paths:
        stem, n = Path(path).stem, 1
        while (name := f"{stem}.png" if n == 1 else f"{stem}-{n}.png") in taken:
            n += 1
        taken.add(name)
        if (folder / name).resolve() in inputs:
            raise UserError(f"--save-preprocessed {folder} would write {folder / name} over the image itself; "
                            "name another folder")
        targets.append(folder / name)
    return targets


def render(results: list[Prediction], fmt: str = "table") -> str:
    """What `mlcl-train predict` prints: one line per image (its path, the prediction, the top classes with
    probabilities, or why no digit was read), or with fmt "json" a list of objects."""
    if fmt == "json":
        return json.dumps([r.as_json() for r in results], indent=2) + "\n"
    rows = [[r.image, r.prediction or "-", "  ".join(f"{c} {100 * p:5.1f}%" for c, p in r.top) if r.found else r.note]
            for r in results]
    return table.render(["image", "prediction", "top"], rows, rule=False)
