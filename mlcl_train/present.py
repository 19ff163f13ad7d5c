"""What a presentation of runs shows, gathered once for both the slides and the HTML report.

    content = gather(["runs"], title="Homework 2: model structure")
    content.rows, content.runs[0].layers, content.images["confusion"]   # table cells, layer rows, PNG bytes

Reads the run folders only (results, config.yaml, metrics.csv); builds each model on the CPU
for its layer table and reloads the best run's model.pt for the confusion matrix. Nothing here
raises for a run that is running, interrupted or incomplete: what is missing becomes a note.
"""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from mlcl_train.compare import cells, collect_runs, differing_keys, filter_runs, run_labels, sort_runs
from mlcl_train.errors import UserError
from mlcl_train.files import read_text
from mlcl_train.safe_yaml import load_yaml

FONT_PT = 14  # figure text at the size it is shown on a 13.3 x 7.5 inch slide
RUN_CURVES_IN = (6.4, 3.8)  # a run's loss and accuracy panels, beside its layer table
ALL_CURVES_IN = (12.4, 5.6)  # every run's test accuracy, a whole slide
DATASETS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
STATUS_NOTES = {
    "running": "still training",
    "killed": "marked running, but its process is gone",
    "interrupted": "stopped early; continue it with mlcl-train resume",
    "incomplete": "no summary.json; results as far as metrics.csv goes",
    "broken": "summary.json is unreadable; results from metrics.csv",
    "diverged": "the training loss became NaN or infinite",
    "failed": "stopped by an error",
}


@dataclass
class RunContent:
    """One run's part: its model, layers, results and curves."""

    row: dict[str, Any]  # the compare row
    label: str
    model_yaml: str  # the config's model section
    layers: list[tuple[str, str, str, str]]  # layer, type, output shape, params (display strings)
    layers_note: str  # why there is no layer table, or ""
    facts: list[tuple[str, str]]  # ("final accuracy", "98.12% (epoch 10 of 10)"), ...
    status_note: str  # "" when completed
    curves: bytes | None  # PNG


@dataclass
class Content:
    title: str
    subtitle: list[str]  # what was compared, the best run, the date
    headers: list[str]
    rows: list[list[str]]  # one per run, best first
    same: list[tuple[str, str]]  # (column, value) of the columns left out of rows: one value for every run
    best: int | None  # index of the best run in rows and runs
    notes: list[str]  # runs that are not completed, one line each
    runs: list[RunContent]
    all_curves: bytes | None
    confusion_title: str
    mistakes_title: str
    confusion_lines: list[str]  # accuracy of the reloaded weights, hardest classes, confusions; or why there are none
    images: dict[str, bytes] = field(default_factory=dict)  # confusion, mistakes (PNG)


def gather(paths: Iterable[str | Path], title: str | None = None, filters: Iterable[str] = (),
           device: str = "cpu") -> Content:
    """Everything a deck or report shows about the runs in paths (run folders or folders of them)."""
    paths = [Path(p) for p in paths]
    runs = filter_runs(collect_runs(paths), filters)
    if not runs:
        raise UserError(f"no run folders in {', '.join(map(str, paths))}; train one with: "
                        "mlcl-train --config configs/hw2_baseline.yaml")
    runs = sort_runs(runs)
    labels = run_labels(runs)
    keys = differing_keys(runs)
    headers, rows, same = split_same(*table(runs, labels, keys))
    best = 0 if runs[0].get("best_acc") is not None else None
    with figure_style() as plt:
        parts = [run_content(plt, run, label) for run, label in zip(runs, labels)]
        all_curves = curves_png(plt, runs, [shorten(label, 40) for label in labels], acc_only=True, size=ALL_CURVES_IN)
    confusion_title, lines, images = best_run_eval(runs[best], labels[best], device) if best is not None else (
        "Confusion matrix", ["No run has finished an epoch yet"], {})
    mistakes_title = f"Most confident mistakes: {labels[best]}" if best is not None else ""
    notes = [f"{p.label}: {p.row['status']} ({p.status_note})" for p in parts if p.status_note]
    return Content(title or default_title(runs), subtitle(runs, labels, keys, best), headers, rows, same, best,
                   notes, parts, all_curves, confusion_title, mistakes_title, lines, images)


def table(runs: list[dict[str, Any]], labels: list[str], keys: list[str]) -> tuple[list[str], list[list[str]]]:
    """compare's cells (results, then the differing config keys), each run named by its label."""
    headers, rows = cells(runs, keys)
    return headers, [[label, *row[1:]] for label, row in zip(labels, rows)]


def split_same(headers: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """Take the columns with one value in every row (of several rows) out of the table: (header, value) pairs."""
    same = [i for i in range(1, len(headers)) if len(rows) > 1 and len({r[i] for r in rows}) == 1]
    keep = [i for i in range(len(headers)) if i not in same]
    return [headers[i] for i in keep], [[r[i] for i in keep] for r in rows], [(headers[i], rows[0][i]) for i in same]


def default_title(runs: list[dict[str, Any]]) -> str:
    datasets = sorted({str((r.get("config") or {}).get("data.dataset", "mnist")) for r in runs})
    names = "/".join(DATASETS.get(d, d) for d in datasets)
    return f"{names}: comparing {len(runs)} runs" if len(runs) > 1 else f"{names}: {runs[0]['run']}"


def subtitle(runs: list[dict[str, Any]], labels: list[str], keys: list[str], best: int | None) -> list[str]:
    compared = f"Compared: {', '.join(keys)}" if keys else "One run" if len(runs) == 1 else "The runs share one config"
    lines = [compared]
    if best is not None:
        run = runs[best]
        lines.append(f"Best: {labels[best]}, {fmt(run['best_acc'], '.2f')}% test accuracy (epoch {run['best_epoch']})")
    return [*lines, time.strftime("%d %B %Y").lstrip("0")]


# ---------------------------------------------------------------- one run


def run_content(plt: Any, run: dict[str, Any], label: str) -> RunContent:
    """A run's model section, layer table, facts and curves; notes where something is missing."""
    folder = Path(run["path"])
    layers, layers_note = layer_rows(folder)
    status = run["status"]
    note = "" if status == "completed" else STATUS_NOTES.get(status, "unknown status")
    return RunContent(run, label, model_yaml(folder), layers, layers_note, facts(run), note,
                      curves_png(plt, [run], [shorten(label, 28)], acc_only=False, size=RUN_CURVES_IN))


def model_yaml(folder: Path) -> str:
    """The `model` section of the run's config.yaml, as YAML."""
    try:
        config = load_yaml(read_text(folder / "config.yaml"), str(folder / "config.yaml"))
    except UserError:  # missing, not a regular file, too large, not UTF-8 or not YAML
        return "(no readable config.yaml)"
    model = config.get("model") if isinstance(config, dict) else None
    if model is None:
        return "(config.yaml has no model section)"
    return yaml.safe_dump({"model": model}, sort_keys=False, default_flow_style=None, width=44).rstrip()  # a slide's half


def layer_rows(folder: Path) -> tuple[list[tuple[str, str, str, str]], str]:
    """The model's layers as `mlcl-train summary` lists them, built from config.yaml; or why not."""
    try:
        from mlcl_train.config import load_config
        from mlcl_train.model_summary import display_rows, layer_table
        from mlcl_train.train import build_model

        layers = layer_table(build_model(load_config(folder / "config.yaml")))
    except (UserError, RuntimeError) as err:  # a config this version cannot build, or a forward pass that fails
        return [], f"No layer table: {err}"
    return display_rows(layers), ""


def facts(run: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's results, short enough for one line each."""
    done, planned = run.get("epochs") or 0, run.get("epochs_planned")
    of = f" of {planned}" if planned is not None else ""
    status = run["status"] if run["status"] == "completed" else f"{run['status']}, {done}{of} epochs done"
    out = [("status", status)]
    if run.get("final_acc") is not None:
        out.append(("final accuracy", f"{fmt(run['final_acc'], '.2f')}% (epoch {done}{of})"))
        out.append(("best accuracy", f"{fmt(run['best_acc'], '.2f')}% (epoch {run['best_epoch']})"))
    if run.get("test_loss") is not None:
        out.append(("final test loss", fmt(run["test_loss"], ".4f")))
    if run.get("params") is not None:
        out.append(("parameters", fmt(run["params"], ",")))
    if run.get("sec_per_epoch") is not None:
        out.append(("time per epoch", f"{fmt(run['sec_per_epoch'], '.1f')} s"))
    return [*out, ("folder", run["run"])]


def fmt(value: Any, spec: str) -> str:
    """A number formatted, or as it is when it is not one (a hand-edited summary.json)."""
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def total_params(layers: list[tuple[str, str, str, str]]) -> int:
    """The parameters of layer rows together (their display strings read back)."""
    return sum(int(lay[3].replace(",", "")) for lay in layers)


def shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def is_number(text: str) -> bool:
    """A cell that reads as a number: 537,354 or 90.57 or 3/10 or - (none)."""
    return bool(text) and all(ch in "0123456789.,-/%" for ch in text)


# ---------------------------------------------------------------- figures


@contextmanager
def figure_style() -> Iterator[Any]:
    """pyplot with text at FONT_PT, for figures shown at about their own size."""
    from mlcl_train.plot import pyplot

    plt = pyplot()
    with plt.rc_context({"font.size": FONT_PT, "legend.fontsize": FONT_PT - 1}):
        yield plt


def curves_png(plt: Any, runs: list[dict[str, Any]], labels: list[str], acc_only: bool,
               size: tuple[float, float]) -> bytes | None:
    """plot's curves of the runs as PNG bytes, or None when none has a finished epoch."""
    from mlcl_train.plot import curves_figure

    try:
        fig, _ = curves_figure(plt, runs, labels, acc_only)
    except UserError:
        return None
    fig.set_size_inches(*size)
    return png(plt, fig)


def png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")  # a wide legend grows the image, never cut
    finally:
        plt.close(fig)
    return buf.getvalue()


def best_run_eval(run: dict[str, Any], label: str, device: str = "cpu") -> tuple[str, list[str], dict[str, bytes]]:
    """The best run's confusion matrix and mistakes from its saved weights (evaluation's figures)."""
    title = f"Confusion matrix: {label}"
    if not (Path(run["path"]) / "model.pt").is_file():
        return title, [f"No confusion matrix: {run['run']} has no saved weights (model.pt) yet"], {}
    with tempfile.TemporaryDirectory() as out, figure_style():
        try:
            from mlcl_train.evaluation import evaluate_run

            result = evaluate_run(run["path"], out, device, mistakes=12)
        except (UserError, OSError, RuntimeError) as err:
            return title, [f"No confusion matrix: {err}"], {}
        images = {path.stem: path.read_bytes() for path in result.files}  # confusion, mistakes
    done = run.get("epochs") or 0
    count = sum(n for n, _ in result.per_class)
    lines = [f"Its weights after epoch {done} classify {result.acc:.2f}% of {count:,} test images right"]
    if run["status"] != "completed":
        lines.append(f"The run is {run['status']}, not completed: these are its last saved weights")
    hardest = sorted((c / n, name) for name, (n, c) in zip(result.classes, result.per_class) if n)[:3]
    lines.append("Lowest accuracy: " + ", ".join(f"{name} ({100 * share:.1f}%)" for share, name in hardest))
    lines.append("Most often confused (true \u2192 predicted): " + ", ".join(confused(result.matrix, result.classes)))
    return title, lines, images


def confused(matrix: list[list[int]], classes: list[str], most: int = 3) -> list[str]:
    """The largest off-diagonal counts, as "9 \u2192 4 (75\u00d7)"."""
    pairs = sorted(((n, i, j) for i, row in enumerate(matrix) for j, n in enumerate(row) if i != j and n), reverse=True)
    return [f"{classes[i]} \u2192 {classes[j]} ({n}\u00d7)" for n, i, j in pairs[:most]] or ["none"]
