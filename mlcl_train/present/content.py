"""What a presentation of runs shows, gathered once for both the slides and the HTML report.

    content = gather(read_runs(["runs"]), title="Homework 2: model structure")
    content.rows, content.runs[0].layers, content.images["confusion"]   # table cells, layers, PNG bytes

Takes run records (mlcl_train.runs.store); builds each model on the CPU for its layer table and
reloads the best run's model.pt for the confusion matrix. Nothing here
raises for a run that is running, interrupted or incomplete: what is missing becomes a note.
"""

from __future__ import annotations

import copy
import io
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import yaml

from mlcl_train.core.datasets import DATASETS
from mlcl_train.core.errors import UserError
from mlcl_train.core.values import model_shown, plural, shorten
from mlcl_train.inspect.compare import (
    NO_RUNS,
    cells,
    check_key,
    filter_runs,
    is_numeric,
    result_columns,
    said_keys,
    sort_runs,
    telling_keys,
)
from mlcl_train.present.story import Story, takeaways, tell
from mlcl_train.present.words import LANGS, chart_words, status_name, words
from mlcl_train.runs.labels import differing_keys, run_labels
from mlcl_train.runs.store import RunRecord

if TYPE_CHECKING:
    from mlcl_train.inspect.summary import Layer

FONT_PT = 14  # figure text at the size it is shown on a 13.3 x 7.5 inch slide
RUN_CURVES_IN = (6.4, 3.8)  # a run's loss and accuracy panels, beside its layer table
ALL_CURVES_IN = (12.4, 5.6)  # every run's test accuracy, a whole slide
SUBTITLE_KEYS = 6  # of the differing config keys named under the title (the slides fit as many as one line holds)


@dataclass
class RunContent:
    """One run's part: its model, layers, results and curves."""

    record: RunRecord
    label: str
    model_yaml: str  # the config's model section
    layers: list[Layer]  # as `mlcl-train summary` lists them
    layers_note: str  # why there is no layer table, or ""
    facts: list[tuple[str, str]]  # ("final accuracy", "98.12% (epoch 10 of 10)"), ...
    status_note: str  # "" when completed
    no_curves: str  # what the slide says where the curves would be, in the deck's language
    curves: bytes | None  # PNG
    say: Callable[..., str] = field(default=words("en"), repr=False)  # the deck's words, for its tables


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
    numeric: list[bool] | None = None  # per column of rows: numbers, right-aligned (None: guess from the text)
    compared: list[str] = field(default_factory=list)  # the config keys that differ, model keys first
    sweeps: list[SweepContent] = field(default_factory=list)  # each sweep's trials as one grouped table
    story: Story = field(default_factory=lambda: Story(None, [], [], [], []))  # the baseline, changes, setup, findings
    lang: str = "en"  # the deck's own words: en or ko (present/words.py)
    bars: bytes | None = None  # PNG: each run's accuracy, sorted, labelled with its change against the baseline
    best_curves: bytes | None = None  # PNG: test accuracy of the baseline and the best few runs
    takeaways: list[str] = field(default_factory=list)  # the closing slide's lines, to edit


@dataclass
class SweepContent:
    """A sweep shown as one table (a row per point, mean ± std over seeds) and its metric against each key."""

    name: str
    line: str  # "24 trials: completed 22, pruned 2; best trial kept as a run below"
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    figure: bytes | None  # PNG: plot --params


def gather(records: list[RunRecord], title: str | None = None, filters: Iterable[str] = (),
           device: str = "cpu", where: str = "runs", progress: Callable[[str], None] | None = None,
           baseline: str | None = None, lang: str = "en", columns: Iterable[str] = ()) -> Content:
    """Everything a deck or report shows about the runs (`where` names their folders in an error).

    The records and the best run's weights (read once, here) are the snapshot everything is built from,
    so a run still training cannot make one slide contradict another. `progress` hears each step.
    `baseline` names the run the others are described against; `columns` the comparison's columns."""
    say = progress or (lambda _: None)
    if lang not in LANGS:
        raise UserError(f"--lang {lang}: unknown language; valid: {', '.join(LANGS)}")
    runs = filter_runs(records, filters)
    if not runs:
        raise UserError(f"no run folders in {where}; {NO_RUNS}")
    runs, trials = fold_sweeps(sort_runs(runs))
    best = 0 if runs[0].best_acc is not None else None
    weights = read_weights(runs[best]) if best is not None else None
    labels = run_labels(runs)
    keys = differing_keys(runs)
    story = tell(runs, labels, baseline, lang)
    chosen = [c.strip() for text in columns for c in text.split(",") if c.strip()]
    for column in chosen:
        if column not in ("label", "run"):
            check_key(runs, column, f"--columns {column}")
    headers, rows = table(runs, labels, keys, story, chosen)
    headers, rows, same = (headers, rows, []) if chosen else split_same(headers, rows)
    colors = run_colors(len(runs), story.baseline)
    with figure_style(has_hangul(lang, labels, title), lang) as plt:
        parts = []
        for i, (run, label) in enumerate(zip(runs, labels, strict=True), 1):
            say(f"run {i} of {len(runs)}: {label}")
            parts.append(run_content(plt, run, label, colors[i - 1], lang))
        say("the curves of all runs")
        all_curves = curves_png(plt, runs, labels, acc_only=True, size=ALL_CURVES_IN, colors=colors)
        shown = [i for i in [story.baseline, *story.best_few] if i is not None]
        best_curves = curves_png(plt, [runs[i] for i in shown], [labels[i] for i in shown], acc_only=True,
                                 size=ALL_CURVES_IN, colors=[colors[i] for i in shown])
        bars = bars_png(plt, story, runs, colors, lang)
        for name, members in trials.items():
            say(f"the sweep {name}: {plural(len(members), 'trial')}")
        sweeps = [sweep_content(plt, name, members, alone=len(members) == len(runs))
                  for name, members in trials.items()]
    if best is not None:
        say(f"evaluating the weights of the best run, {labels[best]}")
        confusion_title, lines, images = best_run_eval(runs[best], labels[best], weights, device,
                                                       has_hangul(lang, labels, title), lang)
    else:
        confusion_title, lines, images = words(lang)("confusion_plain"), [words(lang)("no_curves")], {}
    mistakes_title = words(lang)("mistakes", label=labels[best]) if best is not None else ""
    notes = [words(lang)("not_completed", label=p.label, status=status_name(p.record.status, lang), note=p.status_note)
             for p in parts if p.status_note]
    numeric = [is_numeric(runs, h) or h == DELTA for h in headers]
    under = subtitle(runs, labels, keys, best, lang)
    if story.baseline is not None and len(runs) > 1 and runs[story.baseline].best_acc is not None:
        under.insert(1, words(lang)("baseline_is", label=labels[story.baseline], acc=runs[story.baseline].best_acc))
    return Content(title or default_title(runs, lang), under, headers, rows, same, best,
                   notes, parts, all_curves, confusion_title, mistakes_title, lines, images, numeric, keys, sweeps,
                   story, lang, bars, best_curves, takeaways(story, runs, words(lang)))


def fold_sweeps(runs: list[RunRecord]) -> tuple[list[RunRecord], dict[str, list[RunRecord]]]:
    """A sweep's trials leave the list of runs but for its best one: (runs, {sweep name: its trials}).
    The trials of one sweep given alone (its folder) stay runs: the talk is about them."""
    trials: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.sweep is not None:
            trials.setdefault(run.sweep, []).append(run)
    if len(trials) == 1 and all(run.sweep is not None for run in runs):
        return runs, trials
    best = {id(members[0]) for members in trials.values()}  # runs come best first
    return [r for r in runs if r.sweep is None or id(r) in best], trials


def sweep_content(plt: Any, name: str, trials: list[RunRecord], alone: bool = False) -> SweepContent:
    """A sweep's grouped table (the keys its trials vary) and plot --params's figure; `alone`: its trials are
    the runs shown."""
    from collections import Counter

    from mlcl_train.inspect.groups import group_cells, group_runs
    from mlcl_train.inspect.plot import params_figure, swept_keys

    keys = swept_keys(trials)
    headers, rows = group_cells(group_runs(trials, keys), keys)
    counts = ", ".join(f"{s} {n}" for s, n in Counter(r.status for r in trials).most_common())
    line = (f"{plural(len(trials), 'trial')} of {plural(len(rows), 'point')} ({counts}); "
            + ("each trial is shown as a run" if alone else "its best trial is shown as a run"))
    try:
        fig = params_figure(plt, trials)
        fig.set_size_inches(*ALL_CURVES_IN)
        figure = png(plt, fig)
    except UserError:
        figure = None
    return SweepContent(name, line, headers, rows, [False] * len(keys) + [True, True, False], figure)


DELTA = "vs baseline"  # the comparison's column of points over the baseline
TAIL = ("params", "final_acc", "epochs", "status")  # after the keys that tell the story
LAST = ("test_loss", "sec_per_epoch", "best_epoch", "model")  # after every other key


def table(runs: list[RunRecord], labels: list[str], keys: list[str], story: Story | None = None,
          columns: list[str] = ()) -> tuple[list[str], list[list[str]]]:
    """The comparison's cells, each run named by its label: the `columns` chosen, else in the order they matter:
    the run, its accuracy and points over the baseline, the keys the accuracy varies most with (none the label
    says), the other results, the other keys."""
    if columns:
        names = [c for c in columns if c not in ("run", "label")]
    else:
        telling = telling_keys(runs, keys, labels)
        said = said_keys(keys, labels)
        results = [c for c in result_columns(runs) if c != "run"]
        first = [c for c in ("best_acc", "best_val_acc", "best_split") if c in results]
        names = [*first, *telling, *(c for c in TAIL if c in results),
                 *(k for k in keys if k not in telling and k not in said),
                 *(c for c in results if c not in first and c not in TAIL)]
        names = [c for c in names if c not in LAST] + [c for c in LAST if c in names]
    headers, rows = cells(runs, keys, ["run", *names])
    rows = [[label, *row[1:]] for label, row in zip(labels, rows, strict=True)]
    if story is not None and story.baseline is not None and not columns and len(runs) > 1:
        points = {c.index: f"{c.delta:+.1f}" if c.delta is not None else "-" for c in story.changes}
        at = headers.index("best_acc") + 1
        headers.insert(at, DELTA)
        for i, row in enumerate(rows):
            row.insert(at, "base" if i == story.baseline else points.get(i, "-"))
    return headers, rows


def split_same(headers: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """Take the columns with one value in every row (of several rows) out of the table: (header, value) pairs."""
    same = [i for i in range(1, len(headers)) if len(rows) > 1 and len({r[i] for r in rows}) == 1]
    keep = [i for i in range(len(headers)) if i not in same]
    return [headers[i] for i in keep], [[r[i] for i in keep] for r in rows], [(headers[i], rows[0][i]) for i in same]


def default_title(runs: list[RunRecord], lang: str = "en") -> str:
    datasets = sorted({str((r.settings or {}).get("data.dataset", "mnist")) for r in runs})
    names = "/".join(DATASETS[d].title if d in DATASETS else d for d in datasets)
    return words(lang)("comparing", names=names, n=len(runs)) if len(runs) > 1 else f"{names}: {runs[0].run}"


def subtitle(runs: list[RunRecord], labels: list[str], keys: list[str], best: int | None,
             lang: str = "en") -> list[str]:
    more = len(keys) - SUBTITLE_KEYS
    shown = ", ".join(keys[:SUBTITLE_KEYS]) + (f" and {more} more" if more > 0 else "")
    say = words(lang)
    compared = f"{say('compared')}{shown}" if keys else say("one_run") if len(runs) == 1 else say("one_config")
    lines = [compared]
    if best is not None:
        run = runs[best]
        chosen = say("on_val") if run.best_split == "val" else ""
        lines.append(say("best_line", label=labels[best], acc=run.best_acc, epoch=run.best_epoch, chosen=chosen))
    return [*lines, time.strftime(say("date")).lstrip("0")]


# ---------------------------------------------------------------- one run


def run_content(plt: Any, run: RunRecord, label: str, color: str = "C0", lang: str = "en") -> RunContent:
    """A run's model section, layer table, facts and curves (in the run's colour); notes where something is
    missing."""
    from mlcl_train.present.words import fact_name, status_note

    say = words(lang)
    layers, layers_note = layer_table(run, say)
    note = status_note(run.status, lang)
    planned = "?" if run.epochs_planned is None else run.epochs_planned
    status = status_name(run.status, lang)
    status = status if not note else say("status_fact", status=status, done=run.epochs, planned=planned)
    shown = [(fact_name(name, lang), v) for name, v in facts(run, say, status)]
    return RunContent(run, label, model_yaml(run, say), layers, layers_note, shown, note, say("no_epoch"),
                      curves_png(plt, [run], [shorten(label, 28, "...")], acc_only=False, size=RUN_CURVES_IN,
                                 colors=[color]), say)


def read_weights(run: RunRecord) -> bytes | None:
    """model.pt read once into memory (None when there is none yet), evaluated later from these bytes."""
    try:
        return (run.path / "model.pt").read_bytes()
    except OSError:
        return None


def model_yaml(run: RunRecord, say: Callable[..., str]) -> str:
    """The `model` section of the run's config.yaml, as YAML; or why not, in say's language."""
    if run.config is None:
        return say("no_config_yaml")
    model = run.config.get("model")
    if model is None:
        return say("no_model_yaml")
    if isinstance(model, dict) and isinstance(model.get("name"), str):
        model = {**model, "name": model_shown(model["name"])}
    # width: half a slide
    return yaml.safe_dump({"model": model}, sort_keys=False, default_flow_style=None, width=44).rstrip()


def layer_table(run: RunRecord, say: Callable[..., str]) -> tuple[list[Layer], str]:
    """The model's layers as `mlcl-train summary` lists them, built from the run's config; or why not."""
    if run.config is None:
        return [], say("no_config", path=run.path)
    try:
        from mlcl_train.config.schema import resolve
        from mlcl_train.inspect.summary import layer_table as layers_of
        from mlcl_train.training.engine import build_model

        return layers_of(build_model(resolve(copy.deepcopy(run.config)))), ""
    except (UserError, RuntimeError) as err:  # a config this version cannot build, or a forward pass that fails
        return [], say("no_layers", why=err)


def facts(run: RunRecord, say: Callable[..., str], status: str) -> list[tuple[str, str]]:
    """The run's results, short enough for one line each, its status first; their values in say's language."""
    done, planned = run.epochs, run.epochs_planned
    at = say("epoch_of", done=done, planned=planned) if planned is not None else say("epoch_n", epoch=done)
    out = [("status", status)]
    if run.final_acc is not None:
        out.append(("final accuracy", say("acc_at", acc=run.final_acc, at=at)))
        if run.best_acc is not None:
            out.append(("best accuracy", say("acc_at", acc=run.best_acc, at=say("epoch_n", epoch=run.best_epoch))))
        out += validation_facts(run, say)
    if run.test_loss is not None:
        out.append(("final test loss", f"{run.test_loss:.4f}"))
    if run.params is not None:
        out.append(("parameters", f"{run.params:,}"))
    if run.sec_per_epoch is not None:
        out.append(("time per epoch", f"{run.sec_per_epoch:.1f} s"))
    return [*out, ("folder", run.run)]


def validation_facts(run: RunRecord, say: Callable[..., str]) -> list[tuple[str, str]]:
    """Which split chose the best epoch, val and test side by side, and where early stopping ended the run."""
    if run.best_split != "val":
        return [("best epoch chosen on", say("chosen_test"))] if run.best_epoch else []
    out = [("best epoch chosen on", say("chosen_val", val=run.best_val_acc, test=run.best_acc))]
    if run.stopped_early is not None:
        out.append(("early stop", say("stopped_after", epoch=run.stopped_early)))
    return out


def total_params(layers: list[Layer]) -> int:
    return sum(lay.params for lay in layers)


def is_number(text: str) -> bool:
    """A cell that reads as a number: 537,354 or 90.57 or 3/10 or - (none)."""
    return bool(text) and all(ch in "0123456789.,-/%" for ch in text)


# ---------------------------------------------------------------- figures


@contextmanager
def figure_style(hangul: bool = False, lang: str = "en") -> Iterator[Any]:
    """pyplot with text at FONT_PT, for figures shown at about their own size; with a Korean font for Hangul,
    and the figures' own words in `lang`."""
    from mlcl_train.inspect.plot import font_families, pyplot, speaking

    plt = pyplot()
    style = {"font.size": FONT_PT, "legend.fontsize": FONT_PT - 1}
    with plt.rc_context({**style, **({"font.family": font_families()} if hangul else {})}), speaking(chart_words(lang)):
        yield plt


def has_hangul(lang: str, labels: list[str], title: str | None) -> bool:
    """Whether the figures draw Korean: the deck's words, or a run's name or the title in Hangul."""
    return lang == "ko" or any("\uac00" <= ch <= "\ud7a3" for text in [*labels, title or ""] for ch in text)


BASELINE_COLOR = "#8c8c8c"  # grey: the baseline in every figure


def run_colors(count: int, baseline: int | None = None) -> list[str]:
    """One colour per run (in the order of the runs, best first), the same in every figure of a deck; the
    baseline grey, which no other run gets."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    palette = [to_hex(c) for c in (colormaps["tab10"].colors if count <= 9 else colormaps["tab20"].colors)]
    palette = [c for c in palette if c not in ("#7f7f7f", "#c7c7c7")]  # tab's greys, kept for the baseline
    others = iter(palette * (count // len(palette) + 1))
    return [BASELINE_COLOR if i == baseline else next(others) for i in range(count)]


def curves_png(plt: Any, runs: list[RunRecord], labels: list[str], acc_only: bool, size: tuple[float, float],
               colors: list[str] | None = None) -> bytes | None:
    """plot's curves of the runs as PNG bytes (each run in its colour), or None when none has a finished epoch."""
    from mlcl_train.inspect.plot import curves_figure

    try:
        fig, _ = curves_figure(plt, runs, labels, acc_only, size, colors)
    except UserError:
        return None
    return png(plt, fig)


MOST_BARS = 20  # runs in the "what each change did" chart; the others are in the appendix
BARS_IN = (12.3, 5.9)  # the chart, a whole slide below the title


def bars_png(plt: Any, story: Story, runs: list[RunRecord], colors: list[str], lang: str) -> bytes | None:
    """Each run's best test accuracy as a horizontal bar, best at the top, in the run's colour; the baseline grey
    and hatched; each bar labelled with the run, its change against the baseline and its points over it."""
    from mlcl_train.present.words import words

    say = words(lang)
    shown = story.changes[:MOST_BARS]
    if story.baseline is not None and all(c.index != story.baseline for c in shown):
        shown = [*shown[:-1], next(c for c in story.changes if c.index == story.baseline)]
    if not shown:
        return None
    accs = [runs[c.index].best_acc for c in shown]
    pt = FONT_PT if len(shown) <= 8 else max(8.0, FONT_PT * 8 / len(shown))
    fig, ax = plt.subplots(figsize=BARS_IN, layout="constrained")
    for y, (change, acc) in enumerate(zip(shown, accs, strict=True)):
        base = change.index == story.baseline
        ax.barh(y, acc, color=colors[change.index], hatch="//" if base else None,
                edgecolor="0.3" if base else "none")
        what = say("baseline") if base else ", ".join(change.what) or say("no_change")
        delta = "" if base or change.delta is None else f"  {say('points', d=change.delta)}"
        ax.text(acc, y, f" {acc:.2f}%{delta}   {shorten(what, 56 if len(shown) <= 10 else 44)}", va="center",
                fontsize=pt)
    ax.set_yticks(range(len(shown)), [shorten(c.label, 32) for c in shown], fontsize=pt)
    ax.invert_yaxis()
    low = 0.0 if min(accs) < 50 else max(0.0, min(accs) - (max(accs) - min(accs)) - 2)
    ax.set_xlim(low, 100 + (100 - low) * 0.8)  # room on the right for the labels
    ax.set_xticks([t for t in ax.get_xticks() if low <= t <= 100])
    ax.set_xlabel(say("accuracy"))
    ax.spines[["top", "right"]].set_visible(False)
    more = len(story.changes) - len(shown)
    if more > 0:
        ax.set_title(say("more_bars", n=more), fontsize=pt, loc="right")
    return png(plt, fig)


def png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")  # a wide legend grows the image, never cut
    finally:
        plt.close(fig)
    return buf.getvalue()


def best_run_eval(run: RunRecord, label: str, weights: bytes | None, device: str = "cpu",
                  hangul: bool = False, lang: str = "en") -> tuple[str, list[str], dict[str, bytes]]:
    """The best run's confusion matrix and mistakes from its saved weights (evaluation's figures)."""
    say = words(lang)
    title = say("confusion", label=label)
    if weights is None:
        return title, [say("no_weights", run=run.run)], {}
    from mlcl_train.inspect.evaluation import evaluate_run
    from mlcl_train.training.engine import resolve_device

    resolve_device(device)  # a device this machine lacks is the user's error, not a note in the deck
    with tempfile.TemporaryDirectory() as out, figure_style(hangul, lang):
        try:
            result = evaluate_run(run, out, device, mistakes=12, weights=weights)
        except (UserError, OSError, RuntimeError) as err:
            print(f"note: no confusion matrix: {err}", file=sys.stderr)  # the deck says it too
            return title, [say("no_confusion", err=err)], {}
        images = {path.stem: path.read_bytes() for path in result.files}  # confusion, mistakes
    count = sum(n for n, _ in result.per_class)
    epoch = weights_epoch(run, result.acc)
    after = say("after_epoch", epoch=epoch) if epoch is not None else say("as_saved")
    lines = [say("eval_acc", after=after, acc=result.acc, count=count)]
    if run.status != "completed":
        lines.append(say("eval_partial", status=status_name(run.status, lang)))
    hardest = sorted((c / n, name) for name, (n, c) in zip(result.classes, result.per_class, strict=True) if n)[:3]
    lines.append(say("lowest", classes=", ".join(f"{name} ({100 * share:.1f}%)" for share, name in hardest)))
    lines.append(say("confused", pairs=", ".join(confused(result.matrix, result.classes))))
    return title, lines, images


def weights_epoch(run: RunRecord, acc: float) -> int | None:
    """The epoch whose recorded test accuracy the weights reproduce (the last such), or None: weights newer
    than the metrics read, or evaluated on another device."""
    same = [row.epoch for row in run.metrics if abs(row.test_acc - acc) < 0.005]
    return same[-1] if same else None


def confused(matrix: list[list[int]], classes: list[str], most: int = 3) -> list[str]:
    """The largest off-diagonal counts, as "9 \u2192 4 (75\u00d7)"."""
    pairs = sorted(((n, i, j) for i, row in enumerate(matrix) for j, n in enumerate(row) if i != j and n), reverse=True)
    return [f"{classes[i]} \u2192 {classes[j]} ({n}\u00d7)" for n, i, j in pairs[:most]] or ["none"]


def setup_lines(content: Content) -> tuple[list[str], str]:
    """What every run shares, one line each; and the line on fairness: a warning naming the keys outside
    model.* in which the runs differ, or that only the model differs."""
    say, story = words(content.lang), content.story
    lines = [f"{say(phrase)}: {value}" for phrase, value in story.setup]
    keys = ", ".join(story.outside[:4]) + (f" (+{len(story.outside) - 4})" if len(story.outside) > 4 else "")
    return lines, say("warn_outside", keys=keys) if story.outside else say("same_recipe")


def change_lines(content: Content) -> list[str]:
    """Each run but the baseline, best first: its changes against the baseline and its points over it."""
    say, story = words(content.lang), content.story
    return [f"{c.label}: {', '.join(c.what) or say('no_change')} ({say('points', d=c.delta)})"
            for c in story.changes if c.index != story.baseline and c.delta is not None]

