"""The talk a deck tells about runs: a baseline, what each run changed against it, the setup they share, and
findings from pairs of runs that differ in one key.

    story = tell(runs, labels, baseline="hw2_baseline", lang="en")
    story.changes[0].what, story.changes[0].delta    # ['activation sigmoid -> relu'], 41.2
    story.findings[0]     # ('model.activation', 'activation sigmoid -> relu: +41.2 points (2 pairs)')

Reads only the run records (no torch). Accuracy is each run's best test accuracy; a difference is in points.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mlcl_train.core.datasets import DATASETS
from mlcl_train.runs.labels import (
    MISSING,
    abbreviate,
    changes_against,
    compact,
    differing_keys,
    find_baseline,
    identity,
)
from mlcl_train.runs.store import RunRecord

TRAIN_IMAGES = 60_000  # MNIST and Fashion-MNIST
RECIPE = (  # (phrase, config key) of the setup slide, in order
    ("dataset", "data.dataset"), ("train_images", "data.train_subset"), ("val_images", "data.val_split"),
    ("epochs", "train.epochs"), ("optimizer", "train.optimizer.name"), ("lr", "train.optimizer.lr"),
    ("batch", "train.batch_size"), ("scheduler", "train.scheduler.name"), ("loss", "train.loss"),
    ("seeds", "seed"),
)
FREE = ("name", "seed", "device", "data.root", "eval.")  # keys that may differ in a fair structure comparison
MOST_FINDINGS = 6


@dataclass
class Change:
    """One run against the baseline."""

    index: int  # in the runs given to tell()
    label: str
    what: list[str]  # ['activation sigmoid -> relu', ...]; [] for the baseline
    delta: float | None  # points of best test accuracy over the baseline's


@dataclass
class Story:
    baseline: int | None  # index of the baseline run
    changes: list[Change]  # every run with an accuracy, best first
    setup: list[tuple[str, str]]  # (phrase key, value): shared, or the values with their counts
    outside: list[str]  # config keys outside model.* that differ between the runs
    findings: list[tuple[str, str]]  # (the config key, the sentence), largest effect first
    best_few: list[int] = field(default_factory=list)  # indices of the best runs (not the baseline)


def tell(runs: list[RunRecord], labels: list[str], baseline: str | None = None, lang: str = "en",
         best_few: int = 3) -> Story:
    """The story of runs (best first): changes against the baseline, shared setup, findings."""
    from mlcl_train.present.words import words

    say = words(lang)
    base = find_baseline(runs, labels, baseline)
    scored = [i for i, r in enumerate(runs) if r.best_acc is not None]
    changes = []
    for i in scored:
        delta = None if base is None or runs[base].best_acc is None else runs[i].best_acc - runs[base].best_acc
        what = [] if base is None or i == base else changes_against(runs[i], runs[base])
        changes.append(Change(i, labels[i], what, delta))
    top = [i for i in scored if i != base][:best_few]
    return Story(base, changes, setup(runs, say), outside_model(runs), findings(runs, base, say), top)


def setup(runs: list[RunRecord], say) -> list[tuple[str, str]]:
    """What the runs share, phrase by phrase; where they differ, each value with its number of runs."""
    out = []
    for phrase, key in RECIPE:
        values = [setting(run, key) for run in runs if run.settings is not None]
        if not values or all(v is None for v in values):
            continue
        counts: dict[str, int] = defaultdict(int)
        for v in values:
            counts[v if v is not None else "-"] += 1
        if len(counts) == 1:
            out.append((phrase, next(iter(counts))))
        else:
            common = sorted(counts.items(), key=lambda x: -x[1])
            more = f", +{len(common) - 3}" if len(common) > 3 else ""
            out.append((phrase, ", ".join(f"{v} ({n})" for v, n in common[:3]) + more))
    return out


def setting(run: RunRecord, key: str) -> str | None:
    """A setup value as shown: the data set's title, the training images counted, the rest as compact."""
    s = run.settings or {}
    if key == "data.dataset":
        name = str(s.get(key, "mnist"))
        return DATASETS[name].title if name in DATASETS else name
    if key == "data.train_subset":
        subset = s.get(key)
        return f"{subset or TRAIN_IMAGES - int(s.get('data.val_split') or 0):,}"
    if key == "data.val_split":
        return f"{s[key]:,}" if s.get(key) else None
    if key == "train.scheduler.name" and s.get("train.scheduler", MISSING) is None:
        return "none"
    v = s.get(key, MISSING)
    return None if v is MISSING else compact(v)


def outside_model(runs: list[RunRecord]) -> list[str]:
    """The differing config keys that are not the model's (nor a seed, device or data location)."""
    return [k for k in differing_keys(runs) if not k.startswith("model.")
            and not any(k == f or (f.endswith(".") and k.startswith(f)) for f in FREE)]


def findings(runs: list[RunRecord], base: int | None, say) -> list[tuple[str, str]]:
    """For each change seen between two runs that differ in one key: its mean effect and the number of pairs,
    largest first; seeds last, as the noise to compare the others with."""
    done = [r for r in runs if r.best_acc is not None and r.settings is not None]
    base_run = runs[base] if base is not None else None
    effects: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for i, a in enumerate(done):
        for b in done[i + 1:]:
            key = one_key(a, b)
            if key is None:
                continue
            first, then = (a, b) if before(key, value_of(a, key), value_of(b, key), base_run, done) else (b, a)
            ident = (key, identity(value_of(first, key)), identity(value_of(then, key)))
            effects[ident].append(then.best_acc - first.best_acc)
    lines = []
    for (key, va, vb), deltas in sorted(effects.items(), key=lambda kv: (kv[0][0] == "seed", -abs(mean(kv[1])))):
        change = f"{abbreviate(key)} {shown(va)} -> {shown(vb)}"
        pairs = say("pair") if len(deltas) == 1 else say("pairs", n=len(deltas))
        d = say("points", d=mean(deltas))
        lines.append((key, say("seed_finding" if key == "seed" else "finding", change=change, d=d, pairs=pairs)))
    return lines[:MOST_FINDINGS]


def value_of(run: RunRecord, key: str):
    return (run.settings or {}).get(key, MISSING)


def one_key(a: RunRecord, b: RunRecord) -> str | None:
    """The one config key (name aside) two runs differ in, or None."""
    sa, sb = a.settings or {}, b.settings or {}
    keys = [k for k in dict.fromkeys([*sa, *sb]) if k != "name"
            and identity(sa.get(k, MISSING)) != identity(sb.get(k, MISSING))]
    return keys[0] if len(keys) == 1 else None


def before(key: str, va, vb, base: RunRecord | None, runs: list[RunRecord]) -> bool:
    """Whether value `va` comes first in a change: the baseline's value does; else the more common one."""
    if base is not None:
        b = identity((base.settings or {}).get(key, MISSING))
        if b in (identity(va), identity(vb)):
            return b == identity(va)
    count = defaultdict(int)
    for run in runs:
        count[identity((run.settings or {}).get(key, MISSING))] += 1
    return (-count[identity(va)], identity(va)) < (-count[identity(vb)], identity(vb))


def shown(ident: str) -> str:
    import json

    return "-" if ident == "\0missing" else compact(json.loads(ident))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def takeaways(story: Story, runs: list[RunRecord], say) -> list[str]:
    """The closing slide's lines: the best model and its changes, the finding that mattered most, a line to edit."""
    lines = []
    best = next((c for c in story.changes if c.index != story.baseline), None)
    if best is not None and best.delta is not None:
        lines.append(say("take_best", label=best.label, acc=runs[best.index].best_acc, d=say("points", d=best.delta)))
        if best.what:
            lines.append(say("take_best_change", changes=", ".join(best.what)))
    if story.findings and story.findings[0][0] != "seed":
        lines.append(say("take_top", finding=story.findings[0][1]))
    return [*lines, say("take_edit")]
