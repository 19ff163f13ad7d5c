"""The package as users install it: the wheel, in a fresh virtual environment outside the repository.

The environment gets the wheel alone (pip --no-deps --no-index); torch and the other dependencies
come from the environment running the tests, through a .pth file, so that nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mlcl_train.core import shipped

pytestmark = pytest.mark.slow  # builds a wheel and installs it in a new venv

ROOT = Path(__file__).parents[1]
SOURCES = ["pyproject.toml", "setup.py", "README.md", "mlcl_train", *shipped.FOLDERS]
MOST_BYTES = 15 * 2**20  # the bundled MNIST is about 11 MB; more means something else got in


def sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_installs_trains_and_copies_its_configs(tmp_path: Path) -> None:
    src = tmp_path / "src"  # the tracked sources only: no runs/, no build/, no .venv
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    sh(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "dist", src, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mlcl_train-*.whl")
    assert wheel.stat().st_size < MOST_BYTES
    print(f"{wheel.name}: {wheel.stat().st_size:,} bytes")

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    sh(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    site = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path)
                .stdout.strip())
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "dependencies.pth").write_text("".join(f"{path}\n" for path in deps))  # after the wheel's own files

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", XDG_CACHE_HOME=str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    code = ("import mlcl_train, mlcl_train.data.loader, mlcl_train.core.shipped as s; "
            "print(mlcl_train.__file__, mlcl_train.data.loader.BUNDLED, s.folder('configs'), sep='\\n')")
    where = sh(python, "-c", code, cwd=empty, env=env)
    for path in where.stdout.split():
        assert Path(path).is_relative_to(site), where.stdout  # the package, MNIST and configs of the wheel

    result = sh(bin_dir / "mlcl-train", "--config", "mlp_deep", "--set", "train.epochs=1",
                "--set", "data.train_subset=2000", cwd=empty, env=env)
    assert "===== [Epochs] 1/1 =====" in result.stdout and "[Test Result]" in result.stdout
    (run,) = (empty / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final_acc"] > 50
    assert sorted(p.name for p in (tmp_path / "cache" / "mlcl-train").iterdir())  # MNIST unpacked from the wheel

    result = sh(bin_dir / "mlcl-train", "init", cwd=empty, env=env)
    copied = sorted(p.relative_to(empty / "configs") for p in (empty / "configs").rglob("*.yaml"))
    assert copied == sorted(p.relative_to(ROOT / "configs") for p in (ROOT / "configs").rglob("*.yaml"))
    result = sh(bin_dir / "mlcl-train", "show-config", "--config", "configs/lessons/vanishing_relu.yaml",
                cwd=empty, env=env)
    assert "lr: 0.05" in result.stdout  # extends works in the copy
