"""The Python API (from mlcl_train import train, compare, load_run): the command line's code, from Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mlcl_train
from mlcl_train import compare, load_run, resume, train
from mlcl_train.api import Run, Table
from mlcl_train.core.errors import UserError
from mlcl_train.data.loader import load_test

ROOT = Path(__file__).parents[1]


def test_the_api_names_are_plain_functions_and_import_no_torch() -> None:
    code = ("import sys, types, mlcl_train; from mlcl_train import train, compare, load_run, resume, slides; "
            "import inspect; print('torch' in sys.modules, list(inspect.signature(train).parameters)[:2], "
            "compare.__doc__.split()[:3]); import mlcl_train.api as api; "
            "print(all(isinstance(f, types.FunctionType) and f.__module__ == 'mlcl_train.api' "
            "for f in (train, compare, load_run, resume, slides)), train is api.train)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.splitlines() == ["False ['config', 'overrides'] ['The', 'runs', 'given']", "True True"], (
        result.stderr)
    assert {"train", "compare", "load_run"} <= set(dir(mlcl_train))
    with pytest.raises(AttributeError):
        mlcl_train.no_such_name  # noqa: B018


def test_train_returns_the_run_the_command_line_would_make(tmp_path: Path, make_config, capsys) -> None:
    run = train(make_config(), {"model.hidden": [8]}, epochs=1, runs_dir=tmp_path / "runs", **{"seed": 3})
    assert isinstance(run, Run) and run.status == "completed" and run.epochs == run.epochs_planned == 1
    assert run.config["model"]["hidden"] == [8] and run.config["seed"] == 3 and run.path.parent == tmp_path / "runs"
    out = capsys.readouterr().out
    assert "===== [Epochs] 1/1 =====" in out and "[Test Result]" in out  # the homework's log lines
    assert (run.path / "log.txt").read_text() == out
    assert "completed, 1/1 epochs" in repr(run) and "<table>" in run._repr_html_()


def test_a_bad_override_is_the_config_error(tmp_path: Path, make_config) -> None:
    with pytest.raises(UserError, match="unknown key 'train.epoch'; did you mean 'train.epochs'"):
        train(make_config(), {"train.epoch": 3}, runs_dir=tmp_path)
    with pytest.raises(UserError, match="config file not found: nothere"):
        train("nothere", runs_dir=tmp_path)
    assert not (tmp_path / "runs").exists()


def test_a_diverged_run_is_returned_with_its_status(tmp_path: Path, make_config) -> None:
    run = train(make_config(train={"optimizer": {"name": "sgd", "lr": 1e12}}), runs_dir=tmp_path)
    assert run.status == "diverged"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> list[Run]:
    runs = tmp_path_factory.mktemp("api") / "runs"
    config = {"device": "cpu", "data.root": str(tiny_root), "train.optimizer.lr": 0.1, "eval.batch_size": 64}
    return [train("mlp_deep", {**config, "model.hidden": [width]}, epochs=2, name=f"w{width}", runs_dir=runs,
                  progress=False) for width in (8, 32)]


@pytest.mark.slow
def test_compare_gives_rows_a_notebook_shows_as_a_table(two_runs: list[Run]) -> None:
    table = compare(*two_runs)
    assert isinstance(table, Table) and len(table) == 2 and table.keys == ["model.hidden"]
    best = max(two_runs, key=lambda r: r.best_acc)
    assert table[0].path == best.path  # best first
    row = table.rows[0]
    assert row["best_acc"] == best.best_acc and row["model.hidden"] == best.config["model"]["hidden"]
    assert str(table).splitlines()[0].split()[:3] == ["run", "model", "params"]
    html = table._repr_html_()
    assert html.startswith("<table>") and html.count("<tr") == 3 and best.run in html
    assert [r.path for r in compare(runs_dir=two_runs[0].path.parent, filter="w8")] == [two_runs[0].path]
    with pytest.raises(UserError, match="none of the 2 runs matches"):
        compare(*two_runs, filter="best_acc>200")


def test_to_pandas_gives_a_dataframe_and_needs_pandas_only_then(two_runs: list[Run], monkeypatch) -> None:
    pandas = pytest.importorskip("pandas")
    frame = compare(*two_runs).to_pandas()
    assert isinstance(frame, pandas.DataFrame) and list(frame.columns)[-1] == "model.hidden"
    assert frame["best_acc"].tolist() == sorted((r.best_acc for r in two_runs), reverse=True)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(UserError, match="needs pandas: pip install pandas"):
        compare(*two_runs).to_pandas()


def test_plot_writes_the_curves_outside_a_notebook(two_runs: list[Run], tmp_path: Path) -> None:
    two_runs[0].plot(output=tmp_path / "one.png")
    compare(*two_runs).plot(output=tmp_path / "both.png")
    for name in ("one.png", "both.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserError, match="outside a notebook, pass a file"):
        two_runs[0].plot()


def test_load_run_gives_the_trained_network(two_runs: list[Run], tiny_root: Path) -> None:
    run = load_run(two_runs[1].path)
    assert run.model == "mlp" and run.best_acc == two_runs[1].best_acc  # the record, as read_run gives it
    net = run.net
    assert net is run.net and not net.training
    test = load_test("mnist", str(tiny_root), torch.device("cpu"))
    with torch.no_grad():
        acc = 100.0 * (net(test.images).argmax(1) == test.labels).float().mean().item()
    assert acc == pytest.approx(run.final_acc, abs=1e-3)  # the weights the run recorded its accuracy with


def test_load_run_of_a_folder_that_is_no_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a run folder"):
        load_run(tmp_path)


@pytest.mark.slow
def test_resume_extends_a_run_in_its_folder(two_runs: list[Run], tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(two_runs[0].path, tmp_path / two_runs[0].run))
    run = resume(copy, epochs=3, progress=False)
    assert run.path == copy and run.epochs == 3 and run.status == "completed"
    assert json.loads((copy / "summary.json").read_text())["resumed"] == 2
