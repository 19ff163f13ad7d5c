"""One short, distinct label per run, for legends, slide titles, report headings and compare.

    run_labels(records)   # ['mlp_deep', 'mlp_deep lr=0.05', 'mlp_deep hidden=[1024,512]', 'cnn', 'hidden=[512] s1']

A run is labelled by its name; a sweep's trial by its swept values and seed (`hidden=[512] s1`, with
the sweep's name first where trials of several sweeps are shown together). Where labels repeat, the
label adds the few config keys that tell those runs apart, abbreviated (`lr` for train.optimizer.lr),
and only where a run's value differs from the most common one among them; never the full list of
differing keys (that is compare's table). Runs whose configs are the same are numbered in the order
they ran (`mlp_deep #2`).
Reads only the records: no torch.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from typing import Any

from mlcl_train.config.schema import MISSING  # a config key the run does not have (momentum in an adam run)
from mlcl_train.core.errors import UserError
from mlcl_train.core.values import model_shown, shorten
from mlcl_train.runs.store import RunRecord

IGNORED = {"name"}  # differs between almost all runs and is already in the run folder's name
VALUE_CHARS = 24  # a longer value (a model.layers list) is cut in a label
SECTIONS = ("model", "train", "data", "eval")  # the order of keys: model keys first


def run_labels(runs: list[RunRecord]) -> list[str]:
    """A short label per run, distinct where the runs differ at all."""
    sweeps = {r.sweep for r in runs if r.point}
    names = [trial_name(r, len(sweeps) > 1) if r.point else str(r.name or r.run) for r in runs]
    labels = list(names)
    for name, count in Counter(names).items():
        if count > 1:
            group = [i for i, n in enumerate(names) if n == name]
            for i, extra in zip(group, _distinguish([runs[i] for i in group]), strict=True):
                labels[i] = f"{name} {extra}".rstrip()
    counts = Counter(labels)
    seen: Counter[str] = Counter()
    nth = {}
    for i in sorted(range(len(runs)), key=lambda i: str(runs[i].path)):  # the same config again: #1, #2 by time
        seen[labels[i]] += 1
        nth[i] = seen[labels[i]]
    return [f"{lab} #{nth[i]}" if counts[lab] > 1 else lab for i, lab in enumerate(labels)]


def trial_name(run: RunRecord, with_sweep: bool = False) -> str:
    """A sweep trial's name: its swept values and its seed, `hidden=[512] activation=relu s1`."""
    keys = list(run.point or {})
    values = [f"{abbreviate(k, keys)}={compact(v)}" for k, v in (run.point or {}).items()]
    seed = [] if run.seed is None else [f"s{run.seed}"]
    return " ".join([*([run.sweep] if with_sweep and run.sweep else []), *values, *seed])


def differing_keys(runs: list[RunRecord]) -> list[str]:
    """Config keys whose value is not the same in every run (a key some runs lack counts), model keys first."""
    configs = [r.settings for r in sorted(runs, key=lambda r: str(r.path)) if r.settings is not None]
    keys = [k for k in dict.fromkeys(k for c in configs for k in c) if k not in IGNORED]
    differ = [k for k in keys if len({identity(c.get(k, MISSING)) for c in configs}) > 1]
    return sorted(differ, key=lambda k: _section_rank(k))  # stable: config order within a section


def abbreviate(key: str, others: list[str] = ()) -> str:
    """`train.optimizer.lr` -> `lr`, `train.optimizer.name` -> `optimizer`; longer where two would read alike."""
    parts = key.split(".")
    if parts[-1] == "name" and len(parts) > 1:
        parts = parts[:-1]
    short = parts[-1]
    clash = [o for o in others if o != key and abbreviate_part(o) == short]
    return ".".join(parts[-2:]) if clash and len(parts) > 1 else short


def abbreviate_part(key: str) -> str:
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def compact(v: Any, most: int = VALUE_CHARS) -> str:
    """A value as a label shows it: 0.05, [1024,512], adam; `-` when the run lacks the key; cut with an ellipsis."""
    if v is MISSING:
        text = "-"
    elif v is None:
        text = "null"
    elif isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, float):
        text = f"{v:g}"
    elif isinstance(v, (list, dict)):
        text = json.dumps(v, separators=(",", ":"))
    else:
        text = model_shown(str(v))  # only a model's name has the form FILE.py:Class
    return shorten(text, most)


def identity(v: Any) -> str:
    return "\0missing" if v is MISSING else json.dumps(v, sort_keys=True, default=str)


def _distinguish(group: list[RunRecord]) -> list[str]:
    """For runs sharing a name: the fewest keys that tell them apart, each run showing the values where it differs."""
    values = [{k: (r.settings or {}).get(k, MISSING) for k in differing_keys(group)} for r in group]
    candidates = differing_keys(group)
    chosen = [k for k in candidates if k.endswith(".name")]  # a model, optimizer or scheduler of another name
    candidates = [k for k in candidates if k not in chosen]
    while candidates and len({tuple(identity(v[k]) for k in chosen) for v in values}) < len(group):
        def gain(k: str) -> tuple[int, bool, bool, int, int]:
            """Runs told apart; then keys all runs have, a section's name (optimizer=adam), short values."""
            parts = len({tuple(identity(v[c]) for c in [*chosen, k]) for v in values})
            everywhere = all(v[k] is not MISSING for v in values)
            return (parts, everywhere, k.endswith(".name"), -max(len(compact(v[k])) for v in values),
                    -candidates.index(k))

        best = max(candidates, key=gain)
        if gain(best)[0] == len({tuple(identity(v[k]) for k in chosen) for v in values}):
            break  # no key separates more runs
        chosen.append(best)
        candidates.remove(best)
    chosen.sort(key=lambda k: differing_keys(group).index(k))
    oldest = [values[i] for i in sorted(range(len(group)), key=lambda i: str(group[i].path))]  # ties: the first run's
    common = {k: Counter(identity(v[k]) for v in oldest).most_common(1)[0][0] for k in chosen}
    return [
        " ".join(f"{abbreviate(k, chosen)}={compact(v[k])}" for k in chosen if identity(v[k]) != common[k])
        for v in values
    ]


def _section_rank(key: str) -> int:
    head = key.split(".")[0]
    return SECTIONS.index(head) if head in SECTIONS else len(SECTIONS)


def shorten_label(label: str, most: int) -> str:
    """A label in at most `most` characters, cut in its name so that the keys after it stay."""
    if len(label) <= most:
        return label
    name, space, keys = label.partition(" ")
    tail = space + keys if keys and len(space + keys) <= most * 0.8 else ""
    return shorten(name, most - len(tail)) + tail if tail else shorten(label, most)


def changes_against(run: RunRecord, baseline: RunRecord, ignore: tuple[str, ...] = ("name",)) -> list[str]:
    """What a run changed against the baseline, one `key from -> to` each, model keys first:
    ['activation sigmoid -> relu', 'hidden [128,64] -> [512,256]']."""
    mine, base = _switched_sections(run.settings or {}, baseline.settings or {})
    keys = [k for k in dict.fromkeys([*base, *mine]) if k not in ignore
            and identity(mine.get(k, MISSING)) != identity(base.get(k, MISSING))]
    keys.sort(key=_section_rank)
    return [f"{abbreviate(k, keys)} {compact(base.get(k, MISSING))} -> {compact(mine.get(k, MISSING))}" for k in keys]


def _switched_sections(mine: dict[str, Any], base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both runs' settings with a section switched to another name told by its name and the parameters
    both have: `model mlp -> cnn`, `scheduler none -> cosine` (`train.scheduler: null` against a cosine
    schedule), without the parameters that come with the new name alone."""
    mine, base = dict(mine), dict(base)
    for one, other in ((mine, base), (base, mine)):
        for key in [k for k, v in one.items() if v is None and k + ".name" in other and k not in other]:
            del one[key]
            one[key + ".name"] = "none"
    for name in [k for k in mine if k.endswith(".name") and k in base and mine[k] != base[k]]:
        section = name[: -len("name")]
        for side, other in ((mine, base), (base, mine)):
            for sub in [k for k in side if k.startswith(section) and k not in other]:
                side.pop(sub)
    return mine, base


def find_baseline(runs: list[RunRecord], labels: list[str], wanted: str | None) -> int | None:
    """The baseline's index: the run named by `wanted` (its folder; else the oldest run of that name; else its
    label), else the oldest run whose name says baseline, else the oldest run. The trials of one sweep count as
    started in the order of their grid points and seeds: which one a worker started first is chance."""
    if wanted is not None:
        for i, run in enumerate(runs):
            if wanted in (run.run, str(run.path)) or wanted.rstrip("/").endswith("/" + run.run):
                return i
        named = [i for i, run in enumerate(runs) if run.name == wanted]  # a name before a label that reads alike
        if named:
            return min(named, key=lambda i: str(runs[i].path))
        if wanted in labels:
            return labels.index(wanted)
        raise UserError(f"--baseline {wanted}: no such run among the {len(runs)} given; "
                        "name a run folder or a run's name (see mlcl-train compare)")
    if not runs:
        return None
    sweeps = {run.sweep for run in runs}
    one_sweep = len(sweeps) == 1 and None not in sweeps
    oldest = sorted(range(len(runs)), key=lambda i: (_grid_order(runs[i]) if one_sweep else (), str(runs[i].path)))
    named = [i for i in oldest if "baseline" in str(runs[i].name or runs[i].run)]
    return (named or oldest)[0]


def _grid_order(run: RunRecord) -> tuple[int, int]:
    """A sweep trial's (point index, seed), from its name `<sweep>-<index>-s<seed>`; after the rest if not so named."""
    match = re.fullmatch(rf"{re.escape(run.sweep or '')}-(\d+)-s(\d+)", run.name or "")
    return (int(match[1]), int(match[2])) if match else (sys.maxsize, sys.maxsize)
