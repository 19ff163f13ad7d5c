"""Commands that do not train never import torch, and the layers import only downwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RUN = ("from typer.testing import CliRunner; from mlcl_train.cli.app import app; "
       "result = CliRunner().invoke(app, {args!r}); assert result.exit_code == 0, result.output; "
       "assert {expect!r} in result.output, result.output")


@pytest.mark.parametrize("code", [
    RUN.format(args=["compare", "{runs}"], expect="completed"),
    RUN.format(args=["models"], expect="residual (layers, project=true)"),
    RUN.format(args=["show-config", "--config", "configs/mlp_deep.yaml"], expect="optimizer:"),
    RUN.format(args=["--help"], expect="compare"),
    RUN.format(args=["sweep", "sweeps/width_depth.yaml", "--dry-run"], expect="trials"),
    "import mlcl_train.cli.app, mlcl_train.inspect.compare, mlcl_train.runs.labels, mlcl_train.inspect.plot, "
    "mlcl_train.runs.store, mlcl_train.present.slides, mlcl_train.present.typeset, mlcl_train.present.report, "
    "mlcl_train.config.loader, mlcl_train.config.optim, mlcl_train.core.datasets, mlcl_train.core.table, "
    "mlcl_train.inspect.groups, mlcl_train.sweeps.spec",
    "import mlcl_train; from mlcl_train import train, resume, compare, load_run, slides",
], ids=["compare", "models", "show-config", "help", "sweep-dry-run", "read-side-modules", "python-api"])
def test_commands_that_do_not_train_do_not_import_torch(code: str, trained_runs) -> None:
    code = code.replace("{runs}", str(trained_runs[0]))
    result = subprocess.run([sys.executable, "-c", f"import sys; {code}; print('torch' in sys.modules)"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


# The layers of docs/architecture.md, one folder each: a module imports only from its own layer or the
# ones below it (function-level imports included). From training/, the read side (inspect, present,
# serve) imports the engine only, never the loop.
LAYERS = {
    0: {"core"},
    1: {"config", "models", "runs", "lessons"},
    2: {"data"},
    3: {"training"},
    4: {"inspect", "present", "serve", "sweeps"},
    5: {"cli", "api", "__main__"},
}
READ_SIDE = {"inspect", "present", "serve"}
TOP = {"mlcl_train": -1, "mlcl_train.__version__": -1}  # the package itself: its version, and the lazy API
LAZY = {"mlcl_train": {"mlcl_train.api"}}  # the package's __getattr__ imports the API on first use


def folder(module: str) -> str:
    """The folder (subpackage) of a module: mlcl_train.training.loop -> training; mlcl_train.api -> api."""
    parts = module.split(".")
    assert parts[0] == "mlcl_train", module
    return parts[1] if len(parts) > 1 else "mlcl_train"


def layer(module: str) -> int:
    if module in TOP:
        return TOP[module]
    name = folder(module)
    found = [level for level, names in LAYERS.items() if name in names]
    assert found, f"{module}: its folder {name} is in no layer of docs/architecture.md"
    return found[0]


def imports(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlcl_train"):
            found.update(f"{node.module}.{a.name}" if node.module == "mlcl_train" else node.module for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mlcl_train"))
    return found


MODULES = sorted((ROOT / "mlcl_train").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_layers(path: Path) -> None:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    level = layer(name)
    for target in imports(path):
        if target in LAZY.get(name, ()):
            continue
        assert layer(target) <= level, f"{name} (layer {level}) imports {target} (layer {layer(target)})"
        if folder(name) in READ_SIDE and folder(target) == "training":
            assert target == "mlcl_train.training.engine", f"{name} imports {target}: the read side uses the engine"


def test_the_package_has_few_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "mlcl_train").glob("*.py"))
    assert len(top) <= 6, top
    assert {p.name for p in (ROOT / "mlcl_train").iterdir() if p.is_dir() and (p / "__init__.py").exists()} == {
        name for names in LAYERS.values() for name in names if not name.startswith(("api", "__"))}


def test_the_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for path in MODULES:
        if path.name != "__init__.py" and not path.name.startswith("_") and path.parent.name != "mlcl_train":
            assert path.relative_to(ROOT / "mlcl_train").as_posix() in doc, path


def test_the_architecture_doc_names_the_modules_that_import_torch_at_module_level() -> None:
    import ast
    import re

    doc = (ROOT / "docs" / "architecture.md").read_text()
    line = doc[doc.index("Torch is imported at module level only by"):].split("; everywhere else")[0]
    named = set(re.findall(r"`([\w/]+\.py)`", line))
    found = {path.relative_to(ROOT / "mlcl_train").as_posix() for path in MODULES
             if any(isinstance(node, ast.Import) and any(a.name == "torch" for a in node.names)
                    for node in ast.parse(path.read_text()).body)}
    assert found == named
