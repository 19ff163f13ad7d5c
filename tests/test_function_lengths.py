"""Function bodies stay short enough to read at a glance (benchmarks/function_lengths.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("mlcl_train",)


def lengths():
    spec = importlib.util.spec_from_file_location("function_lengths", ROOT / "benchmarks" / "function_lengths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checker_measures_the_body_after_the_docstring(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text('def short(\n    a=1,\n):\n    """Doc."""\n    return 1\n\n\nclass A:\n'
                                   '    def long(self):\n        """Doc\n\n        more."""\n' + "        x = 1\n" * 60)
    found = lengths().lengths([tmp_path])
    assert [(lines, where.rsplit(" ", 1)[1]) for lines, where in found] == [(60, "long"), (1, "short")]


def test_no_function_body_is_over_the_limit() -> None:
    module = lengths()
    found = module.lengths([ROOT / f for f in FOLDERS])
    assert found, "no functions found: the folders moved?"
    over = [f"{lines} lines: {where}" for lines, where in found if lines > module.LIMIT]
    assert not over, "split these into named jobs:\n" + "\n".join(over)
