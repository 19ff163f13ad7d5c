"""The longest functions of a package, by lines from `def` to the function's last line (docstring included).

    python benchmarks/function_lengths.py                        # the 15 longest in mlcl_train/
    python benchmarks/function_lengths.py mlcl_train/training mlcl_train/runs --over 50

tests/test_function_lengths.py holds training/ and runs/ to LIMIT lines; this script shows the rest.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 50  # lines a function may take


def lengths(folders: list[Path]) -> list[tuple[int, str]]:
    """(lines, 'path:line name') for every function and method under the folders, longest first."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    where = f"{name}:{node.lineno} {node.name}"
                    found.append((node.end_lineno - node.lineno + 1, where))
    return sorted(found, key=lambda item: (-item[0], item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=["mlcl_train"])
    parser.add_argument("--over", type=int, help="list every function longer than this (default: the 15 longest)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    found = lengths([ROOT / f for f in args.folders])
    shown = [f for f in found if f[0] > args.over] if args.over is not None else found[: args.top]
    for lines, where in shown:
        print(f"{lines:4d}  {where}")


if __name__ == "__main__":
    main()
