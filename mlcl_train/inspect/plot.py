"""Figures: learning curves and per-layer gradient norms of runs, and eval's confusion matrix and mistakes.

    mlcl-train plot runs/*-hw2_baseline runs/*-mlp_deep -o curves.png
    mlcl-train plot runs/*-deep_sigmoid runs/*-deep_relu --grad-norms -o grads.png
    mlcl-train plot runs/sweeps/width_depth --params -o params.png     # the metric against each swept key

matplotlib draws with the Agg backend (no display needed), or in a notebook with the notebook's
own backend, and is imported only here.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mlcl_train.config.schema import Config, as_dict
from mlcl_train.core.datasets import INPUT_SHAPE
from mlcl_train.core.errors import UserError
from mlcl_train.inspect.compare import run_labels, show, value
from mlcl_train.runs.store import RunRecord, read_csv


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook, Colab)."""
    return "ipykernel" in sys.modules


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend; in a notebook on its own (inline) backend, which its other plots use."""
    import matplotlib

    if not in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


NO_RUNS = "pass run folders such as runs/2026...-mlp_deep"  # read_runs' hint


MOST_RUNS = 20  # curves in one figure: 10 colors, each with two line styles and markers
STYLES = (("-", "o"), ("-", "s"))  # (test line, marker) of runs 1-10 and 11-20; solid as the legend's test line
CJK_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic",
             "AppleGothic", "Apple SD Gothic Neo", "UnDotum")  # the first found draws Hangul
LABEL_CHARS = 36  # a legend label wraps after this many characters
WORDS: ContextVar[Callable[[str], str]] = ContextVar("WORDS", default=str)  # the figures' own words, translated


@contextmanager
def speaking(say: Callable[[str], str]) -> Iterator[None]:
    """Figures drawn inside the block give their own English words through `say` (a deck's --lang)."""
    token = WORDS.set(say)
    try:
        yield
    finally:
        WORDS.reset(token)


def plot_runs(runs: list[RunRecord], output: str | Path, acc_only: bool = False,
              grad_norms: bool = False, params: bool = False) -> tuple[Path, list[str]]:
    """Draw runs' curves (or gradient norms, or the metric against swept keys) into one image;
    returns its path and notes on the runs left out."""
    plt = pyplot()
    output = Path(output)
    check_format(plt, output)
    labels = run_labels(runs)
    if params:
        fig, skipped = params_figure(plt, runs), []
    elif grad_norms:
        fig, skipped = grad_norm_figure(plt, runs, labels), []
    else:
        fig, skipped = curves_figure(plt, runs, labels, acc_only)
    save(plt, fig, output)
    return output, skipped


def shown_runs(runs: list[RunRecord], labels: list[str]) -> tuple[list[tuple[str, RunRecord]], list[str]]:
    """The runs a curves figure draws (those with a finished epoch; the MOST_RUNS best) and notes on the others."""
    drawn = [(label, run) for label, run in zip(labels, runs, strict=True) if run.metrics]
    notes = [f"{run.run} has no finished epoch; left out" for run in runs if not run.metrics]
    if len(drawn) > MOST_RUNS:
        ranked = sorted(drawn, key=lambda lr: -(lr[1].best_acc or 0.0))
        kept = {id(run) for _, run in ranked[:MOST_RUNS]}
        notes.append(f"{len(drawn) - MOST_RUNS} of {len(drawn)} runs left out: a figure shows the {MOST_RUNS} "
                     f"with the best test accuracy (pass fewer runs, or filter them with compare --filter)")
        drawn = [(label, run) for label, run in drawn if id(run) in kept]
    return drawn, notes


def font_families() -> list[str]:
    """matplotlib's font list with a Korean font after DejaVu Sans, the first of CJK_FONTS on this machine; says
    in one line when there is none (Hangul would be drawn as empty boxes)."""
    from matplotlib import font_manager

    found = {f.name for f in font_manager.fontManager.ttflist}
    if not any(name in found for name in CJK_FONTS):  # installed after matplotlib's font cache was made
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name for part in ("Nanum", "NotoSansCJK", "NotoSansKR", "malgun")):
                font_manager.fontManager.addfont(path)
        found = {f.name for f in font_manager.fontManager.ttflist}
    korean = next((name for name in CJK_FONTS if name in found), None)
    if korean is None:
        print("note: no Korean font found (e.g. apt-get install fonts-nanum); Hangul in figures shows as boxes",
              file=sys.stderr)
        return ["DejaVu Sans"]
    return ["DejaVu Sans", korean]


def curves_figure(plt: Any, runs: list[RunRecord], labels: list[str], acc_only: bool,
                  size: tuple[float, float] | None = None, colors: list[str] | None = None) -> tuple[Any, list[str]]:
    """Loss (train dashed, test solid, val dotted) and test (and val) accuracy per epoch, one color and style
    per run; a star marks the best epoch where validation chose it; legend below.

    `size` is the axes' (width, height) in inches; the legend's rows add to the height. `colors`, one per run,
    keeps a run's colour the same in every figure. Its own words are those of the `speaking` block it is in."""
    import textwrap

    say = WORDS.get()

    color_of = {id(run): color for run, color in zip(runs, colors or [], strict=False)}

    series, notes = shown_runs(runs, labels)
    if not series:
        raise UserError("none of these runs has a finished epoch (metrics.csv is empty); nothing to plot")
    width, height = size or ((7.0, 4.5) if acc_only else (12.0, 4.5))
    if acc_only:
        fig, acc_ax = plt.subplots(figsize=(width, height), layout="constrained")
    else:
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(width, height), layout="constrained")
    handles = []
    with_val = any(run.best_split == "val" for _, run in series)
    for i, (label, run) in enumerate(series):
        rows = run.metrics
        color, (line, marker) = color_of.get(id(run), f"C{i % 10}"), STYLES[i // 10 % 2]
        epochs = [r.epoch for r in rows]
        style = {"marker": marker, "markersize": 3} if len(epochs) <= 30 else {}
        name = "\n".join(textwrap.wrap(label, LABEL_CHARS, break_on_hyphens=False)) or label
        handles += acc_ax.plot(epochs, [r.test_acc for r in rows], color=color, linestyle=line, label=name, **style)
        if run.best_split == "val":  # validation dotted, and a star at the best epoch it chose
            acc_ax.plot(epochs, [r.val_acc for r in rows], color=color, linestyle=":", alpha=0.9)
            acc_ax.plot([run.best_epoch], [run.best_acc], color=color, marker="*", markersize=12, linestyle="")
        if not acc_only:
            loss_ax.plot(epochs, [r.test_loss for r in rows], color=color, linestyle=line, **style)
            loss_ax.plot(epochs, [r.train_loss for r in rows], color=color, linestyle="--", alpha=0.7)
            if run.best_split == "val":
                loss_ax.plot(epochs, [r.val_loss for r in rows], color=color, linestyle=":", alpha=0.9)
    _style(acc_ax, say("Test accuracy (val dotted)" if with_val else "Test accuracy"), say("accuracy (%)"))
    if with_val:
        handles += [plt.Line2D([], [], color="0.3", linestyle=":", label=say("validation")),
                    plt.Line2D([], [], color="0.3", marker="*", markersize=10, linestyle="",
                               label=say("best epoch (chosen on val; test shown)"))]
    if not acc_only:
        _style(loss_ax, say("Loss"), say("mean loss per image"))
        handles += [plt.Line2D([], [], color="0.3", label=say("test loss")),
                    plt.Line2D([], [], color="0.3", linestyle="--", label=say("train loss"))]
    _legend(plt, fig, handles, width, height)
    finished = sum(1 for run in runs if run.metrics)
    if finished > MOST_RUNS:
        title = say("The {most} runs with the best test accuracy, of {finished}")
        fig.suptitle(title.format(most=MOST_RUNS, finished=finished), fontsize="medium")
    return fig, notes


def _legend(plt: Any, fig: Any, handles: list[Any], width: float, height: float) -> None:
    """The legend below the axes, as many entries side by side as fit; the figure grows by its rows."""
    longest = max(len(line) for h in handles for line in h.get_label().splitlines())
    char = 0.5 * plt.rcParams["font.size"] / 72  # inches of a character of the legend's "small" font
    columns = max(1, min(len(handles), int(width / (char * longest + 0.6))))  # legend entries side by side
    rows = max(sum(len(h.get_label().splitlines()) for h in handles[i::columns]) for i in range(columns))
    fig.set_figheight(height + 0.2 * rows)  # the legend's rows below the axes: at most about 4.5 inches more
    fig.legend(handles=handles, loc="outside lower center", ncol=columns, frameon=False, fontsize="small")


def augment_figure(cfg: Config, output: str | Path, images: int = 8, versions: int = 7) -> Path:
    """A grid of training images as data.augment distorts them: each row one image, first as it is.

    The same Augmenter as training (epoch 1's seed), on the CPU."""
    import torch

    from mlcl_train.data.augment import Augmenter, enabled
    from mlcl_train.data.loader import STATS, load_data

    spec = cfg.data.augment
    if not enabled(spec):
        raise UserError("the config's data.augment distorts nothing; set e.g. data.augment: {shift: 2, rotate: 10}")
    plt = pyplot()
    output = Path(output)
    check_format(plt, output)
    train, _ = load_data(cfg.data.dataset, cfg.data.root, torch.device("cpu"), images)
    mean, std = STATS[cfg.data.dataset]
    distort = Augmenter(spec, background=-mean / std, device=torch.device("cpu"), seed=cfg.seed * 100_003 + 1)
    batch = train.images.repeat_interleave(versions, 0)  # (images * versions, 1, 28, 28)
    shown = torch.cat([train.images[:, None], distort(batch).view(len(train), versions, *INPUT_SHAPE)], 1)
    pixels = (shown[:, :, 0] * std + mean).clamp(0, 1).numpy()  # (images, 1 + versions, 28, 28) in [0, 1]
    fig, axes = plt.subplots(len(pixels), versions + 1, figsize=(1.1 * (versions + 1), 1.1 * len(pixels) + 0.6),
                             squeeze=False)
    for (row, col), ax in zip(((r, c) for r in range(len(pixels)) for c in range(versions + 1)), axes.flat,
                              strict=True):
        ax.imshow(pixels[row, col], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title("original" if col == 0 else f"#{col}", fontsize="small")
    shown = as_dict(spec).items()
    shown_spec = ", ".join(f"{k} {v}" for k, v in shown if v and (k != "elastic_sigma" or spec.elastic))
    fig.suptitle(f"{cfg.name}: what the model trains on ({shown_spec})", fontsize=10)
    fig.tight_layout()
    save(plt, fig, output)
    return output


def grad_norm_figure(plt: Any, runs: list[RunRecord], labels: list[str]) -> Any:
    """One panel per run: each weight's mean gradient norm per epoch, log scale, input layers dark."""
    tables = []
    for run in runs:
        rows = read_csv(run.path / "grad_norms.csv")
        if not rows:
            raise UserError(f"{run.path} has no grad_norms.csv; train it with --set train.log_grad_norms=true")
        tables.append(rows)
    cols = min(len(runs), 3)
    nrows = (len(runs) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4 * nrows), sharey=True, squeeze=False,
                             layout="constrained")
    shared = all(list(t[0]) == list(tables[0][0]) for t in tables)  # the same layers: one legend for all
    for i, (ax, label, rows) in enumerate(zip(axes.flat, labels, tables, strict=False)):  # more axes than runs
        layers = [k for k in rows[0] if k != "epoch"]
        cmap = plt.get_cmap("viridis")
        epochs = [int(r["epoch"]) for r in rows]
        for j, layer in enumerate(layers):
            color = cmap(0.85 * j / max(len(layers) - 1, 1))
            ax.plot(epochs, [_positive(r.get(layer)) for r in rows], color=color, label=layer, marker="o", markersize=3)
        ax.set_yscale("log")
        _style(ax, label, "mean gradient norm" if i % cols == 0 else "")
        if not shared:
            ax.legend(fontsize="x-small", loc="best")
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    if shared:
        fig.legend(
            *axes.flat[0].get_legend_handles_labels(), loc="outside right upper", fontsize="small", frameon=False
        )
    fig.suptitle("Gradient norm per layer (input side dark, output side light)")
    return fig


def swept_keys(runs: list[RunRecord]) -> list[str]:
    """The keys a sweep varied (its trials' points), else the config keys that differ, the seed left out."""
    from mlcl_train.inspect.groups import seedless_keys

    return list(dict.fromkeys(k for r in runs if r.point for k in r.point)) or seedless_keys(runs)


def params_figure(plt: Any, runs: list[RunRecord], metric: str = "best_acc") -> Any:
    """One panel per swept key: each completed run's metric at its value (pruned runs as gray x), the mean in black."""
    keys = swept_keys(runs)
    if not keys:
        raise UserError("these runs differ in no config key but the seed; --params needs a sweep's runs")
    shown = sorted((r for r in runs if getattr(r, metric) is not None and r.status in ("completed", "pruned")),
                   key=lambda r: r.run)
    if not any(r.status == "completed" for r in shown):
        raise UserError("none of these runs has completed; nothing to plot")
    cols = min(len(keys), 3)
    nrows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4 * nrows), sharey=True, squeeze=False,
                             layout="constrained")
    for i, (ax, key) in enumerate(zip(axes.flat, keys, strict=False)):
        _param_panel(ax, key, shown, metric)
        ax.set_ylabel(f"{metric} (%)" if metric.endswith("_acc") and i % cols == 0 else "")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(f"{metric} of each run against each swept key (black: mean of the completed runs)")
    return fig


def _param_panel(ax: Any, key: str, runs: list[RunRecord], metric: str) -> None:
    values = [value(r, key) for r in runs]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric:
        xs = [float(v) for v in values]
        if min(xs) > 0 and max(xs) >= 20 * min(xs):
            ax.set_xscale("log")
    else:
        names = list(dict.fromkeys(show(v) for v in values))
        xs = [names.index(show(v)) + 0.05 * (i % 5 - 2) for i, v in enumerate(values)]  # spread equal points
        ax.set_xticks(range(len(names)), names, rotation=20 if max(map(len, names)) > 8 else 0)
        ax.set_xlim(-0.6, len(names) - 0.4)
    means: dict[float, list[float]] = {}
    for x, r in zip(xs, runs, strict=True):
        done = r.status == "completed"
        ax.scatter([x], [getattr(r, metric)], color="C0" if done else "0.6", marker="o" if done else "x", alpha=0.7)
        if done:
            means.setdefault(round(x) if not numeric else x, []).append(getattr(r, metric))
    spots = sorted(means)
    ax.scatter(spots, [sum(means[x]) / len(means[x]) for x in spots], color="black", marker="_", s=400, zorder=3)
    ax.set_title(key)
    ax.set_xlabel(key)
    ax.grid(alpha=0.3)


def confusion_figure(plt: Any, matrix: Sequence[Sequence[int]], classes: list[str], title: str) -> Any:
    """A confusion matrix with its counts: rows the true class, columns the predicted one."""
    import numpy as np

    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(7, 6))
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)  # color by the share of each true class
    from matplotlib.colors import PowerNorm

    image = ax.imshow(share, cmap="Blues", norm=PowerNorm(0.4, vmin=0, vmax=1))  # a few % of errors still show
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(
                j,
                i,
                str(n),
                ha="center",
                va="center",
                fontsize="small",
                color="white" if share[i, j] > 0.5 else "black",
            )
    ticks = range(len(classes))
    ax.set_xticks(
        ticks,
        classes,
        rotation=45 if max(map(len, classes)) > 2 else 0,
        ha="right" if max(map(len, classes)) > 2 else "center",
    )
    ax.set_yticks(ticks, classes)
    say = WORDS.get()
    ax.set_xlabel(say("predicted"))
    ax.set_ylabel(say("true"))
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=say("share of the true class"), ticks=[0, 0.01, 0.05, 0.2, 0.5, 1])
    fig.tight_layout()
    return fig


def mistakes_figure(
    plt: Any, images: Any, true: list[int], pred: list[int], conf: list[float], classes: list[str], title: str
) -> Any:
    """A grid of test images (N, 28, 28) in [0, 1], each titled with its true and predicted class."""
    n = len(images)
    cols = min(max(n, 1), 6)
    rows = max((n + cols - 1) // cols, 1)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p, c in zip(axes.flat, images, true, pred, conf, strict=False):  # more axes than images
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        text = WORDS.get()("true {t}\npred {p} ({c})").format(t=classes[t], p=classes[p], c=f"{c:.0%}")
        ax.set_title(text, fontsize="small")  # 8 pt at the default size
    if n == 0:
        axes[0, 0].text(0.5, 0.5, WORDS.get()("no wrong predictions"), ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def check_format(plt: Any, output: Path) -> None:
    """Refuse an output name whose suffix matplotlib cannot write, before drawing anything."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = output.suffix.lstrip(".").lower()
    if not suffix:
        raise UserError(f"-o {output}: name an image file, e.g. -o curves.png (.png, .pdf or .svg)")
    if suffix not in formats:
        raise UserError(f"-o {output}: cannot write .{suffix} images; use .png, .pdf or .svg")


def save(plt: Any, fig: Any, output: Path) -> None:
    """The figure into output (its format from the suffix), whole or not at all; a FIFO or link there is replaced."""
    import io

    from mlcl_train.core.files import write_output

    data = io.BytesIO()
    try:
        fig.savefig(data, format=output.suffix[1:].lower() or "png", dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    write_output(output, data.getvalue())


def _positive(text: str | None) -> float:
    """A gradient norm for a log axis: NaN (a gap in the line) when missing or not positive."""
    try:
        v = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return v if v > 0 else float("nan")


def _style(ax: Any, title: str, ylabel: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title)
    ax.set_xlabel(WORDS.get()("epoch"))
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = ax.get_xlim()
    if hi - lo < 1:  # a single epoch: show whole epochs around it, not fractions
        ax.set_xlim(round((lo + hi) / 2) - 1, round((lo + hi) / 2) + 1)
    ax.grid(alpha=0.3)
