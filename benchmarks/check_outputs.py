"""Write what the command line prints (and a deck's slide texts) into one folder, to compare two versions.

    python benchmarks/check_outputs.py /tmp/before      # on one commit
    python benchmarks/check_outputs.py /tmp/after       # on another
    diff -r /tmp/before /tmp/after                      # nothing: the outputs are byte-identical

It drives the real command line in subprocesses (`python -m mlcl_train`): the training log of
three short runs (two share a name), compare in every format and with --group, models,
show-config, summary, backprop, and the texts of the deck that `slides` writes, shape by shape.
Run folders' timestamps and measured seconds are the only things replaced (by `<time>` in the
texts, by fixed numbers in each run's summary.json and metrics.csv before the read-side commands
run), since they differ between any two runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
TIMES = [  # what differs between two identical runs: the folder's timestamp and measured seconds
    (re.compile(r"\d{8}-\d{6}(-\d+)?-"), "<time>-"),
    (re.compile(r"\b\d+(\.\d+)?\s?(s|ms|min)\b"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?"), "<time>"),
]
SHORT = ["--set", "data.train_subset=2000", "--set", "train.epochs=2", "--set", "device=cpu", "--no-progress"]


def clean(text: str) -> str:
    text = text.replace(str(ROOT), "<root>")
    for pattern, replacement in TIMES:
        text = pattern.sub(replacement, text)
    return text


def cli(*args: str, cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "mlcl_train", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    shown = f"{result.stdout}--- stderr\n{result.stderr}--- exit {result.returncode}\n"
    return clean(f"$ mlcl-train {' '.join(args)}\n{shown}")


def pin_times(run: Path) -> None:
    """Measured seconds replaced by fixed numbers, so that what reads them prints the same each time."""
    summary = json.loads((run / "summary.json").read_text())
    summary.update(seconds_per_epoch=0.5, wall_seconds=1.0, pid=1, host="host")
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = (run / "metrics.csv").read_text().splitlines()
    at = lines[0].split(",").index("seconds")
    rows = [",".join("0.500" if i == at else v for i, v in enumerate(line.split(","))) for line in lines[1:]]
    (run / "metrics.csv").write_text("\n".join([lines[0], *rows]) + "\n")


def slide_texts(deck: Path) -> str:
    from pptx import Presentation

    lines = []
    for number, slide in enumerate(Presentation(str(deck)).slides, 1):
        lines.append(f"--- slide {number}")
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines += [f"{shape.name}: {p.text}" for p in shape.text_frame.paragraphs if p.text]
            if getattr(shape, "has_table", False) and shape.has_table:
                lines += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
    return clean("\n".join(lines) + "\n")


def main(out: Path) -> None:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = Path("runs")  # relative to out, where every command runs: the paths printed are the same each time
    train = ("--runs-dir", str(runs), *SHORT)
    outputs = {
        "train_mlp_deep": cli("train", "--config", str(CONFIGS / "mlp_deep.yaml"), *train, cwd=out),
        "train_mlp_deep_narrow": cli("train", "--config", str(CONFIGS / "mlp_deep.yaml"), *train,
                                     "--set", "model.hidden=[64]", cwd=out),
        "train_baseline": cli("train", "--config", str(CONFIGS / "hw2_baseline.yaml"), *train, cwd=out),
    }
    for run in sorted((out / runs).iterdir()):
        pin_times(run)
    for fmt in ("table", "csv", "json", "markdown"):
        outputs[f"compare_{fmt}"] = cli("compare", str(runs), "--format", fmt, cwd=out)
    outputs["compare_group"] = cli("compare", str(runs), "--group", cwd=out)
    outputs["compare_columns"] = cli("compare", str(runs), "--columns", "label,best_acc,model.hidden", cwd=out)
    outputs["models"] = cli("models", cwd=out)
    for name in ("mlp_deep", "hw2_baseline", "cnn", "vit", "lessons/vanishing_sigmoid"):
        outputs[f"show_config_{name.replace('/', '_')}"] = cli("show-config", "--config", name, cwd=out)
    outputs["summary_cnn"] = cli("summary", "--config", "cnn", cwd=out)
    outputs["backprop"] = cli("backprop", cwd=out)
    outputs["backprop_steps"] = cli("backprop", "--steps", "3", "--eta", "1", cwd=out)
    outputs["errors"] = "".join(cli(*args, cwd=out) for args in [
        ("--config", "configs/nope.yaml"), ("--config", "mlp_deep", "--set", "model.hiden=[64]"),
        ("compare", "missing"), ("compare", str(runs), "--format", "xml"),
    ])
    outputs["slides"] = cli("slides", str(runs), "-o", "deck.pptx", cwd=out)
    outputs["slide_texts"] = slide_texts(out / "deck.pptx")
    for name, text in outputs.items():
        (out / f"{name}.txt").write_text(text)
    for run in sorted((out / runs).iterdir()):  # the run folder's own texts, less its times
        keep = out / "files" / clean(run.name)
        keep.mkdir(parents=True, exist_ok=True)
        for file in ("config.yaml", "metrics.csv", "log.txt"):
            if (run / file).exists():
                (keep / file).write_text(clean((run / file).read_text()))
        summary = json.loads((run / "summary.json").read_text())
        (keep / "summary_keys.txt").write_text("\n".join(sorted(summary)) + "\n")
    (out / "deck.pptx").unlink()
    print(f"wrote {len(outputs)} outputs to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
