"""`mlcl-train compare`: one row per run, the differing config keys as columns, any run folder state."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.inspect.compare import differing_keys, render
from mlcl_train.runs.store import read_runs

runner = CliRunner()


def compare(*args: str):
    return runner.invoke(app, ["compare", *args])


def summaries(runs: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "summary.json").read_text()) for p in sorted(runs.iterdir())}


def test_train_of_several_configs_ends_with_their_compare_table(trained_runs):
    runs, output = trained_runs
    table = output.split("----- 2 runs, best first -----\n")[1]
    assert table.splitlines()[0].split()[-1] == "model.hidden"
    for folder in runs.iterdir():
        assert folder.name in table


def test_compare_shows_results_and_only_the_keys_that_differ(trained_runs):
    runs, _ = trained_runs
    result = runner.invoke(app, ["compare", str(runs)], env={"COLUMNS": "200"})  # wide enough for every column
    assert result.exit_code == 0, result.output
    header, rule, *rows = result.stdout.splitlines()
    assert header.split() == ["run", "model", "params", "epochs", "final_acc", "best_acc", "best_epoch", "test_loss",
                              "sec_per_epoch", "status", "model.hidden"]
    assert len(rows) == 2
    for name, summary in summaries(runs).items():
        row = next(r for r in rows if r.startswith(name))
        assert f"{summary['final_acc']:.2f}" in row and f"{summary['params']:,}" in row
        assert row.split()[-2:] == ["completed", f"[{summary['name'].removeprefix('hidden')}]"]
    best = [r.split()[5] for r in rows]
    assert best == sorted(best, key=float, reverse=True)


def test_compare_csv_and_json_parse_with_the_standard_library(trained_runs):
    runs, _ = trained_runs
    expected = summaries(runs)
    rows = list(csv.DictReader(io.StringIO(compare(str(runs), "--format", "csv").stdout)))
    items = json.loads(compare(str(runs), "--format", "json").stdout)
    assert {r["run"] for r in rows} == {i["run"] for i in items} == set(expected)
    for row in rows:
        assert float(row["final_acc"]) == expected[row["run"]]["final_acc"]
        assert row["model.hidden"] in ("[16]", "[32]") and "train.epochs" not in row
    for item in items:
        assert item["best_acc"] == expected[item["run"]]["best_acc"]
        assert item["model.hidden"] == [int(expected[item["run"]]["name"].removeprefix("hidden"))]


def test_compare_markdown_is_a_pipe_table(trained_runs):
    lines = compare(str(trained_runs[0]), "--format", "markdown").stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("|") and line.endswith("|") for line in lines)
    assert lines[1].startswith("|:---|:---|---:|")


def test_compare_lists_half_written_and_killed_runs_with_the_others(trained_runs, tmp_path):
    runs = shutil.copytree(trained_runs[0], tmp_path / "runs")
    first, second = sorted(runs.iterdir())
    half = first.rename(runs / "half")
    (half / "summary.json").unlink()
    metrics = (half / "metrics.csv").read_text()
    (half / "metrics.csv").write_text(metrics[: metrics.rindex("\n", 0, -1) + 5])  # epoch 1, half of epoch 2
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = shutil.copytree(second, runs / "killed")
    summary = json.loads((killed / "summary.json").read_text())
    (killed / "summary.json").write_text(json.dumps({**summary, "status": "running", "pid": int(dead.stdout)}))
    (runs / "empty").mkdir()  # not a run folder: ignored
    result = compare(str(runs))
    assert result.exit_code == 0, result.output
    status = {line.split()[0]: line.split()[-2] for line in result.stdout.splitlines()[2:]}
    assert status == {second.name: "completed", "killed": "killed", "half": "incomplete"}
    half_row = next(line for line in result.stdout.splitlines() if line.startswith("half"))
    assert half_row.split()[3:5] == ["-", "1/2"]  # after run and label: params unknown, one epoch finished
    assert result.stdout.split()[:2] == ["run", "label"]  # two runs named hidden32: the label tells them apart
    assert "hidden32 #2" in result.stdout


def test_compare_filter_sort_and_top(trained_runs):
    runs, _ = trained_runs
    narrow = json.loads(compare(str(runs), "--filter", "model.hidden=[32]", "--format", "json").stdout)
    assert [r["name"] for r in narrow] == ["hidden32"]
    glob = json.loads(compare(str(runs), "--filter", "*16", "--format", "json").stdout)
    assert [r["name"] for r in glob] == ["hidden16"]
    by_params = json.loads(compare(str(runs), "--sort", "params", "--reverse", "--format", "json").stdout)
    assert [r["params"] for r in by_params] == sorted((r["params"] for r in by_params), reverse=True)
    assert len(json.loads(compare(str(runs), "--top", "1", "--format", "json").stdout)) == 1
    both = json.loads(
        compare(str(runs), "--filter", "params>0", "--filter", "status=complete*", "--format", "json").stdout
    )
    assert len(both) == 2


def test_compare_bad_options_are_one_line_errors(trained_runs, tmp_path):
    runs = str(trained_runs[0])
    cases = [
        (["--filter", "modle.hidden=[32]"], "did you mean 'model.hidden'"),
        (["--sort", "acc"], "--sort acc"),
        (["--format", "xml"], "valid: table, csv, json, markdown"),
        (["--filter", "best_acc>high"], "needs a number"),
        (["--filter", "status=failed"], "none of the 2 runs"),
    ]
    for args, message in cases:
        result = compare(runs, *args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, args
    result = compare(str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no such folder" in result.stderr


def test_compare_library_functions_for_reuse(trained_runs):
    runs = read_runs([trained_runs[0]])
    assert differing_keys(runs) == ["model.hidden"]
    assert render(runs, "markdown", keys=[]).splitlines()[0].endswith("| status |")


def test_runs_dir_option_reads_the_same_folder_as_train(trained_runs):
    runs, _ = trained_runs
    by_option, by_path = compare("--runs-dir", str(runs), "--format", "json"), compare(str(runs), "--format", "json")
    assert by_option.exit_code == 0, by_option.output
    assert json.loads(by_option.stdout) == json.loads(by_path.stdout)


def test_compare_json_writes_null_for_nan_and_infinity(trained_runs, tmp_path: Path):
    """A diverged run's NaN loss is not a JSON number: strict parsers must read the output."""
    runs, _ = trained_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    run = sorted(copy.iterdir())[0]
    summary = json.loads((run / "summary.json").read_text())
    summary.update(final_test_loss=float("nan"), best_acc=float("inf"))
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("lr: 0.1", "lr: .nan"))
    result = compare(str(copy), "--format", "json")
    assert result.exit_code == 0, result.output

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON output")

    items = {i["run"]: i for i in json.loads(result.stdout, parse_constant=refuse)}
    assert items[run.name]["test_loss"] is None and items[run.name]["best_acc"] is None
    assert items[run.name]["train.optimizer.lr"] is None


def test_compare_columns_width_and_natural_sort(tmp_path):
    from conftest import fake_run

    runs = tmp_path / "runs"
    for n, hidden in enumerate(([1024, 512], [128, 64], [128], [64])):
        fake_run(runs, n, "mlp_deep", [f"model.hidden={hidden}", f"train.batch_size={32 if n else 64}"])
    by_hidden = compare(str(runs), "--sort", "model.hidden", "--columns", "label,model.hidden", "--format", "json")
    assert by_hidden.exit_code == 0, by_hidden.output
    assert [r["model.hidden"] for r in json.loads(by_hidden.stdout)] == [[64], [128], [128, 64], [1024, 512]]
    assert list(json.loads(by_hidden.stdout)[0]) == ["label", "model.hidden"]
    assert json.loads(by_hidden.stdout)[0]["label"] == "mlp_deep hidden=[64]"
    # the config columns keep their order whatever the sort
    sorts = ("best_acc", "model.hidden", "train.batch_size", "run")
    headers = {tuple(compare(str(runs), "--sort", key).stdout.splitlines()[0].split()[-2:]) for key in sorts}
    assert headers == {("model.hidden", "train.batch_size")}
    narrow = runner.invoke(app, ["compare", str(runs)], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert narrow.stdout.split()[:2] == ["run", "label"]  # names repeat: the label follows the folder
    assert "best_acc" in narrow.stdout.splitlines()[0].split()
    assert "mlp_deep hidden=[64]" in narrow.stdout
    assert "did not fit 80 characters: model, epochs" in narrow.stderr  # params fit again once the keys were out
    assert "model.hidden" in narrow.stderr  # the label shows it: hidden=[64] and "--columns" in narrow.stderr
    piped = runner.invoke(app, ["compare", str(runs)], env={"COLUMNS": None})  # not a terminal: 120 characters
    assert piped.exit_code == 0 and max(len(line) for line in piped.stdout.splitlines()) <= 120
    bad = compare(str(runs), "--columns", "label,modle.hidden")
    assert bad.exit_code == 2 and "did you mean 'model.hidden'" in bad.stderr


def test_long_values_are_cut_in_the_table_and_whole_in_csv(tmp_path):
    from conftest import fake_run, sequential

    runs = tmp_path / "runs"
    fake_run(runs, 1, "seq", [], sequential(6))
    fake_run(runs, 2, "seq", [], sequential(3))
    table_row = compare(str(runs)).stdout.splitlines()[2]
    assert "\u2026" in table_row and len(table_row) < 250
    rows = list(csv.DictReader(io.StringIO(compare(str(runs), "--format", "csv").stdout)))
    assert all(json.loads(r["model.layers"]) for r in rows)


def test_compare_and_slides_of_runs_name_the_sweep_trials_they_leave_out(tmp_path):
    """runs/sweeps/<name>/ holds a sweep's trials: compare runs/ lists the runs and says in one line where the
    trials are; compare runs/sweeps/<name> lists the trials by their swept values."""
    from conftest import fake_run

    runs = tmp_path / "runs"
    fake_run(runs, 0, "mlp_deep", [])
    (runs / "sweeps" / "tiny").mkdir(parents=True)
    for n, hidden in enumerate([[64], [512]]):
        fake_run(runs / "sweeps" / "tiny", n, f"tiny-{n}-s1", [f"model.hidden={hidden}"])
        summary = next((runs / "sweeps" / "tiny").glob(f"*tiny-{n}-s1")) / "summary.json"
        data = json.loads(summary.read_text())
        summary.write_text(json.dumps({**data, "sweep": {"name": "tiny", "point": {"model.hidden": hidden},
                                                         "seed": 1, "trial": n}}))
    result = runner.invoke(app, ["compare", str(runs)])
    assert result.exit_code == 0 and "mlp_deep" in result.stdout and "tiny" not in result.stdout
    assert f"note: left out 2 sweep trials (tiny); show them with: mlcl-train compare {runs}/sweeps/tiny" \
        in result.stderr
    result = runner.invoke(app, ["compare", str(runs / "sweeps" / "tiny"), "--columns", "label,best_acc"])
    shown = sorted(line.rsplit(" ", 1)[0].strip() for line in result.stdout.splitlines()[2:])
    assert shown == ["hidden=[512] s1", "hidden=[64] s1"] and "left out" not in result.stderr
    result = runner.invoke(app, ["slides", str(runs), "-o", str(tmp_path / "d.pptx"), "--no-appendix"])
    assert result.exit_code == 0 and "note: left out 2 sweep trials (tiny)" in result.stderr


@pytest.mark.slow
def test_a_model_of_my_own_is_shown_by_its_file_name_never_its_path(tmp_path):
    """config.yaml keeps the file's absolute path (to rebuild the model); compare, the labels, the deck and the
    report show my_models.py:TinyNet."""
    from conftest import write_run

    from mlcl_train.config.loader import load_config

    configs = Path(__file__).parent.parent / "configs"
    runs = tmp_path / "runs"
    for n, name in enumerate(["hw2_baseline", "tiny", "tiny"]):
        write_run(runs, n, load_config(configs / f"{name}.yaml", [f"seed={n}"]))
    folder = str(configs.resolve())
    assert folder in (next(runs.glob("*-tiny")) / "config.yaml").read_text()
    for args in (["--baseline", "hw2_baseline"], ["--group"], ["--filter", "model.name=my_models.py:TinyNet"],
                 ["--format", "markdown"]):
        result = runner.invoke(app, ["compare", str(runs), *args])
        assert result.exit_code == 0 and "my_models.py:TinyNet" in result.stdout and folder not in result.output
    deck = tmp_path / "d.pptx"
    assert runner.invoke(app, ["slides", str(runs), "-o", str(deck), "--baseline", "hw2_baseline"]).exit_code == 0
    from pptx import Presentation

    text = "\n".join(shape.text_frame.text for slide in Presentation(str(deck)).slides for shape in slide.shapes
                     if shape.has_text_frame)
    notes = "\n".join(slide.notes_slide.notes_text_frame.text for slide in Presentation(str(deck)).slides)
    assert "my_models.py:TinyNet" in text and folder not in text + notes
    page = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(runs), "-o", str(page)]).exit_code == 0
    assert "my_models.py:TinyNet" in page.read_text() and folder not in page.read_text()


def test_compare_group_fits_the_terminal_and_names_what_it_left_out(tmp_path):
    from conftest import many_runs

    runs = many_runs(tmp_path / "runs", 12)
    result = runner.invoke(app, ["compare", str(runs), "--group"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and max(map(len, result.stdout.splitlines())) <= 80
    assert "best_acc (mean ± std)" in result.stdout and "did not fit 80 characters" in result.stderr
    wide = runner.invoke(app, ["compare", str(runs), "--group", "--format", "csv"])
    left = result.stderr.split(": ", 2)[2].split(";")[0].split(", ")
    assert all(key in wide.stdout.splitlines()[0] for key in left)
