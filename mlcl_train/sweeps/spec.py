"""A sweep file: the points and seeds of an architecture search, all checked before any trial trains.

    sweep = load_sweep("sweeps/width_depth.yaml")
    sweep.points()                 # a grid's points, [{'model.hidden': [128], 'model.activation': 'relu'}, ...]
    cfg = sweep.config(point, seed=2, index=0)   # a resolved config, as `train` takes it

Every key of `space` and `set` is checked against the config schema with the config's own
messages (a typo names the closest key); every grid point and both ends of every range resolve.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcl_train.config.loader import read_raw, read_yaml, with_values
from mlcl_train.config.schema import Config, resolve
from mlcl_train.core.errors import UserError
from mlcl_train.core.values import plural, quote, suggest, unknown_key

KEYS = ("name", "base", "set", "method", "trials", "seeds", "metric", "pruner", "space")
METHODS = ("grid", "random", "tpe")
METRICS = {"best_acc": "maximize", "final_acc": "maximize", "test_loss": "minimize"}  # higher or lower is better
PRUNERS = ("none", "median")
RANGE_KEYS = ("low", "high", "log", "int")
MAX_GRID = 10_000  # points in a grid at most: each is checked, listed and trained; more is a typo or a job for random
PAGE = 100  # rows --dry-run and --status list at a time (--page N for the others)
NOT_SWEPT = {"seed": "list the seeds under 'seeds:'", "name": "the sweep names its trials"}


@dataclass(frozen=True)
class Range:
    """A range for random and tpe: low..high, on a log scale when log, whole numbers when integer."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __str__(self) -> str:
        kind = "int " if self.integer else ""
        return f"{kind}{self.low:g}..{self.high:g}{' (log)' if self.log else ''}"


@dataclass(frozen=True)
class Pruner:
    """The median pruner: from epoch `warmup`+1 on, once `startup` trials have finished."""

    startup: int = 2
    warmup: int = 0


@dataclass(frozen=True)
class Sweep:
    path: Path
    name: str
    base: Path
    fixed: dict[str, Any]  # `set:` {dotted key: value}
    method: str
    points_wanted: int  # random and tpe: how many points; grid: every point
    seeds: tuple[int, ...]
    metric: str
    pruner: Pruner | None
    space: dict[str, list[Any] | Range]
    raw: dict[str, Any]  # the base config as read, not yet checked

    def folder(self, runs_dir: str | Path) -> Path:
        """Where the sweep's trials, its journal and its Slurm script go: runs_dir/sweeps/<name>/."""
        return Path(runs_dir) / "sweeps" / self.name

    @property
    def direction(self) -> str:
        return METRICS[self.metric]

    @property
    def keys(self) -> list[str]:
        return list(self.space)

    def points(self) -> list[dict[str, Any]]:
        """A grid's points in file order (the last key varies fastest); [] for random and tpe."""
        if self.method != "grid":
            return []
        values = [v for v in self.space.values() if isinstance(v, list)]
        return [dict(zip(self.space, combo, strict=True)) for combo in itertools.product(*values)]

    @property
    def point_count(self) -> int:
        """How many points the sweep trains, counted without building them (a grid: the product of its lists)."""
        if self.method != "grid":
            return self.points_wanted
        return math.prod(len(v) for v in self.space.values() if isinstance(v, list))

    @property
    def total(self) -> int:
        """How many trials the sweep trains in all: points x seeds."""
        return self.point_count * len(self.seeds)

    def config(self, point: dict[str, Any], seed: int, index: int) -> Config:
        """The resolved config of one trial (point number `index`, one seed)."""
        return self.resolve({**self.fixed, **point, "seed": seed, "name": f"{self.name}-{index}-s{seed}"})

    def resolve(self, values: dict[str, Any]) -> Config:
        """The base config with values ({dotted key: value}) merged in, checked against the schema."""
        return resolve(with_values(self.raw, values))


def point_key(point: dict[str, Any], seed: int) -> str:
    """A (point, seed) pair as text: the same pair, the same key, in every process and host."""
    return json.dumps({"point": point, "seed": seed}, sort_keys=True)


def load_sweep(path: str | Path, check: bool = True) -> Sweep:
    """Read and check a sweep file; raises UserError naming the file and the key that is wrong.

    check=False leaves the grid's points unresolved (for --status, which trains nothing)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"sweep file not found: {path}; see sweeps/ for examples")
    data = read_yaml(path)
    base, method, metric = _header(data, path)
    fixed = _mapping(data.get("set"), path, "set")
    space = {key: _values(key, v, method, path) for key, v in _mapping(data.get("space"), path, "space").items()}
    if not space:
        raise UserError(f"{path}: space: name at least one key to sweep, e.g. 'model.activation: [relu, gelu]'")
    for key in [*fixed, *space]:
        if key in NOT_SWEPT:
            raise UserError(f"{path}: {key}: cannot be set by a sweep; {NOT_SWEPT[key]}")
    try:
        raw = read_raw(base)
    except UserError as err:
        raise UserError(f"{path}: base: {err}") from None
    base_cfg = _resolve(path, raw, fixed, "set")
    sweep = Sweep(
        path=path,
        name=_name(data.get("name", path.stem), path),
        base=base,
        fixed=fixed,
        method=method,
        points_wanted=_trials(data, method, path),
        seeds=_seeds(data.get("seeds", [base_cfg.seed]), path),
        metric=metric,
        pruner=_pruner(data.get("pruner", "none"), path),
        space=space,
        raw=raw,
    )
    if sweep.point_count > MAX_GRID:
        sizes = " x ".join(str(len(v)) for v in space.values())
        raise UserError(f"{path}: space: a grid of {sizes} = {sweep.point_count:,} points is more than {MAX_GRID:,}; "
                        "sweep fewer values per key, or use method: random with trials: N")
    if check:
        _check_points(sweep)
    return sweep


def _header(data: dict[str, Any], path: Path) -> tuple[Path, str, str]:
    """A sweep file's keys checked, and its base config, method and metric."""
    for key in data:
        if key not in KEYS:
            raise UserError(f"{path}: {unknown_key(str(key), list(KEYS))}")
    if "base" not in data or not isinstance(data["base"], str):
        raise UserError(f"{path}: 'base' must name the config every trial starts from, "
                        "e.g. base: ../configs/mlp_deep.yaml")
    base = path.parent / data["base"]
    if not base.is_file():
        raise UserError(f"{path}: base: {base} is not a config file")
    method = data.get("method", "grid")
    if method not in METHODS:
        raise UserError(f"{path}: method: unknown value {quote(method)}; {suggest(str(method), list(METHODS))}")
    metric = data.get("metric", "best_acc")
    if metric not in METRICS:
        raise UserError(f"{path}: metric: unknown value {quote(metric)}; {suggest(str(metric), list(METRICS))}")
    return base, method, metric


def _mapping(value: Any, path: Path, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UserError(f"{path}: {key}: expected a mapping of dotted config keys, e.g. 'train.epochs: 5'")
    return value


def _values(key: str, value: Any, method: str, path: Path) -> list[Any] | Range:
    if isinstance(value, list):
        if not value:
            raise UserError(f"{path}: space: {key}: the list of values is empty")
        return value
    if not isinstance(value, dict):
        raise UserError(f"{path}: space: {key}: expected a list of values or a range {{low: 1, high: 10}}, "
                        f"got {quote(value)}")
    if method == "grid":
        raise UserError(f"{path}: space: {key}: a range needs method: random or tpe; a grid takes a list of values")
    for k in value:
        if k not in RANGE_KEYS:
            raise UserError(f"{path}: space: {key}: {unknown_key(str(k), list(RANGE_KEYS))}")
    low, high = value.get("low"), value.get("high")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or not low < high:
        raise UserError(f"{path}: space: {key}: a range needs numbers low < high, "
                        f"got low={quote(low)} high={quote(high)}")
    log, integer = value.get("log", False), value.get("int", False)
    if not isinstance(log, bool) or not isinstance(integer, bool):
        raise UserError(f"{path}: space: {key}: log and int are true or false")
    if log and low <= 0:
        raise UserError(f"{path}: space: {key}: a log range needs low > 0, got {low}")
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise UserError(f"{path}: space: {key}: an int range needs whole numbers, got {low}..{high}")
    return Range(int(low) if integer else low, int(high) if integer else high, log, integer)


def _name(name: Any, path: Path) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise UserError(f"{path}: name: expected a folder name such as width_depth, got {quote(name)}")
    return name


def _trials(data: dict[str, Any], method: str, path: Path) -> int:
    trials = data.get("trials")
    if method == "grid":
        if trials is not None:
            raise UserError(f"{path}: trials: a grid trains every point; 'trials' is for method: random or tpe")
        return 0
    if trials is None:
        raise UserError(f"{path}: trials: method {method} needs the number of points to try, e.g. trials: 20")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise UserError(f"{path}: trials: expected a whole number >= 1, got {quote(trials)}")
    return trials


def _seeds(seeds: Any, path: Path) -> tuple[int, ...]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    ok = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not ok or any(not 0 <= s < 2**32 for s in seeds):
        raise UserError(f"{path}: seeds: expected a list of whole numbers 0..2^32-1, e.g. seeds: [1, 2, 3]")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{path}: seeds: {quote(seeds)} lists a seed twice")
    return tuple(seeds)


def _pruner(value: Any, path: Path) -> Pruner | None:
    spec = {"name": value} if isinstance(value, str) else value
    if not isinstance(spec, dict) or spec.get("name") not in PRUNERS:
        raise UserError(f"{path}: pruner: expected none or median (or {{name: median, startup: 2, warmup: 0}}), "
                        f"got {quote(value)}")
    if spec["name"] == "none":
        return None
    for key in spec:
        if key not in ("name", "startup", "warmup"):
            raise UserError(f"{path}: pruner: {unknown_key(str(key), ['name', 'startup', 'warmup'])}")
    numbers = {k: spec.get(k, getattr(Pruner, k)) for k in ("startup", "warmup")}
    for key, n in numbers.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise UserError(f"{path}: pruner: {key}: expected a whole number >= 0, got {quote(n)}")
    return Pruner(**numbers)


def _resolve(path: Path, raw: dict[str, Any], values: dict[str, Any], where: str) -> Config:
    try:
        return resolve(with_values(raw, values))
    except UserError as err:
        raise UserError(f"{path}: {where}: {err}") from None


def _check_points(sweep: Sweep) -> None:
    """Every grid point, and each range's low and high end, resolves against the schema."""
    if sweep.method == "grid":
        for point in sweep.points():
            _resolve(sweep.path, sweep.raw, {**sweep.fixed, **point}, f"space point {_show(point)}")
        return
    for key, values in sweep.space.items():
        ends = [values.low, values.high] if isinstance(values, Range) else values
        for v in ends:
            _resolve(sweep.path, sweep.raw, {**sweep.fixed, key: v}, f"space: {key}={_show(v)}")


def _show(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def page_of(count: int, page: int) -> tuple[int, int, str]:
    """Rows [start, stop) of page `page` (from 1) of `count` rows, and a last line saying what is not shown."""
    start, stop = (page - 1) * PAGE, min(page * PAGE, count)
    if start == 0 and stop == count:
        return start, stop, ""
    if start >= count:
        return count, count, f"(page {page} is past the last page, {max(1, -(-count // PAGE))})\n"
    more = f"; --page {page + 1} lists the next" if stop < count else ""
    return start, stop, f"(rows {start + 1}-{stop} of {count:,}{more})\n"


def describe(sweep: Sweep, page: int = 1) -> str:
    """What --dry-run prints: the method, the trial count and the points (a page of them), or the ranges."""
    from mlcl_train.core.table import render

    seeds = ", ".join(map(str, sweep.seeds))
    if sweep.method == "grid":
        head = (f"sweep {sweep.name}: grid of {plural(sweep.point_count, 'point')} x "
                f"{plural(len(sweep.seeds), 'seed')} ({seeds}) = {plural(sweep.total, 'trial')}, from {sweep.base}\n")
        start, stop, note = page_of(sweep.point_count, page)
        points = itertools.islice(enumerate(sweep.points()), start, stop)
        rows = [[str(i), *(_show(p[k]) for k in sweep.keys)] for i, p in points]
        return head + render(["#", *sweep.keys], rows, right={0}) + note
    head = (f"sweep {sweep.name}: {sweep.method}, {plural(sweep.points_wanted, 'point')} x "
            f"{plural(len(sweep.seeds), 'seed')} ({seeds}) = {plural(sweep.total, 'trial')}, from {sweep.base}\n")
    rows = [[k, str(v) if isinstance(v, Range) else ", ".join(map(_show, v))] for k, v in sweep.space.items()]
    return head + render(["key", "values"], rows)


def status_table(sweep: Sweep, runs_dir: str | Path, page: int = 1) -> str:
    """What --status prints (and a sweep's run, at its end): the table of the sweep's results so far."""
    from mlcl_train.inspect.groups import sweep_status
    from mlcl_train.runs.store import read_runs

    folder = sweep.folder(runs_dir)
    return sweep_status(sweep, read_runs([folder], full=False) if folder.is_dir() else [], page)


def parse_gpus(text: str | None) -> list[str] | None:
    """--gpus "0,1" as ["0", "1"]; None when not given."""
    gpu_ids = [g.strip() for g in text.split(",")] if text else None
    if gpu_ids is not None and not all(g.isdigit() for g in gpu_ids):
        raise UserError(f"--gpus {text!r}: expected GPU numbers separated by commas, e.g. --gpus 0,1")
    return gpu_ids
