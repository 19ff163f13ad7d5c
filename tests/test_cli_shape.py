"""The commands stay thin: each typer command's body (its docstring left out) is at most 15 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlcl_train.cli.app import COMMANDS

CLI = Path(__file__).parents[1] / "mlcl_train" / "cli"
MOST = 15


def body_lines(function: ast.FunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the last one, blank lines included."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def commands() -> list[tuple[str, ast.FunctionDef]]:
    names = {f.__name__ for f in COMMANDS}
    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_every_command_is_found() -> None:
    assert sorted(name.split(":")[1] for name, _ in commands()) == sorted(f.__name__ for f in COMMANDS)


@pytest.mark.parametrize("name,function", commands(), ids=[name for name, _ in commands()])
def test_a_command_body_is_at_most_15_lines(name: str, function: ast.FunctionDef) -> None:
    assert body_lines(function) <= MOST, f"{name}: {body_lines(function)} lines; move the logic into the library"
