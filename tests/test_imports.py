"""Commands that do not train never import torch, and the layers import only downwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RUN = ("from typer.testing import CliRunner; from mlcl_train.cli import app; "
       "result = CliRunner().invoke(app, {args!r}); assert result.exit_code == 0, result.output; "
       "assert {expect!r} in result.output, result.output")


@pytest.mark.parametrize("code", [
    RUN.format(args=["compare", "{runs}"], expect="completed"),
    RUN.format(args=["models"], expect="residual (layers, project=true)"),
    RUN.format(args=["show-config", "--config", "configs/mlp_deep.yaml"], expect="optimizer:"),
    RUN.format(args=["--help"], expect="compare"),
    RUN.format(args=["sweep", "sweeps/width_depth.yaml", "--dry-run"], expect="trials"),
    "import mlcl_train.cli, mlcl_train.compare, mlcl_train.labels, mlcl_train.plot, mlcl_train.runs, "
    "mlcl_train.present.slides, mlcl_train.present.fit, mlcl_train.present.report, mlcl_train.config, "
    "mlcl_train.optim, mlcl_train.datasets, mlcl_train.table, mlcl_train.groups, mlcl_train.sweepfile",
    "import mlcl_train; from mlcl_train import train, resume, compare, load_run, slides",
], ids=["compare", "models", "show-config", "help", "sweep-dry-run", "read-side-modules", "python-api"])
def test_commands_that_do_not_train_do_not_import_torch(code: str, trained_runs) -> None:
    code = code.replace("{runs}", str(trained_runs[0]))
    result = subprocess.run([sys.executable, "-c", f"import sys; {code}; print('torch' in sys.modules)"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


# The layers of docs/architecture.md: a module imports only from its own layer or the ones below it
# (function-level imports included). The read side (layer 5) never reaches the training loop (layer 4).
LAYERS = {
    0: {"mlcl_train", "mlcl_train.errors", "mlcl_train.signals", "mlcl_train.datasets", "mlcl_train.table",
        "mlcl_train.schema", "mlcl_train.files", "mlcl_train.safe_yaml", "mlcl_train.shipped"},
    1: {"mlcl_train.optim", "mlcl_train.models", "mlcl_train.runs"},
    2: {"mlcl_train.config", "mlcl_train.data", "mlcl_train.backprop", "mlcl_train.sweepfile",
        "mlcl_train.augment"},
    3: {"mlcl_train.engine", "mlcl_train.model_summary"},
    4: {"mlcl_train.train", "mlcl_train.graphs", "mlcl_train.events"},
    5: {"mlcl_train.evaluation", "mlcl_train.compare", "mlcl_train.labels", "mlcl_train.plot", "mlcl_train.present",
        "mlcl_train.predict", "mlcl_train.demo", "mlcl_train.export", "mlcl_train.groups",
        "mlcl_train.slurm", "mlcl_train.sweep"},  # sweep runs trials: not read side, it may reach the loop
    6: {"mlcl_train.cli", "mlcl_train.__main__", "mlcl_train.api"},
}
LAZY = {"mlcl_train": {"mlcl_train.api"}}  # the package's __getattr__ imports the API on first use
READ_SIDE = {"mlcl_train.evaluation", "mlcl_train.compare", "mlcl_train.labels", "mlcl_train.plot",
             "mlcl_train.present", "mlcl_train.predict", "mlcl_train.demo", "mlcl_train.export"}


def layer(module: str) -> tuple[int, str]:
    """The layer of a module or of the package (or module) it belongs to, longest name first."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        for level, names in LAYERS.items():
            if name in names:
                return level, name
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def imports(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlcl_train"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "mlcl_train")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mlcl_train"))
    return found


MODULES = sorted((ROOT / "mlcl_train").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_layers(path: Path) -> None:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    level, group = layer(name)
    for target in imports(path):
        target_level, target_group = layer(target)
        if target_group == "mlcl_train" and target == "mlcl_train.__version__":
            continue
        if target in LAZY.get(name, ()):
            continue
        assert target_level <= level, f"{name} (layer {level}) imports {target} (layer {target_level})"
        if group in READ_SIDE:
            assert target_group != "mlcl_train.train", f"{name} imports the training loop"


def test_the_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for path in MODULES:
        if path.name != "__init__.py" and not path.name.startswith("_"):
            assert f"{path.stem}.py" in doc, path
