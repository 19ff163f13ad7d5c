"""`mlcl-train predict` and load_model: pictures are read as MNIST was made, and the run's model reads them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import UserError
from mlcl_train.data.loader import BUNDLED, FILES, STATS, read_idx
from mlcl_train.serve.predict import load_model, preprocess, probabilities, stroke_width

runner = CliRunner()


def mnist_digits(n: int) -> tuple[np.ndarray, list[int]]:
    """The first n test images of the real MNIST, (n, 28, 28) uint8 white on black, and their labels."""
    images, labels = FILES["test"]
    _, pixels = read_idx(BUNDLED / f"{images}.gz")
    _, targets = read_idx(BUNDLED / f"{labels}.gz")
    return np.frombuffer(pixels[: n * 784], np.uint8).reshape(n, 28, 28).copy(), list(targets[:n])


def photographed(digit: np.ndarray, marks: bool = False) -> Image.Image:
    """The digit as a photo would show it: dark ink, 8x larger, off-centre on 400x300 paper lit unevenly;
    with marks, on ruled paper with a speck of dirt in a corner."""
    ink = np.asarray(Image.fromarray(digit).resize((224, 224), Image.Resampling.BICUBIC), np.float32) / 255
    y, x = np.mgrid[0:300, 0:400]
    paper = 0.95 - 0.35 * x / 400 - 0.15 * y / 300  # a shadow falls across the page: 0.95 to 0.45
    paper += np.random.default_rng(0).normal(0, 0.01, paper.shape)  # the paper's grain
    if marks:
        paper[::25] *= 0.8  # ruled lines, fainter than the ink
        paper[5:9, 5:9] = 0.1  # a speck of dirt
    page = paper.copy()
    page[40:264, 150:374] *= 1 - 0.85 * ink  # ink absorbs 85% of the light
    return Image.fromarray((page.clip(0, 1) * 255).astype(np.uint8))


def box_and_centre(seen: np.ndarray) -> tuple[int, float, float]:
    rows, cols = np.nonzero(seen > 0.05)
    size = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    r, c = np.indices(seen.shape)
    return size, (r * seen).sum() / seen.sum(), (c * seen).sum() / seen.sum()


@pytest.mark.parametrize("marks", [False, True])
def test_a_photographed_digit_is_read_as_its_mnist_image(marks):
    digits, _ = mnist_digits(4)
    for digit in digits:
        clean = preprocess(Image.fromarray(digit))
        photo = preprocess(photographed(digit, marks))
        assert np.abs(clean - digit / 255).mean() < 0.04  # the clean digit stays about as it was
        assert np.abs(photo - clean).mean() < 0.06, "the shading or the paper reads as ink"
        size, cy, cx = box_and_centre(photo)
        assert 19 <= size <= 21 and abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6  # where MNIST has it


@pytest.mark.parametrize("pen", [1, 3, 100])
def test_a_hairline_is_widened_to_mnists_stroke_and_a_marker_is_kept(pen):
    from PIL import ImageDraw

    page = Image.new("L", (600, 600), 235)
    ImageDraw.Draw(page).ellipse([150, 60, 450, 540], outline=20, width=pen)  # a 0, 480 px tall
    width = stroke_width(preprocess(page))
    assert 1.5 <= width <= 2.5 if pen < 10 else width > 3.0  # 100 px of 480 is 4 px of 20: kept


def test_fashion_mnist_fills_28_pixels_centred_by_the_box():
    shirt = np.zeros((60, 30), np.uint8)
    shirt[10:50, 5:25] = 200  # a light garment on a dark background, 40 px tall
    seen = preprocess(Image.fromarray(shirt), "fashion_mnist")
    rows, cols = np.nonzero(seen > 0.05)
    assert rows.min() == 0 and rows.max() == 27  # the longer side fills the image
    assert abs((cols.min() + cols.max()) / 2 - 13.5) <= 0.5
    assert 0.7 < seen[14, 14] < 0.85  # its shade kept (200/255), not made full ink


def test_a_blank_page_reads_as_a_blank_image():
    assert preprocess(Image.new("L", (100, 80), 230)).max() == 0


def test_load_model_rebuilds_the_run_in_eval_mode_with_its_weights(trained_runs):
    run = sorted(trained_runs[0].iterdir())[0]
    model = load_model(run)
    assert not model.training
    saved = torch.load(run / "model.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


def test_load_model_of_weights_from_another_model_is_one_error(trained_runs, tmp_path):
    runs = sorted(trained_runs[0].iterdir())
    copy = shutil.copytree(runs[0], tmp_path / "run")
    shutil.copy(runs[1] / "model.pt", copy / "model.pt")  # hidden 32 weights into a hidden 16 model
    with pytest.raises(UserError, match="does not fit the model"):
        load_model(copy)


def test_predict_agrees_with_the_model_on_test_images_written_as_pngs(trained_runs, tmp_path):
    run = sorted(trained_runs[0].iterdir())[1]
    digits, labels = mnist_digits(8)
    paths = []
    for i, digit in enumerate(digits):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(digit).save(paths[-1])
    result = runner.invoke(app, ["predict", str(run), *map(str, paths), "--format", "json", "--top", "2",
                                 "--save-preprocessed", str(tmp_path / "seen")])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    mean, std = STATS["mnist"]
    expected = probabilities(load_model(run), (torch.from_numpy(digits).float()[:, None] / 255 - mean) / std)
    assert [r["image"] for r in rows] == list(map(str, paths))
    assert [r["prediction"] for r in rows] == [str(int(p)) for p in expected.argmax(1)]
    for row, probs in zip(rows, expected, strict=True):
        assert len(row["top"]) == 2 and row["top"][0]["class"] == row["prediction"]
        assert row["top"][0]["probability"] >= row["top"][1]["probability"]
        assert abs(row["top"][0]["probability"] - float(probs.max())) < 0.1
    seen = Image.open(tmp_path / "seen" / "digit0.png")
    assert seen.size == (28, 28) and seen.mode == "L"


def test_predict_prints_a_table(trained_runs, tmp_path):
    run = sorted(trained_runs[0].iterdir())[1]
    path = tmp_path / "seven.png"
    Image.fromarray(255 - mnist_digits(1)[0][0]).resize((140, 140)).save(path)  # dark ink on white
    result = runner.invoke(app, ["predict", str(run), str(path)])
    assert result.exit_code == 0, result.output
    header, line = result.stdout.splitlines()
    assert header.split() == ["image", "prediction", "top"]
    assert line.split()[0] == str(path) and line.count("%") == 3


def test_a_fashion_mnist_run_answers_with_the_garment_names(trained_runs, tmp_path):
    run = shutil.copytree(sorted(trained_runs[0].iterdir())[0], tmp_path / "run")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"]["dataset"] = "fashion_mnist"
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    shirt = Image.new("L", (50, 50), 0)
    ImageDraw.Draw(shirt).rectangle([10, 8, 40, 44], fill=200)  # something on the page: a blank one has no answer
    shirt.save(tmp_path / "x.png")
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "x.png"), "--format", "json", "--top", "10"])
    assert result.exit_code == 0, result.output
    assert {t["class"] for t in json.loads(result.stdout)[0]["top"]} >= {"T-shirt", "Sneaker", "Boot"}


@pytest.mark.parametrize("args, message", [
    (["{run}", "{tmp}/missing.png"], "image not found"),
    (["{run}", "{tmp}/notes.txt"], "is not an image"),
    (["{tmp}", "{tmp}/notes.txt"], "config.yaml not found"),
    (["{run}", "{tmp}/notes.txt", "--format", "xml"], "unknown format"),
    (["{run}", "{tmp}/notes.txt", "--top", "0"], "--top must be >= 1"),
])
def test_predict_errors_are_one_line(trained_runs, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not a picture")
    run = sorted(trained_runs[0].iterdir())[0]
    args = [a.format(run=run, tmp=tmp_path) for a in args]
    result = runner.invoke(app, ["predict", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


# ---------------------------------------------------------------- hostile and careless files


def declared_png(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header declares width x height pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(declared_png(50000, 50000)), "pixels"),
    (lambda p: p.write_bytes(declared_png(9000, 9000)), "9000x9000 pixels"),
    (lambda p: os.mkfifo(p), "FIFO"),
    (lambda p: p.mkdir(), "directory"),
])
def test_huge_or_irregular_image_files_are_one_line(trained_runs, tmp_path, make, message):
    run = sorted(trained_runs[0].iterdir())[0]
    make(tmp_path / "x.png")
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "x.png")])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_save_preprocessed_never_overwrites_a_file_or_an_image(trained_runs, tmp_path):
    run = sorted(trained_runs[0].iterdir())[0]
    for folder, index in (("a", 0), ("b", 1)):
        (tmp_path / folder).mkdir()
        Image.fromarray(mnist_digits(2)[0][index]).save(tmp_path / folder / "digit.png")
    (tmp_path / "notes.txt").write_text("mine")
    images = [str(tmp_path / "a" / "digit.png"), str(tmp_path / "b" / "digit.png")]
    onto_file = runner.invoke(app, ["predict", str(run), *images, "--save-preprocessed", str(tmp_path / "notes.txt")])
    assert onto_file.exit_code == 2 and "is a file" in onto_file.stderr
    onto_image = runner.invoke(app, ["predict", str(run), *images, "--save-preprocessed", str(tmp_path / "a")])
    assert onto_image.exit_code == 2 and "over the image itself" in onto_image.stderr
    both = runner.invoke(app, ["predict", str(run), *images, "--save-preprocessed", str(tmp_path / "seen")])
    assert both.exit_code == 0, both.output
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == ["digit-2.png", "digit.png"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_blank_page_says_no_digit_was_found(trained_runs, tmp_path):
    run = sorted(trained_runs[0].iterdir())[0]
    Image.new("L", (200, 200), 255).save(tmp_path / "white.png")
    Image.new("RGB", (200, 200), 0).save(tmp_path / "black.png")
    paths = [str(tmp_path / "white.png"), str(tmp_path / "black.png")]
    table = runner.invoke(app, ["predict", str(run), *paths])
    assert table.exit_code == 0 and table.stdout.count("no digit found") == 2, table.output
    answers = json.loads(runner.invoke(app, ["predict", str(run), *paths, "--format", "json"]).stdout)
    assert [a["prediction"] for a in answers] == [None, None] and all(a["top"] == [] for a in answers)


@pytest.mark.parametrize("mode", ["F", "I;16"])
def test_a_float_or_16_bit_tiff_reads_like_the_same_picture_in_8_bits(mode, tmp_path):
    digit = mnist_digits(1)[0][0]
    values = digit.astype(np.float32) / 255 if mode == "F" else digit.astype(np.uint16) * 257
    Image.fromarray(values).save(tmp_path / "digit.tif")  # a float32 or uint16 array: mode F or I;16
    from mlcl_train.serve.predict import read_image

    seen = preprocess(read_image(tmp_path / "digit.tif"))
    assert seen.max() == 1.0 and np.abs(seen - preprocess(Image.fromarray(digit))).max() < 0.02


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_files(trained_runs, tmp_path):
    """Peak RSS of `predict` on 2 and on 24 pictures of 2048x2048 (each about 16 MB decoded): the same."""
    run = sorted(trained_runs[0].iterdir())[0]
    big = Image.new("RGB", (2048, 2048), "white")
    ImageDraw.Draw(big).line([(1024, 300), (1024, 1700)], fill="black", width=150)
    big.save(tmp_path / "big0.png")
    for i in range(1, 24):
        os.link(tmp_path / "big0.png", tmp_path / f"big{i}.png")
    code = ("import resource, sys; from mlcl_train.serve.predict import predict_files; "
            "predict_files(sys.argv[1], sys.argv[2:]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")

    def peak(n: int) -> int:
        args = [str(tmp_path / f"big{i}.png") for i in range(n)]
        out = subprocess.run([sys.executable, "-c", code, str(run), *args], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1]) // 1024

    two, many = peak(2), peak(24)
    print(f"peak RSS: {two} MB for 2 pictures, {many} MB for 24")
    assert many - two < 60  # kept decoded, 22 more pictures take over 260 MB
