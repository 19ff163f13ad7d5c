"""The longest function bodies of a package: lines from the first statement after the docstring to the last.

    python benchmarks/function_lengths.py                        # the 15 longest in mlcl_train/
    python benchmarks/function_lengths.py mlcl_train/training --over 50

tests/test_function_lengths.py holds every function of mlcl_train/ to LIMIT lines.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 50  # lines a function's body may take


def lengths(folders: list[Path]) -> list[tuple[int, str]]:
    """(body lines, 'path:line name') for every function and method under the folders, longest first."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    where = f"{name}:{node.lineno} {node.name}"
                    body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
                    found.append((node.end_lineno - body[0].lineno + 1, where))
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
