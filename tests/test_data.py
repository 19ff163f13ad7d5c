"""The IDX reader and the data locations, on files the tests write."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import struct
import tracemalloc
from pathlib import Path

import pytest
import torch
from conftest import TEST_N, TRAIN_N, write_idx
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import DataError
from mlcl_train.data.loader import Split, eval_batches, load_data, locate, num_batches, read_idx, train_batches


def test_bundled_mnist_is_the_original() -> None:
    files, md5s = locate("mnist", None)
    assert len(md5s) == 4
    shape, data = read_idx(files["t10k-labels-idx1-ubyte"], md5s["t10k-labels-idx1-ubyte"])
    assert shape == (10000,) and list(data[:5]) == [7, 2, 1, 0, 4]


def test_md5_mismatch_names_the_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels", (3,), bytes([1, 2, 3]))
    with pytest.raises(DataError, match="labels is corrupt: its MD5"):
        read_idx(path, md5="0" * 32)


@pytest.mark.parametrize(
    "raw, message",
    [
        (bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]), "is truncated: header says 9 bytes of data, file holds 2"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "is corrupt: header says 1 bytes of data, file holds 2"),
        (bytes([0, 0, 8, 3, 0, 0]), "header is incomplete"),
        (b"PK\x03\x04 a zip", "is not an IDX file"),
        (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]), "element type 0x0d is not supported"),
    ],
)
def test_bad_idx_files(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "file-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]))[:-6])
    with pytest.raises(DataError, match="x-idx1-ubyte.gz is a truncated or corrupt gzip file"):
        read_idx(path)


def test_load_data_normalizes_once_and_keeps_labels(tiny_root: Path) -> None:
    train, test = load_data("mnist", str(tiny_root), torch.device("cpu"))
    assert train.images.shape == (TRAIN_N, 1, 28, 28) and test.images.shape == (TEST_N, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert abs(train.images.mean().item()) < 0.1 and 0.9 < train.images.std().item() < 1.1
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_train_subset_and_torchvision_layout(tmp_path: Path, tiny_root: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(tiny_root, raw)
    train, _ = load_data("mnist", str(tmp_path), torch.device("cpu"), train_subset=100)
    assert len(train) == 100


def test_batches_are_a_seeded_permutation(tiny_root: Path) -> None:
    train, test = load_data("mnist", str(tiny_root), torch.device("cpu"))
    first = torch.cat([y for _, y in train_batches(train, 64, seed=7)])
    again = torch.cat([y for _, y in train_batches(train, 64, seed=7)])
    other = torch.cat([y for _, y in train_batches(train, 64, seed=8)])
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(first.tolist()) == sorted(train.labels.tolist())
    assert [len(y) for _, y in eval_batches(test, 50)] == [50, 50, 28]


def test_missing_and_empty_roots(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.root: folder not found"):
        locate("mnist", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="holds no mnist IDX files"):
        locate("mnist", str(tmp_path))


def test_root_with_some_files_missing(tmp_path: Path, tiny_root: Path) -> None:
    shutil.copytree(tiny_root, tmp_path / "d")
    (tmp_path / "d" / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="lacks t10k-images-idx3-ubyte"):
        locate("mnist", str(tmp_path / "d"))


def test_images_and_labels_of_different_lengths(tmp_path: Path, tiny_root: Path) -> None:
    shutil.copytree(tiny_root, tmp_path / "d")
    write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte.gz", (5,), bytes(5), gz=True)
    with pytest.raises(
        DataError, match=f"t10k-images-idx3-ubyte holds {TEST_N} images but t10k-labels-idx1-ubyte.gz holds 5 labels"
    ):
        load_data("mnist", str(tmp_path / "d"), torch.device("cpu"))


def test_bundled_data_is_cached_after_its_md5_check(tmp_path: Path, monkeypatch) -> None:
    import mlcl_train.data.loader as data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files, md5s = locate("mnist", None)
    name = "t10k-labels-idx1-ubyte"
    first = data.read_verified(files[name], md5s[name])
    cached = tmp_path / "mlcl-train" / f"{md5s[name]}.idx"
    assert cached.is_file()
    monkeypatch.setattr(data, "_decompressed", lambda *a: pytest.fail("decompressed despite the cache"))
    assert data.read_verified(files[name], md5s[name]) == first
    cached.write_bytes(b"damaged")
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.read_verified(files[name], md5s[name]) == first  # a damaged cache is read around and rewritten
    assert cached.stat().st_size == 8 + 10000


@pytest.mark.parametrize("damage", ["zeroed", "longer", "link-to-dev-zero", "fifo"])
def test_a_cache_that_does_not_match_is_rebuilt(tmp_path: Path, monkeypatch, damage: str) -> None:
    """The cache is checked on every read (size and CRC-32), so same-size damage cannot change a run."""
    import mlcl_train.data.loader as data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files, md5s = locate("mnist", None)
    name = "t10k-labels-idx1-ubyte"
    first = data.read_verified(files[name], md5s[name])
    cached = tmp_path / "mlcl-train" / f"{md5s[name]}.idx"
    good = cached.read_bytes()
    if damage == "zeroed":  # the labels zeroed, the size kept
        cached.write_bytes(good[:8] + bytes(len(good) - 8))
    elif damage == "longer":
        cached.write_bytes(good + b"\0")
    else:
        cached.unlink()
        cached.symlink_to("/dev/zero") if damage == "link-to-dev-zero" else os.mkfifo(cached)
    assert data.read_verified(files[name], md5s[name]) == first
    assert cached.is_file() and not cached.is_symlink() and cached.read_bytes() == good


def _gzip_bomb(path: Path, header_shape: tuple[int, ...], gib: int) -> Path:
    """A small .gz holding an IDX header and then `gib` GiB of zeros (repeated gzip members)."""
    member = gzip.compress(bytes(2**20), compresslevel=9)
    head = bytes([0, 0, 8, len(header_shape)]) + struct.pack(f">{len(header_shape)}I", *header_shape)
    path.write_bytes(gzip.compress(head) + member * (gib * 1024))
    return path


def test_a_gzip_bomb_is_not_unpacked_in_memory(tmp_path: Path) -> None:
    """Reading stops one byte past the size the IDX header announces; memory stays small."""
    path = _gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", (10, 28, 28), gib=4)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="is corrupt: header says 7840 bytes of data, file holds 7841"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize(
    "shape, message",
    [((2**31, 28, 28), "announces shape (2147483648, 28, 28)"), ((10, 32, 32), "announces shape (10, 32, 32)"),
     ((10, 2, 2, 2), "expected (N, 28, 28) images or (N,) labels with N <= 500,000")],
)
def test_an_idx_header_must_announce_an_mnist_shape(tmp_path: Path, shape: tuple[int, ...], message: str) -> None:
    path = _gzip_bomb(tmp_path / "x-idx3-ubyte.gz", shape, gib=1)
    with pytest.raises(DataError, match=re.escape(message)):
        read_idx(path)


@pytest.mark.parametrize("n, sizes", [(65, [65]), (129, [64, 65]), (130, [64, 64, 2]), (1, [1]), (64, [64])])
def test_a_last_batch_of_one_image_joins_the_one_before(n: int, sizes: list[int]) -> None:
    split = Split(torch.zeros(n, 1, 28, 28), torch.arange(n))
    for batches in (list(train_batches(split, 64, seed=0)), list(eval_batches(split, 64))):
        assert [len(y) for _, y in batches] == sizes
        assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(n))
    assert num_batches(n, 64) == len(sizes)


def test_batch_norm_trains_on_a_subset_that_leaves_one_image_over(tmp_path: Path, make_config) -> None:
    """train_subset=65 with batch 64 would end each epoch with a batch of one, which batch norm refuses."""
    config = make_config(model={"name": "mlp", "hidden": [16], "batch_norm": True}, train={"epochs": 1})
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs"),
                                      "--set", "data.train_subset=65"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


def test_fashion_mnist_is_found_in_debians_folder(tmp_path: Path, tiny_root: Path, monkeypatch) -> None:
    import mlcl_train.data.loader as data

    monkeypatch.setattr(data, "DEBIAN_FASHION", tiny_root)
    files, md5s = locate("fashion_mnist", None)
    assert files["train-images-idx3-ubyte"].parent == tiny_root and md5s == {}


def test_fashion_mnist_says_where_to_put_the_files_when_all_fails(tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets

    import mlcl_train.data.loader as data

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(data, "DEBIAN_FASHION", tmp_path / "absent")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(
        DataError, match="download failed .*set data.root to it, or install Debian's dataset-fashion-mnist"
    ):
        locate("fashion_mnist", None)
