"""Compare run folders: one row per run, and a column for each config key that differs between them.

    mlcl-train compare runs/ --filter model.activation=relu --format markdown

    records = read_runs(["runs"])                     # mlcl_train.runs.store: one RunRecord per run folder
    print(render(sort_runs(records), "markdown"))     # the columns of differing_keys(records) included

Reads only the run folders' files (through mlcl_train.runs.store) and never imports torch, so it
answers at once. A folder without summary.json is listed as `incomplete` with what its
metrics.csv holds; a run still marked `running` whose process is gone is listed as `killed`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from typing import Any, Iterable

import yaml

from mlcl_train.config.schema import lookup
from mlcl_train.core import table
from mlcl_train.core.errors import UserError
from mlcl_train.core.values import model_shown, shorten, suggest
from mlcl_train.runs.labels import MISSING, differing_keys, run_labels, shorten_label
from mlcl_train.runs.store import COLUMNS as MACHINE
from mlcl_train.runs.store import RunRecord, as_number

COLUMNS = ["run", "model", "params", "epochs", "final_acc", "best_acc", "best_epoch", "test_loss",
           "sec_per_epoch", "status"]  # the table's; csv and json give runs.COLUMNS, raw values
VAL_COLUMNS = ["best_val_acc", "best_split"]  # after best_epoch, when a run has a validation split
SHOWN = {
    "params": "{:,}",
    "best_val_acc": "{:.2f}",
    "val_acc": "{:.2f}",
    "final_acc": "{:.2f}",
    "best_acc": "{:.2f}",
    "test_loss": "{:.4f}",
    "sec_per_epoch": "{:.2f}",
}
RIGHT = {"params", "epochs", "final_acc", "best_acc", "best_epoch", "test_loss", "sec_per_epoch", "best_val_acc",
         "vs_baseline"}
AGAINST = ["vs_baseline", "changes"]  # with --baseline, after best_acc: points over the baseline, what the run changed
HIGH_FIRST = {"final_acc", "best_acc", "best_val_acc", "val_acc"}  # sorted best first; the rest low to high
FORMATS = ("table", "csv", "json", "markdown")
CELL_CHARS = 30  # a longer value (a model.layers list) is cut in a table; csv and json give it whole
LEAVE_OUT_FIRST = ("sec_per_epoch", "best_epoch", "test_loss", "model", "epochs", "params", "final_acc")  # too wide
LEAVE_OUT_LAST = ("status",)  # after every config key, last first; run and best_acc stay
FILTER = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<)(.*)", re.DOTALL)
NO_RUNS = "train one with: mlcl-train --config configs/hw2_baseline.yaml"  # read_runs' hint


def compare(
    records: list[RunRecord],
    sort: str = "best_acc",
    reverse: bool = False,
    top: int | None = None,
    filters: Iterable[str] = (),
    fmt: str = "table",
    columns: Iterable[str] = (),
    width: int | None = None,
    left_out: list[str] | None = None,
    baseline: str | None = None,
) -> str:
    """The compare command: filter, sort, keep the top N and render (the chosen columns; fit to `width`,
    adding the columns that did not fit to `left_out`); with `baseline`, each run against that run."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: unknown format; valid: {', '.join(FORMATS)}")
    chosen = [c.strip() for text in columns for c in text.split(",") if c.strip()]
    for column in chosen:
        if column not in ("label", *AGAINST):
            check_key(records, column, f"--columns {column}")
    base = None
    if baseline is not None:
        from mlcl_train.runs.labels import find_baseline

        base = records[find_baseline(records, run_labels(records), baseline)]
    return render(select(records, sort, reverse, top, filters), fmt, columns=chosen or None, width=width,
                  left_out=left_out, baseline=base)


def select(
    records: list[RunRecord], sort: str = "best_acc", reverse: bool = False, top: int | None = None,
    filters: Iterable[str] = (),
) -> list[RunRecord]:
    """The runs compare shows: filtered, sorted, the top N."""
    kept = filter_runs(records, filters)
    if not kept:
        shown = " ".join(f"--filter {f!r}" for f in filters)
        raise UserError(f"none of the {len(records)} runs matches {shown}; run 'mlcl-train compare' to see them all")
    return sort_runs(kept, sort, reverse)[:top]


# ---------------------------------------------------------------- choosing


def value(run: RunRecord, key: str) -> Any:
    """A column's value, or a config key's (MISSING when the run lacks it)."""
    if key in MACHINE:
        return run.get(key)
    return lookup(run.config or {}, key, MISSING)


def check_key(runs: list[RunRecord], key: str, option: str) -> None:
    known = list(dict.fromkeys([*MACHINE, *(k for r in runs for k in (r.settings or {}))]))
    if key not in known:
        raise UserError(f"{option}: unknown key {key!r}; {suggest(key, known)} (a column or a dotted config key)")


def filter_runs(runs: list[RunRecord], filters: Iterable[str]) -> list[RunRecord]:
    """Runs that pass every filter: KEY=VALUE (also != > >= < <=) on a column or config key, or a glob on the name."""
    everything = runs
    for text in filters:
        match = FILTER.fullmatch(text)
        if match is None:
            runs = [r for r in runs if any(fnmatch.fnmatchcase(str(r.get(k)), text) for k in ("name", "run"))]
            continue
        key, op, want = match.group(1), match.group(2), match.group(3).strip()
        check_key(everything, key, f"--filter {text!r}")
        runs = [r for r in runs if _passes(value(r, key), op, want, text)]
    return runs


def _passes(have: Any, op: str, want: str, text: str) -> bool:
    if op in ("=", "!="):
        try:
            parsed = yaml.safe_load(want) if want else None
        except yaml.YAMLError:
            parsed = want
        equal = have is not MISSING and (have == parsed or any(fnmatch.fnmatchcase(shown, want)
                                                              for shown in {show(have), model_shown(show(have))}))
        return equal == (op == "=")
    bound = _number(want)
    if bound is None:
        raise UserError(f"--filter {text!r}: {op} needs a number, e.g. --filter 'best_acc>=97'")
    number = _number(have)
    if number is None:
        return False
    return {">": number > bound, ">=": number >= bound, "<": number < bound, "<=": number <= bound}[op]


def sort_runs(runs: list[RunRecord], key: str = "best_acc", reverse: bool = False) -> list[RunRecord]:
    """Runs ordered by a column or config key (accuracies best first); runs without the value go last."""
    check_key(runs, key, f"--sort {key}")
    runs = sorted(runs, key=lambda r: str(r.path))  # equal values keep one order, whatever the input's
    known = [r for r in runs if value(r, key) not in (None, MISSING)]
    unknown = [r for r in runs if value(r, key) in (None, MISSING)]
    return sorted(known, key=lambda r: _order(value(r, key)), reverse=(key in HIGH_FIRST) != reverse) + unknown


def _order(v: Any) -> tuple[int, Any]:
    """A sort key that orders numbers by value, lists element by element, and text with its numbers as numbers."""
    number = _number(v)
    if number is not None:
        return (0, number)
    if isinstance(v, (list, tuple)):
        return (1, tuple(_order(x) for x in v))
    if isinstance(v, str):
        return (2, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", v) if p))
    return (3, show(v))


# ---------------------------------------------------------------- rendering


def render(runs: list[RunRecord], fmt: str = "table", keys: list[str] | None = None,
           columns: list[str] | None = None, width: int | None = None, left_out: list[str] | None = None,
           baseline: RunRecord | None = None) -> str:
    """The runs as text: table (aligned columns), markdown (a pipe table), csv or json (raw values).

    `columns` chooses the columns and config keys (default: the results and the differing `keys`);
    `width` fits a table into that many characters, leaving out the least useful columns (named in
    `left_out` when given)."""
    keys = differing_keys(runs) if keys is None else keys
    labels = run_labels(runs) if columns and "label" in columns else [""] * len(runs)
    if fmt in ("json", "csv"):
        names = columns or [*MACHINE, *(AGAINST if baseline is not None else []), *keys]
        raws = [[_column(r, k, lab, baseline) for k in names] for r, lab in zip(runs, labels, strict=True)]
        if fmt == "json":
            items = [{k: v for k, v in zip(names, raw, strict=True) if v is not MISSING} for raw in raws]
            return json.dumps(_finite(items), indent=2, allow_nan=False) + "\n"
        return table.render(names, [[_csv_cell(v, k not in MACHINE) for k, v in zip(names, raw, strict=True)]
                                    for raw in raws], "csv")
    if fmt not in ("table", "markdown"):
        raise UserError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    shown = columns
    if columns is None:  # where names repeat, the label (name and the keys that differ) follows the folder
        labels = run_labels(runs)
        if any(label != r.name for label, r in zip(labels, runs, strict=True)):
            shown = ["run", "label", *result_columns(runs)[1:], *keys]
        if baseline is not None:
            shown = shown or [*result_columns(runs), *keys]
            at = shown.index("best_acc") + 1
            shown = [*shown[:at], *AGAINST, *shown[at:]]
    headers, rows = cells(runs, keys, shown, labels, baseline)
    rows = [[v if h in ("run", "path") else label_cell(v) if h == "label"
             else shorten(v, 2 * CELL_CHARS if h == "changes" else CELL_CHARS)
             for h, v in zip(headers, row, strict=True)]
            for row in rows]
    if fmt == "table" and width is not None and columns is None:
        headers, rows, dropped = columns_within(headers, rows, width, telling_keys(runs, keys, labels))
        (left_out if left_out is not None else []).extend(dropped)
    right = {i for i, h in enumerate(headers) if is_numeric(runs, h)}
    return table.render(headers, rows, "text" if fmt == "table" else fmt, right)


def label_cell(label: str) -> str:
    """A label as a cell: a name's label cut in its name; a sweep trial's (all keys, `hidden=[64] s1`) kept longer."""
    return shorten_label(label, 2 * CELL_CHARS if "=" in label.split(" ")[0] else CELL_CHARS)


def cells(runs: list[RunRecord], keys: list[str], columns: list[str] | None = None,
          labels: list[str] | None = None, baseline: RunRecord | None = None) -> tuple[list[str], list[list[str]]]:
    """Headers and display strings (the table's), e.g. for a slide's table."""
    names = columns or [*result_columns(runs), *keys]
    labels = labels or [""] * len(runs)
    rows = [[_display(r, k, lab, baseline) for k in names] for r, lab in zip(runs, labels, strict=True)]
    return list(names), rows


def result_columns(runs: list[RunRecord]) -> list[str]:
    """The table's result columns: with the validation accuracy and the split that chose the best epoch
    (val or test) when any run has a validation split."""
    if not any(r.best_split == "val" for r in runs):
        return COLUMNS
    at = COLUMNS.index("best_epoch") + 1
    return [*COLUMNS[:at], *VAL_COLUMNS, *COLUMNS[at:]]


def columns_within(headers: list[str], rows: list[list[str]], width: int,
                   telling: list[str] | None = None) -> tuple[list[str], list[list[str]], list[str]]:
    """Leave out columns (the least useful first) until the text table is at most `width` characters wide:
    the config keys not in `telling` (see telling_keys), then the telling ones from the last."""
    need = {h: max(len(x) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(headers)}
    keys = [h for h in headers if h not in [*COLUMNS, *VAL_COLUMNS, *AGAINST, "label"]]  # label stays, as run does
    telling = [k for k in (keys if telling is None else telling) if k in keys]
    order = [*LEAVE_OUT_FIRST, *(k for k in reversed(keys) if k not in telling), *reversed(telling), "changes",
             *LEAVE_OUT_LAST]
    kept = list(headers)

    def fits(names: list[str]) -> bool:
        return sum(need[h] for h in names) + 2 * (len(names) - 1) <= width

    dropped = []
    for name in order:
        if fits(kept):
            break
        if name in kept:
            kept.remove(name)
            dropped.append(name)
    for name in reversed(dropped):  # a narrower column left out on the way may fit again
        if fits([*kept, name]):
            kept = [h for h in headers if h in kept or h == name]
    index = [headers.index(h) for h in kept]
    return kept, [[r[i] for i in index] for r in rows], [h for h in headers if h not in kept]


def accuracy_spread(runs: list[RunRecord], key: str) -> float:
    """How much the best test accuracy varies with a key: the range of its values' mean accuracies, in points."""
    groups: dict[str, list[float]] = {}
    for run in runs:
        if run.best_acc is not None:
            groups.setdefault(show(value(run, key)), []).append(run.best_acc)
    means = [sum(accs) / len(accs) for accs in groups.values()]
    return max(means) - min(means) if len(means) > 1 else 0.0


def said_keys(keys: list[str], labels: list[str]) -> list[str]:
    """The keys the runs' labels already show (`mlp_deep lr=0.05` shows train.optimizer.lr)."""
    from mlcl_train.runs.labels import abbreviate

    words = {word.split("=", 1)[0] for label in labels for word in label.split(" ") if "=" in word}
    return [k for k in keys if abbreviate(k, keys) in words]


def telling_keys(runs: list[RunRecord], keys: list[str], labels: list[str] = ()) -> list[str]:
    """The differing keys that tell the runs' story, the one the accuracy varies most with first; a key the runs'
    labels already show is left to the label, and so is one the accuracy does not vary with at all."""
    said = said_keys(keys, list(labels))
    spread = {k: accuracy_spread(runs, k) for k in keys}
    return sorted((k for k in keys if k not in said and (spread[k] > 0 or not any(spread.values()))),
                  key=lambda k: -spread[k])


def _column(run: RunRecord, key: str, label: str, baseline: RunRecord | None = None) -> Any:
    if key in AGAINST:
        return against(run, key, baseline)
    return label if key == "label" else value(run, key)


def against(run: RunRecord, key: str, baseline: RunRecord | None) -> Any:
    """vs_baseline (points of best test accuracy over the baseline's) or changes (what the run changed)."""
    from mlcl_train.runs.labels import changes_against

    if baseline is None:
        return None
    if key == "changes":
        return changes_against(run, baseline)
    if run.best_acc is None or baseline.best_acc is None:
        return None
    return round(run.best_acc - baseline.best_acc, 2)


def _display(run: RunRecord, key: str, label: str, baseline: RunRecord | None = None) -> str:
    if key == "label":
        return label
    if key == "changes":
        return "baseline" if run is baseline else ", ".join(against(run, key, baseline)) or "(the same config)"
    if key == "vs_baseline":
        points = against(run, key, baseline)
        return "base" if run is baseline else "-" if points is None else f"{points:+.1f}"
    if key in MACHINE:
        return cell(run, key)
    return model_shown(show(value(run, key))) if run.config is not None else "?"  # a model: FILE.py:Class


def is_numeric(runs: list[RunRecord], column: str) -> bool:
    """Whether a column shows numbers (right-aligned): a result column, or a config key with a number in every run."""
    if column in RIGHT:
        return True
    return column not in [*COLUMNS, *VAL_COLUMNS] and all(_number(value(r, column)) is not None for r in runs)


def show(v: Any) -> str:
    """A config value as YAML would write it; `-` when the run lacks the key."""
    if v is MISSING:
        return "-"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def cell(run: RunRecord, column: str) -> str:
    """A result column as the table shows it: `-` when unknown, epochs as done/planned."""
    v = run.get(column)
    if column == "best_split" and v is None and run.best_epoch is not None:
        return "test"  # a run from before validation splits chose its best epoch on test
    if v is None:
        return "-"
    if column == "epochs" and run.epochs_planned is not None:
        return f"{v}/{run.epochs_planned}"
    if column == "model":
        return model_shown(str(v))
    return SHOWN.get(column, "{}").format(v)


def _finite(v: Any) -> Any:
    """NaN and infinities as None: JSON has no such numbers (a diverged run's loss)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def _csv_cell(v: Any, is_config: bool) -> str:
    if v is MISSING or (v is None and not is_config):
        return ""
    return show(v) if is_config or isinstance(v, (list, dict)) else str(v)


def _number(v: Any) -> float | None:
    return None if v is MISSING else as_number(v)
