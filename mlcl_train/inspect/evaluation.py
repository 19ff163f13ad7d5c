"""Evaluate a finished run again: its weights on the test split, per class, and where it goes wrong.

    result = evaluate_run(read_run("runs/20261127-101500-mlp_deep"))   # writes confusion.png and mistakes.png there
    result = evaluate_run(record, which="best")                        # best.pt: the best epoch's weights
    print(render(*class_table(result)[:2]), end="")                       # accuracy per class
    for text, note in report([Path("runs/20261127-101500-mlp_deep")]): ...   # what `mlcl-train eval` prints
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from mlcl_train.config.schema import resolve
from mlcl_train.core.datasets import DATASETS
from mlcl_train.core.errors import UserError, first_line
from mlcl_train.core.table import render
from mlcl_train.data.loader import Split, eval_batches, load_test
from mlcl_train.models import anchor_model_file
from mlcl_train.models.trust import reading_run
from mlcl_train.runs.store import RunRecord
from mlcl_train.training.engine import as_probabilities, build_model, evaluate, load_state, resolve_device

WEIGHTS = {"last": "model.pt", "best": "best.pt"}  # --weights: the last finished epoch's, or the best epoch's

@dataclass
class Evaluation:
    loss: float
    acc: float  # %
    final_acc: float | None  # what the run recorded for these weights (after its last or its best epoch)
    classes: list[str]
    per_class: list[tuple[int, int]]  # (images, correct) per true class
    files: list[Path] = field(default_factory=list)
    matrix: list[list[int]] = field(default_factory=list)  # counts: row the true class, column the predicted one


def evaluate_run(record: RunRecord, out_dir: str | Path | None = None, device: str = "cpu",
                 mistakes: int = 24, weights: bytes | None = None, which: str = "last",
                 trust_code: bool = False) -> Evaluation:
    """Reload a run's config and model.pt (best.pt when `which` is "best"; or the `weights`, that file's
    bytes read before), evaluate the test split, write the two figures. A model file the config names is
    found from the run folder, and imported only if known or trusted (models.trust), as every command does."""
    run = record.path
    if not run.is_dir():
        raise UserError(f"{run}: no such folder; pass a run folder such as runs/20261127-101500-mlp_deep")
    if which not in WEIGHTS:
        raise UserError(f"--weights {which!r}: unknown; valid: {', '.join(WEIGHTS)}")
    weights_file = WEIGHTS[which]
    for name in ("config.yaml", *([weights_file] if weights is None else [])):
        if not (run / name).is_file():
            hint = " (runs before this version kept no best.pt; use --weights last)" if name == "best.pt" else ""
            raise UserError(f"{run} has no {name}; pass a run folder that finished at least one epoch{hint}")
    if record.config is None:
        raise UserError(f"{run}/config.yaml is not a readable YAML mapping; pass a run folder written by mlcl-train")
    dev, _ = resolve_device(device)
    with reading_run(trust_code):
        cfg = resolve(anchor_model_file(copy.deepcopy(record.config), run))
        model = build_model(cfg).to(dev)
    state = load_state(run / weights_file, "train the run again, or evaluate another", map_location=dev, data=weights)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:  # other weights, or not a state_dict at all
        reason = first_line(err)
        raise UserError(f"{run}/{weights_file} does not fit the model of its config.yaml ({reason})") from None
    data = cfg.data
    test = load_test(data.dataset, data.root, dev)
    loss, acc = evaluate(model, test, cfg.train.loss, cfg.eval.batch_size)
    probs = probabilities(model, test, cfg.eval.batch_size)
    conf, pred = probs.max(1)
    classes = list(DATASETS[data.dataset].classes)
    matrix = confusion(test.labels, pred, len(classes))
    recorded = record.best_acc if which == "best" else record.final_acc
    result = Evaluation(loss, acc, recorded, classes,
                        [(int(row.sum()), int(row[i])) for i, row in enumerate(matrix)], matrix=matrix.tolist())
    out = Path(out_dir) if out_dir is not None else run
    result.files = write_figures(run.name, out, test, pred, conf, matrix, classes, data.dataset, mistakes)
    return result


def probabilities(model: torch.nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """Class probabilities (N, classes) whether the model ends in logits, softmax or log-softmax."""
    model.eval()
    with torch.inference_mode():
        out = torch.cat([model(x).float() for x, _ in eval_batches(split, batch_size)]).cpu()
    return as_probabilities(out)


def confusion(true: torch.Tensor, pred: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) counts: row the true class, column the predicted one."""
    return torch.bincount(true.cpu() * n + pred.cpu(), minlength=n * n).view(n, n)


def write_figures(name: str, out: Path, test: Split, pred: torch.Tensor, conf: torch.Tensor, matrix: torch.Tensor,
                  classes: list[str], dataset: str, mistakes: int) -> list[Path]:
    """confusion.png and mistakes.png (the most confidently wrong test images) in out."""
    from mlcl_train.inspect.plot import WORDS, confusion_figure, mistakes_figure, pyplot, save

    plt = pyplot()
    labels = test.labels.cpu()
    wrong = (pred != labels).nonzero().flatten()
    worst = wrong[conf[wrong].argsort(descending=True)][:mistakes]  # the most confident mistakes first
    mean, std = DATASETS[dataset].mean, DATASETS[dataset].std
    images = (test.images[worst.to(test.images.device)].cpu()[:, 0] * std + mean).clamp(0, 1).numpy()  # (K, H, W)
    acc = 100.0 * float((pred == labels).float().mean())
    paths = [out / "confusion.png", out / "mistakes.png"]
    say = WORDS.get()
    heading = f"{name}\n" + say("confusion matrix ({acc}% correct)").format(acc=f"{acc:.2f}")
    save(plt, confusion_figure(plt, matrix.numpy(), classes, heading), paths[0])
    if mistakes == 0:  # no mistakes figure asked for
        return paths[:1]
    mistaken = say("the {k} most confident mistakes of {n}").format(k=len(worst), n=len(wrong))
    title = f"{name}: " + (mistaken if len(wrong) else say("none wrong"))
    save(
        plt,
        mistakes_figure(
            plt, images, labels[worst].tolist(), pred[worst].tolist(), conf[worst].tolist(), classes, title
        ),
        paths[1],
    )
    return paths


def report(runs: list[Path], output: Path | None = None, device: str = "cpu", mistakes: int = 24,
           which: str = "last", trust_code: bool = False) -> Iterator[tuple[str, bool]]:
    """`mlcl-train eval`: evaluate each run in turn; yields its lines as (text, True where it is a note for stderr).

    With several runs, output (if given) gets one folder per run."""
    from mlcl_train.config.schema import check_device
    from mlcl_train.runs.store import read_run

    check_device(device)
    for run in runs:
        if not run.is_dir():
            raise UserError(f"{run}: no such folder; pass run folders such as runs/20261127-101500-mlp_deep")
    for i, run in enumerate(runs):
        out = output / run.name if output is not None and len(runs) > 1 else output
        record = read_run(run)
        result = evaluate_run(record, out, device, mistakes, which=which, trust_code=trust_code)
        yield from run_report(record, result, device, which, i == 0)


def run_report(record: RunRecord, result: Evaluation, device: str, which: str,
               first: bool = True) -> Iterator[tuple[str, bool]]:
    """The lines of one run's evaluation, as (text, is a note for stderr)."""
    run = record.path
    recorded = "" if result.final_acc is None else f" (the run recorded {result.final_acc:.3f}%)"
    images = sum(n for n, _ in result.per_class)
    shown = "" if which == "last" else f" | weights best.pt (epoch {record.best_epoch})"
    yield ("" if first else "\n") + f"Run {run} | {images:,} test images | device {device}{shown}", False
    if which == "best" and record.best_split != "val":
        yield (f"note: {run.name}: this best epoch was chosen on the test split itself, so its test accuracy "
               "is optimistic; train with data.val_split to choose on validation"), True
    yield f"Test Loss: {result.loss:.6f}", False
    yield f"[Test Result] {result.acc:.3f}%{recorded}", False
    if result.final_acc is not None and abs(result.acc - result.final_acc) > 0.01:
        yield (f"note: {run.name}: this differs from the recorded accuracy: "
               f"the data or {WEIGHTS[which]} changed since the run"), True
    headers, rows, right = class_table(result)
    yield render(headers, rows, right=right, rule=False).rstrip("\n"), False
    yield from ((f"wrote {path}", False) for path in result.files)


def class_table(result: Evaluation) -> tuple[list[str], list[list[str]], set[int]]:
    """Headers, rows and right-aligned columns of the accuracy per class (for table.render)."""
    rows = [
        [name, str(n), str(correct), f"{100.0 * correct / n:.2f}%" if n else "-"]
        for name, (n, correct) in zip(result.classes, result.per_class, strict=True)
    ]
    return ["class", "images", "correct", "accuracy"], rows, {0, 1, 2, 3}
