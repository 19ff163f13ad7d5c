"""The run folder's name, and reading run files that are not what they should be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcl_train.cli import app
from mlcl_train.errors import UserError
from mlcl_train.runs import NAME_MAX, Run, read_csv, read_summary


def test_a_run_name_too_long_for_a_folder_says_so(tmp_path: Path, make_config) -> None:
    result = CliRunner().invoke(app, ["train", "--config", str(make_config()), "--runs-dir", str(tmp_path / "runs"),
                                      "--name", "n" * 300])
    assert result.exit_code == 2, result.output
    assert f"the run name is 300 characters long; use at most {NAME_MAX}" in result.stderr
    assert "--runs-dir" not in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()
    assert Run.create(tmp_path / "runs", "n" * NAME_MAX).path.is_dir()  # the longest allowed name fits a folder


@pytest.mark.parametrize("kind", ["link-to-dev-zero", "fifo", "directory", "latin-1", "deep-json"])
def test_run_files_that_are_not_text_files_read_as_missing(tmp_path: Path, kind: str) -> None:
    """compare reads summary.json and metrics.csv of folders it did not make: never block or read forever."""
    for name in ("summary.json", "metrics.csv"):
        path = tmp_path / name
        if kind == "link-to-dev-zero":
            path.symlink_to("/dev/zero")
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        elif kind == "latin-1":
            path.write_bytes('{"name": "caf\xe9"}\n'.encode("latin-1"))
        else:
            path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    assert read_summary(tmp_path) is None
    assert read_csv(tmp_path / "metrics.csv") == []


def test_name_limit_is_checked_before_any_folder_is_made(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="characters long"):
        Run.create(tmp_path / "runs", "x" * (NAME_MAX + 1))
    assert not (tmp_path / "runs").exists()
