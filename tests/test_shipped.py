"""The configs that ship with mlcl-train: found by name from any folder, globbed, and copied by `init`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import find_config, load_config
from mlcl_train.core import shipped
from mlcl_train.core.errors import UserError

ROOT = Path(__file__).parents[1]
CONFIGS = ROOT / "configs"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder outside the clone."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name, file", [
    ("mlp_deep", "mlp_deep.yaml"),
    ("mlp_deep.yaml", "mlp_deep.yaml"),
    ("configs/mlp_deep.yaml", "mlp_deep.yaml"),  # the README's commands, typed outside a clone
    ("lessons/vanishing_relu", "lessons/vanishing_relu.yaml"),
    ("vanishing_relu", "lessons/vanishing_relu.yaml"),
    ("configs/lessons/loss_mse.yaml", "lessons/loss_mse.yaml"),
])
def test_a_name_finds_the_shipped_config_from_any_folder(elsewhere: Path, name: str, file: str) -> None:
    assert find_config(name) == CONFIGS / file
    assert load_config(name) == load_config(CONFIGS / file)


def test_extends_between_shipped_configs_works_from_any_folder(elsewhere: Path) -> None:
    cfg = load_config("mlp_deep")  # extends _homework2.yaml: its recipe, with mlp_deep's model
    assert cfg.name == "mlp_deep" and cfg.model.hidden == [512, 256]
    assert cfg.train.optimizer.lr == 0.01 and cfg.train.epochs == 10
    assert load_config("vanishing_relu").train.optimizer.lr == 0.05  # lessons/_recipe.yaml


def test_a_file_in_the_working_folder_comes_first(elsewhere: Path) -> None:
    (elsewhere / "mlp_deep.yaml").write_text("extends: mlp_deep\nmodel: {hidden: [64]}\n")
    cfg = load_config("mlp_deep")  # ./mlp_deep.yaml, which extends the shipped one
    assert cfg.model.hidden == [64] and cfg.model.batch_norm is True
    (elsewhere / "configs").mkdir()
    (elsewhere / "configs" / "cnn.yaml").write_text("model: {name: cnn, channels: [4]}\n")
    assert load_config("cnn").model.channels == [4]  # configs/cnn.yaml here, as `init` makes it


def test_an_unknown_name_is_one_line_naming_the_closest(elsewhere: Path) -> None:
    result = run("show-config", "--config", "mlp_deeep")
    assert result.exit_code == 2
    assert result.output.startswith("error: config file not found: mlp_deeep;")
    assert "did you mean 'mlp_deep'?" in result.output and "Traceback" not in result.output


def test_a_glob_with_no_file_here_matches_the_shipped_configs(elsewhere: Path) -> None:
    for pattern in ("configs/lessons/*.yaml", "lessons/*"):
        result = run("show-config", "--config", pattern)
        assert result.exit_code == 0, result.output
        names = [line.split(": ", 1)[1] for line in result.output.splitlines() if line.startswith("name: ")]
        assert names == sorted(p.stem for p in (CONFIGS / "lessons").glob("[!_]*.yaml"))


def test_init_copies_the_configs_and_keeps_an_edited_file(elsewhere: Path) -> None:
    result = run("init", "course")
    assert result.exit_code == 0, result.output
    shipped_files = sorted(p.relative_to(CONFIGS) for p in CONFIGS.rglob("*.yaml"))
    course = elsewhere / "course" / "configs"
    copied = sorted(p.relative_to(course) for p in course.rglob("*.yaml"))
    assert copied == shipped_files and len(copied) > 10
    configs = [p for p in course.rglob("*") if p.is_file()]
    sweeps = [p for p in (elsewhere / "course" / "sweeps").rglob("*") if p.is_file()]
    assert (f"copied {len(configs) + len(sweeps)} files ({len(configs)} into course/configs, {len(sweeps)} into "
            "course/sweeps)") in result.stdout and sweeps
    assert (course / "my_models.py").is_file() and load_config(course / "tiny.yaml").model.width == 32  # models.md's
    assert (elsewhere / "course" / "sweeps" / "width_depth.yaml").is_file()

    edited = elsewhere / "course" / "configs" / "mlp_deep.yaml"
    edited.write_text("extends: _homework2.yaml\nmodel: {hidden: [32]}\n")
    result = run("init", "course")
    assert result.exit_code == 0 and "copied 0 files" in result.stdout
    assert "kept course/configs/mlp_deep.yaml" in result.stderr and "--force" in result.stderr
    assert yaml.safe_load(edited.read_text())["model"] == {"hidden": [32]}
    assert load_config(edited).model.hidden == [32]  # extends works in the copy

    result = run("init", "course", "--force")
    assert result.exit_code == 0 and "copied 1 file (1 into course/configs, 0 into course/sweeps)" in result.stdout
    assert edited.read_bytes() == (CONFIGS / "mlp_deep.yaml").read_bytes()


def test_init_into_a_file_is_an_error(elsewhere: Path) -> None:
    (elsewhere / "notes.txt").write_text("mine")
    result = run("init", "notes.txt")
    assert result.exit_code == 2 and "notes.txt is a file" in result.output
    assert (elsewhere / "notes.txt").read_text() == "mine"


def test_help_and_models_say_where_the_configs_are() -> None:
    for args in (["--help"], ["models"]):
        result = run(*args)
        assert result.exit_code == 0
        assert str(CONFIGS) in "".join(result.output.split())  # --help wraps its lines
        assert "mlcl-train init" in result.output.replace("\n", " ")


def test_every_shipped_folder_is_found_in_the_clone() -> None:
    assert [shipped.folder(name) for name in shipped.FOLDERS] == [ROOT / name for name in shipped.FOLDERS]
    assert "mlp_deep" in shipped.names() and "lessons/vanishing_relu" in shipped.names()
    assert "_homework2" not in shipped.names()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
])
def test_init_over_a_folder_or_fifo_is_one_line(elsewhere: Path, make, message) -> None:
    (elsewhere / "configs").mkdir()
    make(elsewhere / "configs" / "mlp_deep.yaml")
    result = CliRunner().invoke(app, ["init", str(elsewhere)])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_init_force_replaces_a_link_and_never_writes_through_it(elsewhere: Path) -> None:
    outside = elsewhere / "outside.txt"
    outside.write_text("precious")
    (elsewhere / "course" / "configs").mkdir(parents=True)
    link = elsewhere / "course" / "configs" / "mlp_deep.yaml"
    link.symlink_to(outside)
    kept = CliRunner().invoke(app, ["init", str(elsewhere / "course")])
    assert kept.exit_code == 0 and f"kept {link}" in kept.stderr
    forced = CliRunner().invoke(app, ["init", str(elsewhere / "course"), "--force"])
    assert forced.exit_code == 0 and outside.read_text() == "precious"
    assert not link.is_symlink() and link.read_bytes() == shipped.find("mlp_deep").read_bytes()


def unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not unshare_works() and os.environ.get("CI") != "true",
                    reason="needs `unshare -rm` (a user and mount namespace) to mount a small tmpfs")
def test_init_on_a_full_disk_leaves_no_empty_config(tmp_path: Path) -> None:
    """init into a real 24 KB file system: it fails in one line, and no file it leaves is empty."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=24k tmpfs "{disk}" && "$@" init "{disk}/course"; code=$?; '
              f'find "{disk}" -type f -empty; exit $code')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "mlcl_train"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: cannot write") and "No space left on device" in result.stderr
    assert len(result.stderr.splitlines()) == 1  # find printed no empty file


@pytest.mark.slow
def test_the_speedrun_config_resolves_and_trains_a_few_steps(tmp_path: Path, tiny_root: Path) -> None:
    """configs/speedrun.yaml as shipped (one cycle, label smoothing, bf16 where the CPU has it), on the tiny data."""
    from mlcl_train.runs.store import read_csv
    from mlcl_train.training.loop import train

    cfg = load_config("speedrun", [f"data.root={tiny_root}", "device=cpu"])
    assert (cfg.train.epochs, cfg.train.scheduler.name, cfg.train.label_smoothing) == (1, "onecycle", 0.1)
    with pytest.raises(UserError, match=r"pct_start 0.25 of 4 steps \(1 epochs x 4 batches\) leaves no steps"):
        train(cfg, tmp_path)  # 512 images at batch 128: 4 steps, one of them warm-up, which torch cannot plan
    assert not list(tmp_path.iterdir())  # refused before a run folder exists
    import torch

    before = torch.get_num_threads()
    try:
        record = train(load_config("speedrun", [f"data.root={tiny_root}", "device=cpu", "train.batch_size=64"]),
                       tmp_path)
        assert torch.get_num_threads() == cfg.train.threads == 1
    finally:
        torch.set_num_threads(before)  # the tests after this one keep the process's threads
    (row,) = read_csv(record.path / "metrics.csv")
    assert (record.status, record.epochs, record.params) == ("completed", 1, 44_354)
    assert float(row["lr"]) == pytest.approx(0.02 / 25) and 0 < float(row["test_acc"]) <= 100
