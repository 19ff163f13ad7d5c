"""Sweeps: the sweep file's checks, and real sweeps in real processes on the tiny data (exactly once, resume, kill)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import UserError
from mlcl_train.runs.store import read_runs
from mlcl_train.sweeps.study import open_storage

ROOT = Path(__file__).parents[1]


def write_sweep(folder: Path, base: Path, **fields) -> Path:
    """A sweep file over a tiny grid (2 points x 2 seeds) unless fields say otherwise."""
    data = {"name": "tiny", "base": str(base), "seeds": [1, 2], "space": {"model.hidden": [[8], [16]]}, **fields}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`mlcl-train sweep ...` as its own process, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "mlcl_train", "sweep", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate()
    return proc.returncode, out, err


def pairs(folder: Path) -> Counter:
    """How many run folders of each status each (point, seed) has."""
    return Counter((json.dumps(r.point), r.config["seed"], r.status) for r in read_runs([folder]))


# ---------------------------------------------------------------- the sweep file


@pytest.mark.parametrize("fields, message", [
    ({"space": {"model.hiden": [[8]]}}, "did you mean 'model.hidden'?"),
    ({"set": {"train.epoch": 1}}, "did you mean 'train.epochs'?"),
    ({"space": {"train.optimizer.lr": {"low": 0.01, "high": 0.1}}}, "a range needs method: random or tpe"),
    ({"space": {"model.activation": ["relu", "swishy"]}}, "swishy"),
    ({"method": "tpe"}, "trials: method tpe needs the number of points"),
    ({"metirc": "best_acc"}, "did you mean 'metric'?"),
    ({"seeds": [1, 1]}, "lists a seed twice"),
    ({"space": {"seed": [1, 2]}}, "list the seeds under 'seeds:'"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_key(tmp_path: Path, make_config, fields, message) -> None:
    path = write_sweep(tmp_path, make_config(), **fields)
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith(f"error: {path}: ") and result.output.count("\n") == 1


def test_dry_run_prints_the_points_and_the_trial_count(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(), space={"model.hidden": [[8], [16], [32]], "model.activation":
                                                       ["relu", "gelu"]})
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "grid of 6 points x 2 seeds (1, 2) = 12 trials" in result.output
    assert "5  [32]          gelu" in result.output
    assert not (tmp_path / "runs").exists()


def test_status_before_any_trial_lists_every_point_pending(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config())
    result = CliRunner().invoke(app, ["sweep", str(path), "--status", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "0 of 4 trials finished (pending 4)" in result.output
    assert result.output.count("pending 2") == 2


# ---------------------------------------------------------------- real sweeps


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_root: Path) -> tuple[Path, Path, str, str]:
    """A 2 points x 2 seeds grid trained by two workers: (sweep file, runs folder, stdout, stderr). Read-only."""
    folder = tmp_path_factory.mktemp("sweep")
    base = folder / "base.yaml"
    base.write_text(yaml.safe_dump({"device": "cpu", "data": {"root": str(tiny_root)}, "model": {"name": "mlp"},
                                    "train": {"epochs": 1, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.1}},
                                    "eval": {"batch_size": 64}}))
    path = write_sweep(folder, base)
    runs = folder / "runs"
    code, out, err = finish(sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs)))
    assert code == 0, err
    return path, runs, out, err


@pytest.mark.slow
def test_two_workers_train_each_pair_once_and_a_rerun_trains_nothing(finished) -> None:
    path, runs, out, err = finished
    folder = runs / "sweeps" / "tiny"
    counts = pairs(folder)
    assert sorted(counts.values()) == [1, 1, 1, 1] and {s for *_, s in counts} == {"completed"}
    assert len({(p, seed) for p, seed, _ in counts}) == 4
    assert "4 of 4 trials finished (completed 4)" in out
    assert "4/4 done" in err
    summary = json.loads(next(folder.glob("*-tiny-*/summary.json")).read_text())
    assert set(summary["sweep"]) == {"name", "point", "seed", "trial"} and summary["sweep"]["name"] == "tiny"
    before = sorted(p.name for p in folder.iterdir())
    code, out, err = finish(sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs)))
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == before
    assert "4 of 4 trials finished" in out


@pytest.mark.slow
def test_compare_group_makes_one_row_per_point(finished) -> None:
    folder = finished[1] / "sweeps" / "tiny"
    grouped = CliRunner().invoke(app, ["compare", str(folder), "--group"])
    assert grouped.exit_code == 0, grouped.output
    lines = grouped.output.splitlines()
    assert lines[0].split()[:2] == ["model.hidden", "best_acc"] and len(lines) == 4  # header, rule, 2 points
    assert all(line.split()[-3:] == ["2", "completed", "2"] for line in lines[2:])
    means = [float(line.split()[1]) for line in lines[2:]]
    assert means == sorted(means, reverse=True)  # best first
    records = read_runs([folder])
    for line in lines[2:]:
        width = json.loads(line.split()[0])
        scores = [r.best_acc for r in records if r.point == {"model.hidden": width}]
        assert float(line.split()[1]) == pytest.approx(sum(scores) / 2, abs=0.006)


def test_plot_params_draws_a_panel_per_swept_key(finished, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plot", str(finished[1] / "sweeps" / "tiny"), "--params",
                                      "-o", str(tmp_path / "params.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "params.png").stat().st_size > 10_000


@pytest.mark.slow
def test_report_shows_a_sweep_as_one_grouped_table(finished, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(finished[1] / "sweeps" / "tiny"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Sweep tiny</h2>" in page and "4 trials of 2 points (completed 4)" in page
    assert page.count('<h2 id="run-') == 4  # the sweep's folder alone: each trial is a run of the talk
    assert '<h2 id="changes">What each change did</h2>' in page and "hidden=[16] s1: hidden [8] -&gt; [16] (+" in page
    from conftest import fake_run

    fake_run(tmp_path / "other", 0, "plain", [])  # with another run, the sweep folds into its best trial
    mixed = CliRunner().invoke(app, ["report", str(finished[1] / "sweeps" / "tiny"), str(tmp_path / "other"),
                                     "-o", str(tmp_path / "m.html")])
    assert mixed.exit_code == 0, mixed.output
    assert (tmp_path / "m.html").read_text().count('<h2 id="run-') == 2


@pytest.mark.slow
def test_a_killed_worker_s_trial_trains_again_and_nothing_else_repeats(tmp_path: Path, make_config) -> None:
    # the [16] point trains long enough to be killed in the middle
    path = write_sweep(tmp_path, make_config(train={"epochs": 1}),
                       space={"model.hidden": [[8], [16]]}, set={}, seeds=[1, 2])
    path.write_text(path.read_text() + "")
    base = yaml.safe_load(path.read_text())
    base["space"] = {"train.epochs": [1, 40]}
    path.write_text(yaml.safe_dump(base))
    runs = tmp_path / "runs"
    folder = runs / "sweeps" / "tiny"
    proc = sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs))
    victim = None
    while victim is None and proc.poll() is None:
        for summary in folder.glob("*/summary.json"):
            data = json.loads(summary.read_text())
            if data["epochs"] == 40 and data["status"] == "running" and 1 <= data["epochs_done"] < 30:
                victim = summary.parent
                os.kill(data["pid"], signal.SIGKILL)
                break
        time.sleep(0.05)
    code, out, err = finish(proc)
    assert victim is not None, err
    assert code == 1 and "was killed (SIGKILL)" in err
    storage = open_storage(None, folder)  # the dead claim is closed, not RUNNING for good
    states = Counter(t.state.name for s in storage.get_all_studies() for t in storage.get_all_trials(s._study_id))
    assert states["RUNNING"] == 0 and states["FAIL"] >= 1, states
    code, out, err = finish(sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs)))
    assert code == 0, err
    counts = pairs(folder)
    completed = Counter((p, seed) for p, seed, status in counts.elements() if status == "completed")
    assert sorted(completed.values()) == [1, 1, 1, 1]  # every pair completed once
    assert sum(counts.values()) == 5  # and the killed folder, kept
    assert read_runs([victim])[0].status == "killed"


@pytest.mark.slow
def test_the_median_pruner_stops_a_clearly_worse_trial(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(train={"epochs": 3}), seeds=[1], pruner={"name": "median", "startup": 2},
                       space={"train.optimizer.lr": [0.1, 0.2, 0.00001]})
    runs = tmp_path / "runs"
    code, out, err = finish(sweep_cli(str(path), "--runs-dir", str(runs)))
    assert code == 0, err
    records = {r.point["train.optimizer.lr"]: r for r in read_runs([runs / "sweeps" / "tiny"])}
    assert records[0.00001].status == "pruned" and records[0.00001].epochs == 1
    assert records[0.1].status == records[0.2].status == "completed"
    assert "pruned 1" in out


@pytest.mark.slow
def test_two_slurm_array_tasks_complete_the_sweep(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(train={"epochs": 1}))
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["sweep", str(path), "--slurm", "--runs-dir", str(runs), "--partition", "gpu",
                                      "--array-parallelism", "2", "--time", "1:00:00"])
    assert result.exit_code == 0, result.output
    script = runs / "sweeps" / "tiny" / "slurm.sh"
    text = script.read_text()
    assert "#SBATCH --array=0-1" in text and "#SBATCH --partition=gpu" in text and "#SBATCH --time=1:00:00" in text
    assert f"sbatch {script}" in result.output and "NFS" in result.output
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    tasks = [subprocess.Popen(["bash", str(script)], env={**env, "SLURM_ARRAY_TASK_ID": str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for task in tasks:
        out, err = task.communicate()
        assert task.returncode == 0, err
    counts = pairs(runs / "sweeps" / "tiny")
    assert sorted(counts.values()) == [1, 1, 1, 1] and {s for *_, s in counts} == {"completed"}


@pytest.mark.slow
def test_two_hosts_join_one_sweep_through_postgresql(tmp_path: Path, make_config) -> None:
    url = os.environ.get("MLCL_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("MLCL_TEST_POSTGRES is not set: .ci/run starts a PostgreSQL server and sets it")
        pytest.skip("no PostgreSQL server: start one with `export MLCL_TEST_POSTGRES=$(.ci/postgres start)`")
    name = f"pg_{os.getpid()}_{time.time_ns()}"  # a new study in a database the tests share
    path = write_sweep(tmp_path, make_config(train={"epochs": 1}), name=name)
    runs = tmp_path / "runs"
    hosts = [sweep_cli(str(path), "--storage", url, "--runs-dir", str(runs)) for _ in range(2)]
    for host in hosts:
        code, out, err = finish(host)
        assert code == 0, err
    counts = pairs(runs / "sweeps" / name)
    assert sorted(counts.values()) == [1, 1, 1, 1] and {s for *_, s in counts} == {"completed"}
    assert len({(p, seed) for p, seed, _ in counts}) == 4
    code, out, err = finish(sweep_cli(str(path), "--storage", url, "--runs-dir", str(runs)))
    assert code == 0 and sum(pairs(runs / "sweeps" / name).values()) == 4, err


@pytest.mark.slow
def test_ctrl_c_marks_the_trials_in_progress_interrupted_and_a_rerun_trains_them(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(train={"epochs": 60}), seeds=[1])
    runs = tmp_path / "runs"
    folder = runs / "sweeps" / "tiny"
    proc = sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs))
    while proc.poll() is None:
        started = [json.loads(p.read_text()) for p in folder.glob("*/summary.json")]
        if len([s for s in started if s["status"] == "running" and s["epochs_done"] >= 1]) == 2:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    code, out, err = finish(proc)
    assert code == 130, err
    assert sorted(r.status for r in read_runs([folder])) == ["interrupted", "interrupted"]
    data = yaml.safe_load(path.read_text())
    data["set"] = {"train.epochs": 1}  # the pairs are the points and seeds; a shorter retrain keeps this test quick
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = finish(sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs)))
    assert code == 0, err
    assert Counter(r.status for r in read_runs([folder])) == {"interrupted": 2, "completed": 2}


def test_random_and_tpe_take_ranges_and_check_both_ends(tmp_path: Path, make_config) -> None:
    space = {"train.optimizer.lr": {"low": 0.001, "high": 0.1, "log": True}, "train.batch_size": {"low": 16,
             "high": 128, "int": True}, "model.hidden": [[8], [16]]}
    path = write_sweep(tmp_path, make_config(), method="tpe", trials=5, seeds=[3], space=space)
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "tpe, 5 points x 1 seed (3) = 5 trials" in result.output
    assert "0.001..0.1 (log)" in result.output and "int 16..128" in result.output
    space["train.batch_size"] = {"low": 0, "high": 128, "int": True}  # batch size 0 is not a valid config
    path = write_sweep(tmp_path, make_config(), method="random", trials=5, space=space)
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2 and "train.batch_size: 0 is out of range" in result.output


def test_compare_group_without_a_sweep_groups_runs_that_differ_only_by_seed(trained_runs) -> None:
    result = CliRunner().invoke(app, ["compare", str(trained_runs[0]), "--group", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "| model.hidden | best_acc (mean ± std) | n | status |"
    assert len(result.output.splitlines()) == 4  # header, rule, a row per width


def test_repeating_set_for_one_key_is_an_error_that_points_to_sweeps(make_config) -> None:
    result = CliRunner().invoke(app, ["show-config", "--config", str(make_config()), "--set", "model.hidden=[8]",
                                      "--set", "model.hidden=[16]"])
    assert result.exit_code == 2
    assert "--set model.hidden=... is given 2 times" in result.output and "sweep" in result.output


def test_a_storage_that_cannot_be_opened_is_one_line(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config())
    result = CliRunner().invoke(app, ["sweep", str(path), "--storage", "postgresql://nobody@127.0.0.1:1/none",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "error: --storage: cannot open the database:" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["sweep", str(tmp_path / "nope.yaml"), "--dry-run"])
    assert missing.exit_code == 2 and "sweep file not found" in missing.output


# ---------------------------------------------------------------- hostile and faulty input


def postgres_server() -> str:
    """The test server's URL (MLCL_TEST_POSTGRES): skipped outside CI without one, failed in CI."""
    url = os.environ.get("MLCL_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("MLCL_TEST_POSTGRES is not set: .ci/run starts a PostgreSQL server and sets it")
        pytest.skip("no PostgreSQL server: start one with `export MLCL_TEST_POSTGRES=$(.ci/postgres start)`")
    return url


@pytest.fixture
def fresh_database():
    """A new, empty database on the test server, dropped afterwards: its URL."""
    import psycopg

    url = postgres_server()
    name = f"mlcl_{os.getpid()}_{time.time_ns()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.slow
def test_hosts_starting_together_on_a_new_database_all_join(tmp_path: Path, make_config, fresh_database) -> None:
    path = write_sweep(tmp_path, make_config(train={"epochs": 1}))
    runs = tmp_path / "runs"
    hosts = [sweep_cli(str(path), "--storage", fresh_database, "--runs-dir", str(runs)) for _ in range(3)]
    for host in hosts:
        code, out, err = finish(host)
        assert code == 0, err
    counts = pairs(runs / "sweeps" / "tiny")
    assert sorted(counts.values()) == [1, 1, 1, 1] and {s for *_, s in counts} == {"completed"}


@pytest.mark.slow
def test_a_database_that_accepts_and_never_answers_is_one_line(tmp_path: Path, make_config, monkeypatch) -> None:
    import socket
    import threading

    from mlcl_train.sweeps import study

    monkeypatch.setattr(study, "CONNECT_TIMEOUT", 2)
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()  # and says nothing
    port = server.getsockname()[1]
    path = write_sweep(tmp_path, make_config())
    result = CliRunner().invoke(app, ["sweep", str(path), "--storage", f"postgresql://u@127.0.0.1:{port}/db",
                                      "--runs-dir", str(tmp_path / "runs")])
    server.close()
    assert result.exit_code == 2, result.output
    error = result.output.splitlines()[-1]  # after the line that announces the sweep
    assert error.startswith("error: --storage: cannot open the database:") and "timeout" in error, result.output
    assert "Traceback" not in result.output and accepted


def test_a_grid_of_a_billion_points_is_refused_in_one_line(tmp_path: Path, make_config) -> None:
    space = {"model.hidden": [[w] for w in range(8, 1008)], "train.batch_size": list(range(1, 1001)),
             "train.epochs": list(range(1, 1001))}
    path = write_sweep(tmp_path, make_config(), space=space)
    for flag in ("--dry-run", "--status", "--workers"):
        result = CliRunner().invoke(app, ["sweep", str(path), flag, *(["1"] if flag == "--workers" else []),
                                          "--runs-dir", str(tmp_path / "runs")])
        assert result.exit_code == 2, result.output
        assert "1000 x 1000 x 1000 = 1,000,000,000 points is more than 10,000" in result.output
        assert result.output.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_dry_run_and_status_list_a_page_at_a_time(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(), seeds=[1], space={"train.batch_size": list(range(1, 251))})
    first = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert "grid of 250 points" in first.output
    assert first.output.endswith("(rows 1-100 of 250; --page 2 lists the next)\n")
    last = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--page", "3"])
    assert last.output.endswith("(rows 201-250 of 250)\n")
    assert "249  250" in last.output and "  0  1 " not in last.output
    status = CliRunner().invoke(app, ["sweep", str(path), "--status", "--page", "2", "--runs-dir", str(tmp_path)])
    assert len(status.output.splitlines()) == 3 + 100 + 1 and "(rows 101-200 of 250;" in status.output


@pytest.fixture
def finished_copy(finished, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished sweep's file and runs folder, to damage: (sweep file, runs folder)."""
    import shutil

    path, runs, _, _ = finished
    shutil.copytree(runs, tmp_path / "runs")
    copy = tmp_path / "sweep.yaml"
    copy.write_text(path.read_text())
    return copy, tmp_path / "runs"


def run_folders(runs: Path) -> list[str]:
    return sorted(p.name for p in (runs / "sweeps" / "tiny").glob("*-tiny-*"))


@pytest.mark.parametrize("damage, message", [
    (lambda j: j.write_bytes(j.read_bytes().replace(b"\n", b"\n{garbage\n", 1)), "is damaged (JSONDecodeError)"),
    (lambda j: j.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n"), "is damaged (UnicodeDecodeError)"),
    (lambda j: j.write_bytes(b"[1, 2]\n"), "is damaged"),
    (lambda j: (j.unlink(), j.mkdir()), "is a folder, not a file"),
])
def test_a_damaged_journal_is_one_line_and_trains_nothing(finished_copy, damage, message) -> None:
    path, runs = finished_copy
    before = run_folders(runs)
    damage(runs / "sweeps" / "tiny" / "optuna.journal")
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs)])
    assert result.exit_code == 2, result.output
    error = result.output.splitlines()[-1]
    assert error.startswith("error: the sweep's journal ") and message in error, result.output
    assert "Traceback" not in result.output and run_folders(runs) == before


def test_an_emptied_journal_records_the_finished_run_folders_and_trains_nothing(finished_copy) -> None:
    path, runs = finished_copy
    before = run_folders(runs)
    (runs / "sweeps" / "tiny" / "optuna.journal").write_bytes(b"")
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert "had no record of 4 finished trials that the run folders" in result.output
    assert "4 of 4 trials finished (completed 4)" in result.output and run_folders(runs) == before
    again = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs)])
    assert "no record" not in again.output and run_folders(runs) == before


def test_a_pair_its_run_folders_show_finished_is_recorded_not_trained_when_claimed(finished_copy) -> None:
    """A worker killed after its run finished but before the storage heard of it: the next claim of that pair
    finds the finished run folder (a storage that lost it, and no restore at the start, stand in for the race)."""
    from mlcl_train.sweeps.spec import load_sweep
    from mlcl_train.sweeps.study import claim, open_storage, open_study, run_trial

    path, runs = finished_copy
    before = run_folders(runs)
    folder = runs / "sweeps" / "tiny"
    (folder / "optuna.journal").write_bytes(b"")
    sweep = load_sweep(path)
    study = open_study(sweep, open_storage(None, folder))

    def no_training(*args):
        raise AssertionError("a finished pair was trained again")

    statuses = []
    for _ in range(5):  # 4 pairs; bounded, since a pair that fails is claimed again
        if (claimed := claim(study, sweep, False, False)) is None:
            break
        statuses.append(run_trial(study, sweep, claimed, folder, no_training))
    assert statuses == ["completed"] * 4 and run_folders(runs) == before
    assert sorted(t.state.name for t in study.get_trials()) == ["COMPLETE"] * 4


@pytest.mark.parametrize("change, message", [
    ({"space": {"model.activation": ["relu", "gelu"]}}, "the keys model.hidden (this file: model.activation)"),
    ({"space": {"model.hidden": [[8], [32]]}}, "model.hidden: [[8], [16]] (this file: [[8], [32]])"),
    ({"metric": "test_loss"}, "metric best_acc (this file: test_loss)"),
    ({"method": "random", "trials": 2}, "method grid (this file: random)"),
])
def test_the_same_name_with_another_space_or_metric_is_refused_before_training(finished_copy, change, message) -> None:
    path, runs = finished_copy
    before = run_folders(runs)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **change}))
    result = CliRunner().invoke(app, ["sweep", str(path), "--runs-dir", str(runs)])
    assert result.exit_code == 2, result.output
    error = result.output.splitlines()[-1]
    assert error.startswith("error: sweep tiny: the storage holds a sweep of this name with ") and message in error
    assert "another name (name: tiny_2) or another storage" in error and run_folders(runs) == before


def test_a_changed_categorical_under_random_search_is_refused(tmp_path: Path, make_config) -> None:
    from mlcl_train.sweeps.spec import load_sweep
    from mlcl_train.sweeps.study import check_definition, open_storage, open_study

    space = {"model.activation": ["relu", "gelu"], "train.optimizer.lr": {"low": 0.01, "high": 0.1}}
    first = load_sweep(write_sweep(tmp_path, make_config(), method="random", trials=2, space=space))
    storage = open_storage(None, tmp_path / "store")
    check_definition(open_study(first, storage), first)
    space["model.activation"] = ["relu", "tanh"]
    second = load_sweep(write_sweep(tmp_path, make_config(), method="random", trials=2, space=space))
    with pytest.raises(UserError, match=r'model.activation: \["relu", "gelu"\] \(this file: \["relu", "tanh"\]\)'):
        check_definition(open_study(second, storage), second)
    check_definition(open_study(first, storage), first)  # the first sweep still opens


@pytest.fixture
def slurm() -> dict[str, str]:
    """The environment that reaches the test's Slurm cluster (MLCL_TEST_SLURM: its slurm.conf)."""
    conf = os.environ.get("MLCL_TEST_SLURM")
    if not conf:
        if os.environ.get("CI") == "true":
            pytest.fail("MLCL_TEST_SLURM is not set: .ci/run starts a one-node Slurm cluster and sets it")
        pytest.skip("no Slurm cluster: start one with `export MLCL_TEST_SLURM=$(.ci/slurm start)`")
    return {**os.environ, "SLURM_CONF": conf, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def slurm_wait(job: str, env: dict[str, str], until: Callable[[], bool] = lambda: False) -> None:
    """Wait until the job array has left the queue, or until `until()` holds."""
    for _ in range(3000):  # a bound, not a timing: a job that never ends fails the test instead of hanging it
        queued = subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True, text=True).stdout
        if not queued.strip() or until():
            return
        time.sleep(0.2)
    pytest.fail(f"Slurm job {job} did not end")


@pytest.mark.slow
def test_a_real_slurm_array_cancelled_half_way_and_resubmitted_trains_each_pair_once(tmp_path, make_config, slurm):
    # 40 epochs: long enough that the cancel lands while pairs remain (at 4, all six once finished first)
    path = write_sweep(tmp_path, make_config(train={"epochs": 40}), space={"model.hidden": [[8], [16], [24]]})
    runs = tmp_path / "runs"
    folder = runs / "sweeps" / "tiny"
    result = CliRunner().invoke(app, ["sweep", str(path), "--slurm", "--runs-dir", str(runs),
                                      "--array-parallelism", "2"])
    assert result.exit_code == 0, result.output
    script = str(folder / "slurm.sh")

    def submit() -> str:
        done = subprocess.run(["sbatch", "--parsable", script], env=slurm, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().split(";")[0]

    job = submit()
    slurm_wait(job, slurm, until=lambda: any(s == "completed" for *_, s in pairs(folder)) if folder.exists() else False)
    subprocess.run(["scancel", job], env=slurm, check=True)
    slurm_wait(job, slurm)
    half = pairs(folder)
    assert 1 <= sum(n for (*_, s), n in half.items() if s == "completed") < 6, half  # cancelled half-way
    slurm_wait(submit(), slurm)
    counts = pairs(folder)
    completed = Counter((p, seed) for p, seed, status in counts.elements() if status == "completed")
    assert sorted(completed.values()) == [1] * 6, counts  # every (point, seed) trained once
    assert {s for *_, s in counts} <= {"completed", "interrupted", "killed"}
    logs = "".join(p.read_text() for p in folder.glob("slurm-*.out"))
    assert "Traceback" not in logs, logs
    before = run_folders(runs)
    slurm_wait(submit(), slurm)  # a finished sweep: the array trains nothing
    assert run_folders(runs) == before


def running(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent's wait does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers follow their parent on Linux")
def test_workers_die_with_their_parent_killed_as_by_the_oom_killer(tmp_path: Path, make_config) -> None:
    path = write_sweep(tmp_path, make_config(train={"epochs": 60}), seeds=[1])
    runs = tmp_path / "runs"
    folder = runs / "sweeps" / "tiny"
    proc = sweep_cli(str(path), "--workers", "2", "--runs-dir", str(runs))
    workers: list[int] = []
    while proc.poll() is None and len(workers) < 2:
        started = [json.loads(p.read_text()) for p in folder.glob("*/summary.json")]
        workers = [s["pid"] for s in started if s["status"] == "running" and s["epochs_done"] >= 1]
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no handler runs in the parent
    proc.communicate()
    for _ in range(1500):  # a bound, not a timing
        if not any(running(pid) for pid in workers):
            break
        time.sleep(0.2)
    assert len(workers) == 2 and not any(running(pid) for pid in workers)
    assert sorted(r.status for r in read_runs([folder])) == ["interrupted", "interrupted"]  # told to stop, not lost


def read_only(runs: Path, *args: str) -> subprocess.Popen:
    """`mlcl-train sweep ARGS` with the runs folder read-only: a read-only mount for root, else its mode."""
    if os.geteuid() != 0:
        for folder, _, _ in os.walk(runs):
            os.chmod(folder, 0o555)
        return sweep_cli(*args)
    mount = f"mount --bind {runs} {runs} && mount -o remount,ro,bind {runs} && exec \"$@\""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(["unshare", "-m", "sh", "-c", mount, "sh", sys.executable, "-m", "mlcl_train", "sweep",
                             *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("done", [False, True])
def test_a_read_only_runs_folder_is_one_line(finished_copy, done: bool) -> None:
    path, runs = finished_copy
    if not done:
        runs = runs.parent / "empty"
        runs.mkdir()
    code, out, err = finish(read_only(runs, str(path), "--runs-dir", str(runs)))
    assert code == 2, err
    assert err.splitlines()[-1].startswith("error: cannot write in the sweep's folder ") and "Traceback" not in err
    assert "Read-only file system" in err or "Permission denied" in err
