"""Compare run folders: one row per run, and a column for each config key that differs between them.

    mlcl-train compare runs/ --filter model.activation=relu --format markdown

    runs = collect_runs(["runs"])                 # one dict per run folder
    print(render(sort_runs(runs), "markdown"))     # the columns of differing_keys(runs) included

Reads only the run folders' files (summary.json, metrics.csv, config.yaml) and never imports
torch, so it answers at once. A folder without summary.json is listed as `incomplete` with what
its metrics.csv holds; a run still marked `running` whose process is gone is listed as `killed`.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from mlcl_train.errors import UserError
from mlcl_train.runs import read_csv, read_summary, run_state
from mlcl_train.schema import suggest

COLUMNS = ["run", "model", "params", "epochs", "final_acc", "best_acc", "best_epoch", "test_loss",
           "sec_per_epoch", "status"]
MACHINE = ["run", "name", "model", "params", "epochs", "epochs_planned", "final_acc", "best_acc", "best_epoch",
           "test_loss", "sec_per_epoch", "status", "path"]  # the csv and json fields, raw values
RIGHT = {"params", "epochs", "final_acc", "best_acc", "best_epoch", "test_loss", "sec_per_epoch"}
HIGH_FIRST = {"final_acc", "best_acc"}  # sorted best first; every other key sorts low to high
IGNORED = {"name"}  # differs between almost all runs and is already in the run folder's name
FORMATS = ("table", "csv", "json", "markdown")
RUN_FILES = ("summary.json", "config.yaml", "metrics.csv")
MISSING = object()  # a config key the run does not have (e.g. momentum in an adam run)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: same result, ~10x faster
FILTER = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<)(.*)", re.DOTALL)


def compare(paths: Iterable[str | Path], sort: str = "best_acc", reverse: bool = False, top: int | None = None,
            filters: Iterable[str] = (), fmt: str = "table") -> str:
    """The compare command: collect, filter, sort, keep the top N and render."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: unknown format; valid: {', '.join(FORMATS)}")
    paths = [Path(p) for p in paths]
    runs = collect_runs(paths)
    if not runs:
        where = ", ".join(map(str, paths))
        raise UserError(f"no run folders in {where}; train one with: mlcl-train --config configs/hw2_baseline.yaml")
    kept = filter_runs(runs, filters)
    if not kept:
        shown = " ".join(f"--filter {f!r}" for f in filters)
        raise UserError(f"none of the {len(runs)} runs matches {shown}; run 'mlcl-train compare' to see them all")
    return render(sort_runs(kept, sort, reverse)[:top], fmt)


# ---------------------------------------------------------------- reading


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders in paths: each path is a run folder or a folder of run folders."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UserError(f"{path}: no such folder; pass run folders or a folder of them (default: runs/)")
        if is_run(path):
            found.append(path)
        else:
            found += sorted(p for p in path.iterdir() if p.is_dir() and is_run(p))
    return list(dict.fromkeys(found))


def is_run(path: Path) -> bool:
    return any((path / name).is_file() for name in RUN_FILES)


def collect_runs(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """One row (a dict with the COLUMNS, `name`, `path`, `epochs_planned` and `config`) per run folder."""
    return [read_run(folder) for folder in find_runs(paths)]


def read_run(folder: Path) -> dict[str, Any]:
    """A run's row: results from summary.json, or from metrics.csv when that is missing; never raises."""
    config = read_config(folder)
    summary = read_summary(folder)
    row = {"run": folder.name, "name": _get(config, "name"), "path": str(folder),
           "model": _get(config, "model.name"), "params": None, "epochs_planned": _get(config, "train.epochs"),
           **from_metrics(read_csv(folder / "metrics.csv")), "config": config}
    if summary is None:
        row["status"] = "broken" if (folder / "summary.json").exists() else "incomplete"
        return row
    for key, field in (("name", "name"), ("model", "model"), ("params", "params"), ("epochs", "epochs_done"),
                       ("epochs_planned", "epochs"), ("final_acc", "final_acc"), ("best_acc", "best_acc"),
                       ("best_epoch", "best_epoch"), ("test_loss", "final_test_loss"),
                       ("sec_per_epoch", "seconds_per_epoch")):
        if summary.get(field) is not None:
            row[key] = summary[field]
    row["status"] = run_state(summary)
    return row


def from_metrics(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The result columns as far as metrics.csv tells them (for runs without summary.json)."""
    rows = [r for r in rows if _number(r.get("test_acc")) is not None]
    if not rows:
        return {"epochs": 0, "final_acc": None, "best_acc": None, "best_epoch": None, "test_loss": None,
                "sec_per_epoch": None}
    best = max(rows, key=lambda r: _number(r["test_acc"]))
    seconds = [s for s in (_number(r.get("seconds")) for r in rows) if s is not None]
    return {"epochs": _number(rows[-1].get("epoch")), "final_acc": _number(rows[-1]["test_acc"]),
            "best_acc": _number(best["test_acc"]), "best_epoch": _number(best.get("epoch")),
            "test_loss": _number(rows[-1].get("test_loss")),
            "sec_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None}


def read_config(folder: Path) -> dict[str, Any] | None:
    """config.yaml flattened to dotted keys ({'model.hidden': [512, 256], ...}), or None if unreadable."""
    try:
        data = yaml.load((folder / "config.yaml").read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return flatten(data) if isinstance(data, dict) else None


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# ---------------------------------------------------------------- choosing


def differing_keys(runs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every run (a key some runs lack counts), in config order."""
    configs = [r["config"] for r in runs if r.get("config") is not None]
    keys = dict.fromkeys(k for c in configs for k in c)
    return [k for k in keys if k not in IGNORED and len({_identity(c.get(k, MISSING)) for c in configs}) > 1]


def value(run: dict[str, Any], key: str) -> Any:
    """A column's value, or a config key's (MISSING when the run lacks it)."""
    if key in MACHINE:
        return run.get(key)
    return (run.get("config") or {}).get(key, MISSING)


def check_key(runs: list[dict[str, Any]], key: str, option: str) -> None:
    known = list(dict.fromkeys([*MACHINE, *(k for r in runs for k in (r.get("config") or {}))]))
    if key not in known:
        raise UserError(f"{option}: unknown key {key!r}; {suggest(key, known)} (a column or a dotted config key)")


def filter_runs(runs: list[dict[str, Any]], filters: Iterable[str]) -> list[dict[str, Any]]:
    """Runs that pass every filter: KEY=VALUE (also != > >= < <=) on a column or config key, or a glob on the run's name."""
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
        equal = have is not MISSING and (have == parsed or fnmatch.fnmatchcase(show(have), want))
        return equal == (op == "=")
    bound = _number(want)
    if bound is None:
        raise UserError(f"--filter {text!r}: {op} needs a number, e.g. --filter 'best_acc>=97'")
    number = _number(have)
    if number is None:
        return False
    return {">": number > bound, ">=": number >= bound, "<": number < bound, "<=": number <= bound}[op]


def sort_runs(runs: list[dict[str, Any]], key: str = "best_acc", reverse: bool = False) -> list[dict[str, Any]]:
    """Runs ordered by a column or config key (accuracies best first); runs without the value go last."""
    check_key(runs, key, f"--sort {key}")
    known = [r for r in runs if value(r, key) not in (None, MISSING)]
    unknown = [r for r in runs if value(r, key) in (None, MISSING)]
    return sorted(known, key=lambda r: _order(value(r, key)), reverse=(key in HIGH_FIRST) != reverse) + unknown


def _order(v: Any) -> tuple[int, Any]:
    number = _number(v)
    return (0, number) if number is not None else (1, show(v))


# ---------------------------------------------------------------- rendering


def render(runs: list[dict[str, Any]], fmt: str = "table", keys: list[str] | None = None) -> str:
    """The runs as text: table (aligned columns), markdown (a pipe table), csv or json (raw values)."""
    keys = differing_keys(runs) if keys is None else keys
    if fmt == "json":
        return json.dumps(_finite([_raw(r, keys) for r in runs]), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[*MACHINE, *keys], lineterminator="\n")
        writer.writeheader()
        for run in runs:
            raw = _raw(run, keys)
            writer.writerow({k: _csv_cell(raw.get(k, MISSING), k in keys) for k in writer.fieldnames})
        return buf.getvalue()
    headers, rows = cells(runs, keys)
    right = [h in RIGHT or (h in keys and all(_number(value(r, h)) is not None for r in runs)) for h in headers]
    if fmt == "markdown":
        return _markdown(headers, rows, right)
    if fmt == "table":
        return _table(headers, rows, right)
    raise UserError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def cells(runs: list[dict[str, Any]], keys: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and display strings (the table's), e.g. for a slide's table."""
    rows = [[_cell(r, c) for c in COLUMNS] + [show(value(r, k)) if r.get("config") else "?" for k in keys]
            for r in runs]
    return [*COLUMNS, *keys], rows


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


def _cell(run: dict[str, Any], column: str) -> str:
    v = run.get(column)
    if v is None:
        return "-"
    formats = {"params": "{:,}", "final_acc": "{:.2f}", "best_acc": "{:.2f}", "test_loss": "{:.4f}",
               "sec_per_epoch": "{:.2f}"}
    if column == "epochs" and run.get("epochs_planned") is not None:
        return f"{v}/{run['epochs_planned']}"
    try:
        return formats.get(column, "{}").format(v)
    except (TypeError, ValueError):  # a hand-edited summary.json
        return str(v)


def _raw(run: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    out = {k: run.get(k) for k in MACHINE}
    out.update((k, value(run, k)) for k in keys if value(run, k) is not MISSING)
    return out


def _finite(v: Any) -> Any:
    """NaN and infinities as None: JSON has no such numbers (a diverged run's loss)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def _csv_cell(v: Any, is_config: bool) -> Any:
    if v is MISSING or (v is None and not is_config):
        return ""
    return show(v) if is_config or isinstance(v, (list, dict)) else v


def _table(headers: list[str], rows: list[list[str]], right: list[bool]) -> str:
    widths = [max(len(x) for x in col) for col in zip(headers, *rows)]
    rule = ["-" * w for w in widths]
    lines = [
        "  ".join(x.rjust(w) if r else x.ljust(w) for x, w, r in zip(line, widths, right)).rstrip()
        for line in (headers, rule, *rows)
    ]
    return "\n".join(lines) + "\n"


def _markdown(headers: list[str], rows: list[list[str]], right: list[bool]) -> str:
    def line(items: list[str]) -> str:
        return "| " + " | ".join(x.replace("|", "\\|") for x in items) + " |"

    align = ["---:" if r else ":---" for r in right]
    return "\n".join([line(headers), "|" + "|".join(align) + "|", *map(line, rows)]) + "\n"


def _identity(v: Any) -> str:
    return "\0missing" if v is MISSING else json.dumps(v, sort_keys=True, default=str)


def _get(config: dict[str, Any] | None, key: str) -> Any:
    return None if config is None else config.get(key)


def _number(v: Any) -> float | None:
    """v as a number (ints stay ints), or None for None, bools and text that is not a number."""
    if isinstance(v, bool) or v is None or v is MISSING:
        return None
    if isinstance(v, (int, float)):
        return v
    try:
        number = float(v)
    except (TypeError, ValueError):
        return None
    return int(number) if str(v).strip().lstrip("-").isdigit() else number


def run_labels(runs: list[dict[str, Any]]) -> list[str]:
    """Short names for legends: the run's name, plus its differing config values where names repeat."""
    names = [str(r.get("name") or r["run"]) for r in runs]
    keys = differing_keys(runs)
    labels = [
        f"{n} ({', '.join(f'{k}={show(value(r, k))}' for k in keys)})" if names.count(n) > 1 and keys else n
        for n, r in zip(names, runs)
    ]
    return [lab if labels.count(lab) == 1 else r["run"] for lab, r in zip(labels, runs)]
