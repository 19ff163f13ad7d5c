"""Runs grouped by their settings: mean ± std of a metric over each group's seeds, best first.

    mlcl-train compare runs/ --group                  # runs that differ only by seed form one row
    mlcl-train sweep sweeps/width_depth.yaml --status  # a sweep's points, with their status counts

    print(compare_groups(records, "best_acc", fmt="markdown"), end="")
    print(render_groups(group_runs(records, keys), keys, "best_acc"), end="")

Reads run records only (no torch, no optuna), so a sweep's status answers at once.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlcl_train.core import table
from mlcl_train.core.errors import UserError
from mlcl_train.core.values import model_shown, shorten
from mlcl_train.inspect.compare import (
    CELL_CHARS,
    MISSING,
    columns_within,
    differing_keys,
    filter_runs,
    show,
    telling_keys,
    value,
)
from mlcl_train.runs.store import RunRecord
from mlcl_train.sweeps.spec import Sweep

METRICS = ("best_acc", "final_acc", "test_loss")  # numbers a group averages; accuracies are best high
FINISHED = ("completed", "pruned", "diverged")  # a sweep's pair with one of these does not train again


@dataclass
class Group:
    """Runs with the same values of the grouping keys (a sweep's point); `pending` pairs not started."""

    values: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    pending: int = 0

    def scores(self, metric: str) -> list[float]:
        """The metric of each completed run."""
        return [v for r in self.runs if r.status == "completed" and (v := getattr(r, metric)) is not None]

    def mean(self, metric: str) -> float | None:
        scores = self.scores(metric)
        return statistics.fmean(scores) if scores else None

    def counts(self) -> str:
        """How the group's runs stand, e.g. 'completed 2, killed 1, pending 1'."""
        counted = Counter(r.status for r in self.runs)
        counted.update({"pending": self.pending} if self.pending else {})
        return ", ".join(f"{status} {n}" for status, n in counted.most_common())


def compare_groups(records: list[RunRecord], sort: str = "best_acc", top: int | None = None,
                   filters: list[str] | None = None, fmt: str = "table", width: int | None = None,
                   left_out: list[str] | None = None) -> str:
    """`mlcl-train compare --group`: the runs kept by the filters, one row per setting, best first by sort's mean;
    a table within `width` characters, as compare's, its keys that did not fit added to left_out."""
    if fmt == "json":
        raise UserError("--group prints table, markdown or csv")
    if sort not in METRICS:
        raise UserError(f"--group sorts by a mean: --sort {' | '.join(METRICS)}")
    kept = filter_runs(records, filters or [])
    keys = seedless_keys(kept)
    groups = best_first(group_runs(kept, keys), sort)[:top]
    if fmt == "table" and width is not None:
        shown = fitting_keys(groups, keys, sort, width, telling_keys(kept, keys))
        (left_out if left_out is not None else []).extend(k for k in keys if k not in shown)
        keys = shown
    return render_groups(groups, keys, sort, {"table": "text"}.get(fmt, fmt))


def fitting_keys(groups: list[Group], keys: list[str], metric: str, width: int, telling: list[str]) -> list[str]:
    """The keys whose columns fit beside the mean, n and status in `width` characters, the least telling left out
    first (as compare leaves out config columns)."""
    headers, rows = group_cells(groups, keys, metric)
    rows = [[shorten(v, CELL_CHARS) for v in row] for row in rows]
    fixed = sum(max(len(x) for x in [h, *(r[i] for r in rows)]) + 2 for i, h in enumerate(headers) if h not in keys)
    kept, _, _ = columns_within(keys, [row[:len(keys)] for row in rows], max(width - fixed, 0), telling)
    return kept


def seedless_keys(records: list[RunRecord]) -> list[str]:
    """The config keys that differ between the runs, the seed left out: what `compare --group` groups by."""
    return [k for k in differing_keys(records) if k != "seed"]


def group_runs(records: list[RunRecord], keys: list[str]) -> list[Group]:
    """One group per distinct combination of the keys' values, in the order the runs come."""
    groups: dict[str, Group] = {}
    for r in records:
        values = {k: value(r, k) for k in keys}
        ident = json.dumps([None if v is MISSING else v for v in values.values()], sort_keys=True, default=str)
        groups.setdefault(ident, Group(values)).runs.append(r)
    return list(groups.values())


def best_first(groups: list[Group], metric: str) -> list[Group]:
    """Groups by the mean of the metric, best first (accuracies high, losses low); groups without one last."""
    scored = [g for g in groups if g.mean(metric) is not None]
    rest = [g for g in groups if g.mean(metric) is None]
    return sorted(scored, key=lambda g: g.mean(metric), reverse=metric.endswith("_acc")) + rest


def render_groups(groups: list[Group], keys: list[str], metric: str = "best_acc", fmt: str = "text") -> str:
    """The groups as a table: the keys, the metric's mean ± std over completed runs, n, status counts."""
    headers, rows = group_cells(groups, keys, metric)
    if fmt in ("text", "markdown"):  # as compare's table: a long value is cut; csv gives it whole
        rows = [[shorten(v, CELL_CHARS) for v in row] for row in rows]
    return table.render(headers, rows, fmt, right={len(keys), len(keys) + 1})


def group_cells(groups: list[Group], keys: list[str], metric: str = "best_acc") -> tuple[list[str], list[list[str]]]:
    """Headers and display strings of the groups' table, best first (e.g. for a slide's table)."""
    rows = []
    for g in best_first(groups, metric):
        scores = g.scores(metric)
        spread = "-"
        if scores:
            spread = f"{statistics.fmean(scores):.2f} ± {statistics.stdev(scores) if len(scores) > 1 else 0:.2f}"
        shown = [model_shown(show(g.values.get(k, MISSING))) for k in keys]  # a model: FILE.py:Class
        rows.append([*shown, spread, str(len(scores)), g.counts()])
    return [*keys, f"{metric} (mean ± std)", "n", "status"], rows


def sweep_groups(sweep: Sweep, records: list[RunRecord]) -> tuple[list[Group], int]:
    """A sweep's points with the run that counts for each (point, seed), and how many trials have finished.

    Of several runs of one pair (a killed one, then its retrain), a finished one counts, else the newest."""
    runs: dict[tuple[str, int], RunRecord] = {}
    for r in sorted(records, key=lambda r: r.run):  # folder names start with their start time
        if r.sweep != sweep.name or r.point is None or r.seed is None:
            continue
        pair = (json.dumps(r.point, sort_keys=True), r.seed)
        if pair not in runs or runs[pair].status not in FINISHED:
            runs[pair] = r
    groups: dict[str, Group] = {json.dumps(p, sort_keys=True): Group(p) for p in sweep.points()}
    for (point, _), r in runs.items():
        groups.setdefault(point, Group(r.point)).runs.append(r)
    for g in groups.values():
        g.pending = len(sweep.seeds) - len(g.runs) if sweep.method == "grid" else 0
    done = sum(1 for r in runs.values() if r.status in FINISHED)
    return list(groups.values()), done


def sweep_status(sweep: Sweep, records: list[RunRecord], page: int = 1) -> str:
    """What --status and the end of a sweep print: a line of totals, then the grouped table (a page of it)."""
    from mlcl_train.sweeps.spec import page_of

    groups, done = sweep_groups(sweep, records)
    counts = Counter(r.status for g in groups for r in g.runs)
    counts["pending"] = sweep.total - sum(counts.values())
    shown = ", ".join(f"{s} {n}" for s, n in counts.most_common() if n > 0)
    head = f"sweep {sweep.name}: {done} of {sweep.total} trials finished ({shown})\n"
    headers, rows = group_cells(groups, sweep.keys, sweep.metric)
    start, stop, note = page_of(len(rows), page)
    return head + table.render(headers, rows[start:stop], right={len(sweep.keys), len(sweep.keys) + 1}) + note
