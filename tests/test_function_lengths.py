"""Functions in training/ and runs/ stay short enough to read at a glance (benchmarks/function_lengths.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("mlcl_train/training", "mlcl_train/runs")


def lengths():
    spec = importlib.util.spec_from_file_location("function_lengths", ROOT / "benchmarks" / "function_lengths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checker_measures_def_to_last_line(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def short():\n    return 1\n\n\nclass A:\n    def long(self):\n"
                                   + "        x = 1\n" * 60)
    found = lengths().lengths([tmp_path])
    assert [(lines, where.rsplit(" ", 1)[1]) for lines, where in found] == [(61, "long"), (2, "short")]


def test_no_function_in_training_or_runs_is_over_the_limit() -> None:
    module = lengths()
    found = module.lengths([ROOT / f for f in FOLDERS])
    assert found, "no functions found: the folders moved?"
    over = [f"{lines} lines: {where}" for lines, where in found if lines > module.LIMIT]
    assert not over, "split these into named jobs:\n" + "\n".join(over)
