"""Reading run folders into RunRecords (no training here: the folders are written by hand), and the table renderer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core import table
from mlcl_train.core.errors import UserError
from mlcl_train.runs.store import (
    NAME_MAX,
    Epoch,
    Run,
    RunLock,
    RunRecord,
    alive,
    is_locked,
    read_csv,
    read_run,
    read_runs,
    read_summary,
    results,
)

ROOT = Path(__file__).parents[1]
METRICS = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n"


def folder(tmp_path: Path, name: str, rows: list[str], summary: dict | str | None = None,
           config: str = "name: x\nmodel: {name: mlp, hidden: [8]}\ntrain: {epochs: 5}\n") -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "metrics.csv").write_text(METRICS + "".join(r + "\n" for r in rows))
    (path / "config.yaml").write_text(config)
    if summary is not None:
        (path / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    return path


def test_a_folder_without_summary_is_incomplete_with_numbers_from_its_metrics(tmp_path: Path) -> None:
    path = folder(tmp_path, "r1", ["1,0.9,70.0,0.8,75.5,0.1,2.0", "2,0.5,80.0,0.6,81.25,0.1,4.0",
                                   "3,0.4,82.0,0.7,80.0,0.1,3.0", "4,0.3,8"])  # a kill cut the last line short
    record = read_run(path)
    assert record.status == "incomplete"
    assert (record.epochs, record.epochs_planned, record.final_acc, record.best_acc, record.best_epoch) == (3, 5, 80.0,
                                                                                                          81.25, 2)
    assert record.test_loss == 0.7 and record.sec_per_epoch == 3.0 and record.params is None
    assert (record.name, record.model, record.run) == ("x", "mlp", "r1")
    assert record.settings["model.hidden"] == [8] and record.config["train"]["epochs"] == 5
    assert record.metrics[1] == Epoch(2, 0.5, 80.0, 0.6, 81.25, 0.1, 4.0)


def test_summary_numbers_win_and_stay_numbers(tmp_path: Path) -> None:
    summary = {"status": "completed", "name": "x", "model": "mlp", "params": 1234, "epochs": 5, "epochs_done": 5,
               "final_acc": 90.5, "best_acc": 91.0, "best_epoch": 4, "final_test_loss": 0.25, "seconds_per_epoch": 1.5}
    record = read_run(folder(tmp_path, "r", ["1,0.9,70.0,0.8,75.5,0.1,2.0"], summary))
    assert (record.status, record.params, record.epochs, record.final_acc, record.best_epoch) == (
        "completed", 1234, 5, 90.5, 4)
    assert isinstance(record.params, int) and isinstance(record.test_loss, float)


def test_killed_broken_and_running_runs(tmp_path: Path) -> None:
    here = {"host": socket.gethostname(), "status": "running"}
    # a live pid (a reused one, say) does not make a run alive; only its folder's lock does
    a = folder(tmp_path, "a", [], {**here, "pid": 1})
    assert read_run(a).status == "killed" and not alive(here, a)
    with RunLock(a):
        assert read_run(a).status == "running" and alive(here, a)
    assert read_run(a).status == "killed"
    assert read_run(folder(tmp_path, "c", [], "{not json")).status == "broken"
    elsewhere = {"host": "another-host", "status": "running", "pid": 1}
    d = folder(tmp_path, "d", [], elsewhere)
    assert read_run(d).status == "running"  # cannot be checked from here
    assert alive(elsewhere, d) and not alive(elsewhere, d, other_host=False)


def test_the_run_lock_is_exclusive_and_dies_with_its_process(tmp_path: Path) -> None:
    run = folder(tmp_path, "a", [], {"host": socket.gethostname(), "status": "running", "pid": 1})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from mlcl_train.runs.store import RunLock; "
         "RunLock(sys.argv[1]).acquire(); "
         "print('held', flush=True); time.sleep(60)", str(run)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert is_locked(run) and read_run(run).status == "running"
        with pytest.raises(UserError, match=rf"{run} is in use by another mlcl-train process \(pid {holder.pid}\)"):
            RunLock(run).acquire()
    finally:
        holder.kill()
        holder.wait()
    assert not is_locked(run) and read_run(run).status == "killed"  # the kernel released it
    with RunLock(run):
        assert is_locked(run)
    assert not is_locked(run)


def test_read_runs_finds_run_folders_and_says_when_there_are_none(tmp_path: Path) -> None:
    folder(tmp_path, "b", [])
    folder(tmp_path, "a", [])
    (tmp_path / "not-a-run").mkdir()
    assert [r.run for r in read_runs([tmp_path])] == ["a", "b"]
    from mlcl_train.core.errors import UserError

    with pytest.raises(UserError, match="no run folders in .*; train one"):
        read_runs([tmp_path / "not-a-run"], "train one")
    assert read_runs([tmp_path / "not-a-run"]) == []


def test_results_take_the_first_best_epoch() -> None:
    rows = [Epoch(1, 1.0, 50.0, 1.0, 90.0, 0.1, 1.0), Epoch(2, 1.0, 50.0, 1.0, 90.0, 0.1, 3.0)]
    assert results(rows)["best_epoch"] == 1 and results(rows)["seconds_per_epoch"] == 2.0
    assert results([])["epochs_done"] == 0 and results([])["final_acc"] is None


def test_a_record_is_frozen(tmp_path: Path) -> None:
    record: RunRecord = read_run(folder(tmp_path, "r", []))
    with pytest.raises(AttributeError):
        record.status = "completed"  # type: ignore[misc]


@pytest.mark.parametrize("fmt, expected", [
    ("text", "name   n\n----  --\na      1\nbb    22\n"),
    ("markdown", "| name | n |\n|:---|---:|\n| a | 1 |\n| bb | 22 |\n"),
    ("csv", "name,n\na,1\nbb,22\n"),
])
def test_the_table_renderer(fmt: str, expected: str) -> None:
    assert table.render(["name", "n"], [["a", "1"], ["bb", "22"]], fmt, right={1}) == expected


def test_the_table_renderer_without_a_rule_and_indented() -> None:
    assert table.render(["a", "b"], [["x|y", "1"]], rule=False, indent="  ") == "  a    b\n  x|y  1\n"
    assert table.render(["a"], [["x|y"]], "markdown") == "| a |\n|:---|\n| x\\|y |\n"


def test_every_status_a_reader_can_find_has_a_note_on_the_slides_in_each_language() -> None:
    from mlcl_train.present.words import EN, KO
    from mlcl_train.runs.store import READ_STATUSES

    for words in (EN, KO):
        assert {key.removeprefix("status_") for key in words if key.startswith("status_")} - {"unknown", "fact"} == (
            set(READ_STATUSES) - {"completed"})


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


def test_the_table_aligns_wide_characters_by_the_columns_they_take() -> None:
    text = table.render(["name", "acc"], [["합성곱", "98.1"], ["mlp", "97.0"]], right={1}, rule=False)
    assert text == "name     acc\n합성곱  98.1\nmlp     97.0\n"  # 합성곱 takes 6 columns
