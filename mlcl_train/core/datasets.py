"""The data sets' shape in one place: image size, channels, classes, class names, pixel statistics.

    from mlcl_train.core.datasets import IMAGE_SIZE, CHANNELS, NUM_CLASSES, DATASETS
    DATASETS["fashion_mnist"].classes[0]   # 'T-shirt'

Models are built for INPUT_SHAPE and NUM_CLASSES; data checks the files against it; evaluation
names the classes. A data set of another shape is a change in this file. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_SIZE = 28  # pixels per side
CHANNELS = 1  # grey
NUM_CLASSES = 10
INPUT_SHAPE = (CHANNELS, IMAGE_SIZE, IMAGE_SIZE)  # one image, as models take it: (N, *INPUT_SHAPE)


@dataclass(frozen=True)
class Dataset:
    title: str  # as slides and reports name it
    classes: tuple[str, ...]  # NUM_CLASSES names, by label
    mean: float  # pixel mean on [0, 1], for normalising
    std: float  # pixel standard deviation on [0, 1]
    torchvision_dir: str  # <root>/<dir>/raw/ where torchvision keeps its download


DATASETS = {
    "mnist": Dataset("MNIST", tuple(str(d) for d in range(10)), 0.1307, 0.3081, "MNIST"),
    "fashion_mnist": Dataset(
        "Fashion-MNIST",
        ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
        0.2860, 0.3530, "FashionMNIST",
    ),
}
assert all(len(d.classes) == NUM_CLASSES for d in DATASETS.values()), "each data set names NUM_CLASSES classes"
