"""Export a run's model as one ONNX file that runs without mlcl-train (onnxruntime, OpenCV, ...).

    mlcl-train export runs/20261127-101500-cnn --format onnx -o cnn.onnx

The exported model takes `image`: float32 (N, 1, 28, 28) in [0, 1], white ink on black as
`predict --save-preprocessed` writes it; the training normalisation is folded in. It returns
`probabilities`: float32 (N, 10). The ONNX file's metadata names the dataset, the classes, the
normalisation and the preprocessing.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from mlcl_train.core.datasets import DATASETS, INPUT_SHAPE, NUM_CLASSES
from mlcl_train.core.errors import UserError
from mlcl_train.data.loader import STATS
from mlcl_train.serve.predict import RECIPES, load_model, run_dataset
from mlcl_train.training.engine import model_output_kind

FORMATS = {"onnx": "model.onnx"}
PREPROCESSING = ("grayscale; ink white on black (invert a light background); crop to the ink; scale the longer side "
                 "to {box} px, anti-aliased; paste into 28x28 centred by {centre}; values in [0, 1]")


class Deployed(nn.Module):
    """The run's model with the normalisation before it and probabilities after it."""

    def __init__(self, model: nn.Module, mean: float, std: float, kind: str) -> None:
        super().__init__()
        self.model, self.mean, self.std, self.kind = model, mean, std, kind

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) in [0, 1] -> (N, 10)
        out = self.model((image - self.mean) / self.std)
        if self.kind == "softmax":
            return out
        return out.exp() if self.kind == "log_softmax" else out.softmax(1)


def deployed(run_path: str | Path, trust_code: bool = False) -> tuple[Deployed, dict[str, str]]:
    """The wrapped model (eval mode, CPU) and the metadata that describes its input and output."""
    dataset = run_dataset(run_path, trust_code)
    model = load_model(run_path, trust_code=trust_code)
    mean, std = STATS[dataset]
    kind = model_output_kind(model)
    recipe = RECIPES[dataset]
    box, centre = recipe.box, "the centre of mass" if recipe.centre_of_mass else "the bounding box"
    meta = {
        "dataset": dataset,
        "classes": json.dumps(list(DATASETS[dataset].classes)),
        "input": f"image: float32 (N, {', '.join(map(str, INPUT_SHAPE))}), values in [0, 1], 0 = background",
        "output": f"probabilities: float32 (N, {NUM_CLASSES}), one column per class",
        "normalisation": json.dumps({"mean": mean, "std": std, "folded_in": True}),
        "preprocessing": PREPROCESSING.format(box=box, centre=centre),
        "run": Path(run_path).resolve().name,
    }
    return Deployed(model, mean, std, kind).eval(), meta


def export_run(run_path: str | Path, fmt: str = "onnx", output: str | Path | None = None,
               trust_code: bool = False) -> Path:
    """Write the run's model in `fmt`; returns the file's path."""
    if fmt == "torchscript":
        raise UserError("--format torchscript: torch 2.9 and later deprecate TorchScript; use --format onnx")
    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    path = Path(output) if output is not None else Path(run_path) / FORMATS[fmt]
    tmp = _claim(path)
    try:
        model, meta = deployed(run_path, trust_code)
        write_onnx(model, meta, tmp)
        tmp.replace(path)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _claim(path: Path) -> Path:
    """The temporary file beside `path` that the export is written to, created now: a path that cannot be
    written is one line before the model is loaded."""
    if path.is_dir():
        raise UserError(f"-o {path} is a folder; name the file to write, e.g. {path / 'model.onnx'}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}; choose another -o") from None
    return tmp


def write_onnx(model: Deployed, meta: dict[str, str], path: Path) -> None:
    """ONNX through torch's exporter (torch.export based), a dynamic batch axis, the metadata as metadata_props."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("exporting to ONNX needs the onnx package: pip install 'mlcl-train[export]'") from None
    example = torch.zeros(2, *INPUT_SHAPE)
    with warnings.catch_warnings():  # torch's own notices about its tracing internals (LSTM weights, size checks)
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=["probabilities"],
                          dynamic_shapes={"image": {0: torch.export.Dim("batch")}}, dynamo=True,
                          verbose=False, external_data=False)
    proto = onnx.load(str(path))
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = meta["preprocessing"]
    onnx.checker.check_model(proto)
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    if not batch.dim_param:  # a forward that takes the batch size as a number (len(x), a view(2, ...)) fixes it
        raise UserError(f"the model exports with a batch fixed at {batch.dim_value} images: its forward uses the "
                        "batch size as a number; use x.shape[0] (not len(x)) to keep it symbolic")
    onnx.save(proto, str(path))

