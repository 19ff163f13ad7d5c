"""Count string-key subscripts (`x["key"]`, `x['key']`) in mlcl_train/, per file and in all.

    python benchmarks/count_subscripts.py            # the total, then the files with any, most first

A subscript is counted where its index is a string constant (Python's own parser decides, so strings
and comments that merely contain brackets do not count). Config values are read by attribute
(`cfg.train.optimizer.lr`); what remains is mostly data read from disk or other mappings.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlcl_train"


def count(path: Path) -> int:
    tree = ast.parse(path.read_text())
    return sum(isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
               and isinstance(node.slice.value, str) for node in ast.walk(tree))


def main() -> None:
    counts = Counter({path.relative_to(PACKAGE).as_posix(): count(path) for path in sorted(PACKAGE.rglob("*.py"))})
    print(f"{sum(counts.values())} string-key subscripts in mlcl_train/")
    for name, n in counts.most_common():
        if n:
            print(f"{n:5d}  {name}")


if __name__ == "__main__":
    sys.exit(main())
