"""MNIST-style data: the IDX reader, the bundled MNIST, whole splits as tensors on the device.

Each split is read once, normalized once and held as one tensor on the training device;
a training batch is a slice of a fresh seeded permutation. No Dataset, PIL or DataLoader.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

from mlcl_train.core.datasets import CHANNELS, DATASETS, IMAGE_SIZE, NUM_CLASSES
from mlcl_train.core.errors import DataError, first_line
from mlcl_train.core.files import open_regular, read_bytes

if TYPE_CHECKING:
    import torch

BUNDLED = Path(__file__).parents[1] / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FILES = {  # split -> (images, labels), the names every MNIST-style data set uses
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
STATS = {name: (d.mean, d.std) for name, d in DATASETS.items()}  # pixel mean, std on [0, 1]
MAX_IMAGES = 500_000  # per IDX file: MNIST has 60,000, EMNIST digits 240,000; 500,000 images are 392 MB
TORCHVISION_DIR = {name: d.torchvision_dir for name, d in DATASETS.items()}  # <root>/<dir>/raw/


@dataclass
class Split:
    images: "torch.Tensor"  # (N, 1, 28, 28) float32, normalized
    labels: "torch.Tensor"  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)


def read_idx(path: Path, md5: str | None = None) -> tuple[tuple[int, ...], bytes]:
    """Read an IDX file of unsigned bytes (gzipped or not): (shape, data). Checks size and MD5."""
    return parse_idx(_decompressed(path, md5), path)


def _decompressed(path: Path, md5: str | None) -> bytes:
    """The file's bytes (gunzipped for .gz), read no further than its IDX header announces."""
    try:
        with open_regular(path, DataError) as f:
            if path.suffix != ".gz":
                raw = _read_announced(f, path)
            else:
                with gzip.open(f) as unzipped:  # streamed: a .gz that unpacks to GBs is not unpacked in memory
                    raw = _read_announced(unzipped, path)
    except (OSError, EOFError, zlib.error) as err:
        problem = "a truncated or corrupt gzip file" if path.suffix == ".gz" else "unreadable"
        raise DataError(f"{path} is {problem} ({err}); replace it") from None
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise DataError(f"{path} is corrupt: its MD5 does not match the original MNIST file; reinstall mlcl-train")
    return raw


def _read_announced(f: BinaryIO, path: Path) -> bytes:
    """The IDX header, then the data it announces and one byte more (so parse_idx sees a longer file)."""
    head = f.read(4)
    head += f.read(4 * head[3]) if len(head) == 4 else b""
    if len(head) < 8 or head[:3] != b"\0\0\x08" or len(head) < 4 + 4 * head[3]:
        return head  # parse_idx says what is wrong with it
    shape = struct.unpack(f">{head[3]}I", head[4:])
    if not (shape[1:] in ((), (IMAGE_SIZE, IMAGE_SIZE)) and len(shape) in (1, 3) and shape[0] <= MAX_IMAGES):
        raise DataError(f"{path}: its IDX header announces shape {shape}; expected (N, {IMAGE_SIZE}, {IMAGE_SIZE}) "
                        f"images or (N,) labels with N <= {MAX_IMAGES:,}")
    return head + f.read(shape[0] * (IMAGE_SIZE * IMAGE_SIZE if len(shape) == 3 else 1) + 1)


def parse_idx(raw: bytes, path: Path) -> tuple[tuple[int, ...], bytes]:
    """Split IDX bytes into (shape, data), checking the header against the length."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad header); expected MNIST-style IDX data")
    if raw[2] != 0x08:
        raise DataError(f"{path}: IDX element type 0x{raw[2]:02x} is not supported (expected unsigned bytes, 0x08)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: its header is incomplete")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = raw[4 + 4 * ndim :]
    expected = 1
    for dim in shape:
        expected *= dim
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "corrupt"
        raise DataError(f"{path} is {state}: header says {expected} bytes of data, file holds {len(data)}")
    return shape, data


def read_verified(path: Path, md5: str) -> tuple[tuple[int, ...], bytes]:
    """read_idx for a file with a known MD5, through a cache of the decompressed bytes.

    Decompressing and hashing the bundled MNIST costs about half a second per run; the cache
    file is written once, after the MD5 check, under a name that is that MD5. Each read checks
    its size and CRC-32 against the .gz file's trailer; a cache that differs is rewritten.
    """
    cache = cache_dir() / f"{md5}.idx"
    try:
        crc, size = struct.unpack("<II", _tail(path, 8))  # the gzip trailer: CRC-32 and size of the original
        raw = read_bytes(cache, size, DataError)
        if len(raw) == size and zlib.crc32(raw) == crc:  # ~12 ms for all of MNIST, the MD5 ~90 ms
            return parse_idx(raw, cache)
    except (OSError, struct.error, DataError):
        pass  # no cache yet, or a damaged one: read the original
    raw = _decompressed(path, md5)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(raw)
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only home or a full disk: the next run decompresses again
    except BaseException:  # Ctrl-C: no half-written file left in the cache
        tmp.unlink(missing_ok=True)
        raise
    return parse_idx(raw, path)


def _tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(-n, os.SEEK_END)
        return f.read(n)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlcl-train"


def find_files(folder: Path, dataset: str) -> dict[str, Path] | None:
    """The four IDX files in folder (plain or .gz, or torchvision's <folder>/<Name>/raw/), or None."""
    for candidate in (folder, folder / TORCHVISION_DIR[dataset] / "raw"):
        found = {}
        for name in (n for pair in FILES.values() for n in pair):
            path = next((p for p in (candidate / name, candidate / f"{name}.gz") if p.is_file()), None)
            if path is not None:
                found[name] = path
        if len(found) == 4:
            return found
        if found:
            missing = sorted(set(n for pair in FILES.values() for n in pair) - set(found))
            raise DataError(f"{candidate} lacks {', '.join(missing)} (plain or .gz); it needs all four IDX files")
    return None


def locate(dataset: str, root: str | None) -> tuple[dict[str, Path], dict[str, str]]:
    """Where the four files are, and the MD5s to check them against (bundled MNIST only)."""
    if root is not None:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DataError(f"data.root: folder not found: {folder}")
        files = find_files(folder, dataset)
        if files is None:
            raise DataError(f"data.root: {folder} holds no {dataset} IDX files (train-images-idx3-ubyte[.gz], ...)")
        return files, {}
    if dataset == "mnist":
        md5s = dict(line.split()[::-1] for line in (BUNDLED / "MD5SUMS.uncompressed").read_text().splitlines() if line)
        return {name: BUNDLED / f"{name}.gz" for name in md5s}, md5s
    files = find_files(DEBIAN_FASHION, dataset) if DEBIAN_FASHION.is_dir() else None
    return (files or _download_fashion()), {}


def load_split(files: dict[str, Path], md5s: dict[str, str], split: str) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) uint8 of one split, checked."""
    import torch

    image_name, label_name = FILES[split]
    shape, pixels = _read(files[image_name], md5s.get(image_name))
    label_shape, labels = _read(files[label_name], md5s.get(label_name))
    if len(shape) != 3 or shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{files[image_name]}: images have shape {shape}; expected (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
    if len(label_shape) != 1:
        raise DataError(f"{files[label_name]}: labels have shape {label_shape}; expected (N,)")
    if shape[0] != label_shape[0]:
        raise DataError(
            f"{files[image_name].name} holds {shape[0]} images "
            f"but {files[label_name].name} holds {label_shape[0]} labels"
        )
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8)
    if len(y) and int(y.max()) >= NUM_CLASSES:
        raise DataError(f"{files[label_name]}: labels must be 0-{NUM_CLASSES - 1}, found {int(y.max())}")
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(shape[0], CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    return x, y


def load_data(
    dataset: str, root: str | None, device: "torch.device", train_subset: int | None = None
) -> tuple[Split, Split]:
    """The train and test splits, normalized, on the device."""
    files, md5s = locate(dataset, root)
    return _split(files, md5s, "train", dataset, device, train_subset), _split(files, md5s, "test", dataset, device)


def load_splits(
    dataset: str, root: str | None, device: "torch.device", train_subset: int | None, val_split: int, seed: int
) -> tuple[Split, Split | None, Split]:
    """Train, validation (None when val_split is 0) and test splits, normalized, on the device.

    The validation images are held out of the whole training split first (val_indices), so the
    same seed holds out the same images whatever train_subset is; train_subset then takes the
    first N of the images that remain."""
    import torch

    if not val_split:
        train, test = load_data(dataset, root, device, train_subset)
        return train, None, test
    files, md5s = locate(dataset, root)
    x, y = load_split(files, md5s, "train")
    if val_split >= len(y):
        raise DataError(f"data.val_split: {val_split:,} of {len(y):,} training images leaves none to train on; "
                        "hold out fewer")
    held = val_indices(y, val_split, seed)
    kept = torch.ones(len(y), dtype=torch.bool)
    kept[held] = False
    rest = kept.nonzero().flatten()[:train_subset]
    test = _split(files, md5s, "test", dataset, device)
    return _to_device(x[rest], y[rest], dataset, device), _to_device(x[held], y[held], dataset, device), test


def val_indices(labels: "torch.Tensor", n: int, seed: int) -> "torch.Tensor":
    """n indices of a stratified, seeded choice: each class in its share of labels, sorted.

    Each class gets n * (its count) / (all) images, rounded so that the shares add up to n
    (largest remainders first); within a class the images are a seeded random choice."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = labels.long()
    counts = torch.bincount(labels, minlength=NUM_CLASSES).double()
    exact = counts * n / counts.sum()
    take = exact.floor().long()
    extra = (exact - take).argsort(descending=True, stable=True)[: n - int(take.sum())]
    take[extra] += 1
    chosen = []
    for cls in range(len(counts)):
        members = (labels == cls).nonzero().flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[: int(take[cls])]])
    return torch.cat(chosen).sort().values


def load_test(dataset: str, root: str | None, device: "torch.device") -> Split:
    """The test split alone, normalized, on the device (for evaluating saved weights)."""
    files, md5s = locate(dataset, root)
    return _split(files, md5s, "test", dataset, device)


def _split(
    files: dict[str, Path],
    md5s: dict[str, str],
    split: str,
    dataset: str,
    device: "torch.device",
    subset: int | None = None,
) -> Split:
    x, y = load_split(files, md5s, split)
    if subset is not None:
        x, y = x[:subset], y[:subset]
    return _to_device(x, y, dataset, device)


def _to_device(x: "torch.Tensor", y: "torch.Tensor", dataset: str, device: "torch.device") -> Split:
    """uint8 images and labels as a normalized Split on the device."""
    mean, std = STATS[dataset]
    images = x.to(device).float().mul_(1 / (255 * std)).sub_(mean / std)  # (x/255 - mean) / std
    return Split(images, y.to(device).long())


def train_batches(split: Split, batch_size: int, seed: int) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
    """Shuffled batches: slices of a permutation drawn from `seed` (the same seed, the same order)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split), generator=generator)
    if split.labels.device.type == "cuda":  # from pinned memory the copy does not make the host wait
        order = order.pin_memory().to(split.labels.device, non_blocking=True)
    for start, end in batch_bounds(len(split), batch_size):
        idx = order[start:end]
        yield split.images[idx], split.labels[idx]


def eval_batches(split: Split, batch_size: int) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
    """Batches in order; views of the split, no copies."""
    for start, end in batch_bounds(len(split), batch_size):
        yield split.images[start:end], split.labels[start:end]


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, end) of each batch; a last batch of one image joins the one before (batch norm fails on one)."""
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [(start, starts[i + 1] if i + 1 < len(starts) else n) for i, start in enumerate(starts)]


def _read(path: Path, md5: str | None) -> tuple[tuple[int, ...], bytes]:
    return read_verified(path, md5) if md5 else read_idx(path)


def num_batches(n: int, batch_size: int) -> int:
    return len(batch_bounds(n, batch_size))


def _download_fashion() -> dict[str, Path]:
    """Last resort for fashion_mnist: torchvision's download into the user's cache."""
    cache = Path.home() / ".cache" / "mlcl-train"
    hint = (
        "put the four IDX files (train-images-idx3-ubyte.gz, ...) in a folder and set data.root to it, "
        "or install Debian's dataset-fashion-mnist"
    )
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(cache), train=True, download=True)
        FashionMNIST(str(cache), train=False, download=True)
    except Exception as err:  # any network or mirror failure: say where the files can go instead
        reason = first_line(err)
        raise DataError(f"fashion_mnist: not in {DEBIAN_FASHION} and the download failed ({reason}); {hint}") from None
    files = find_files(cache, "fashion_mnist")
    if files is None:
        raise DataError(f"fashion_mnist: the download left no IDX files in {cache}; {hint}")
    return files
