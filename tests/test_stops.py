"""Runs that stop early, through the real CLI in subprocesses: signals at any moment, the run-folder
lock, a stdout closed early, a full disk. Each stop must leave a whole run folder, or none."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.runs.store import is_locked, read_csv, read_run

pytestmark = pytest.mark.slow  # subprocesses, a browser, a kernel or a build

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "mlcl_train"]


def start(cfg: Path, runs: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "--config", str(cfg), "--runs-dir", str(runs), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    """The rest of stdout (communicate() would skip what readline() buffered) and stderr, once it ends."""
    out, err = proc.stdout.read(), proc.stderr.read()  # stderr stays small: no progress bars off a terminal
    proc.wait(timeout=120)
    return out, err


def check_whole(runs: Path, out: str) -> Path | None:
    """The folder an interrupted run left is whole: an interrupted summary that agrees with every file."""
    folders = list(runs.iterdir()) if runs.exists() else []
    if not folders:
        return None
    (run,) = folders
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    done = summary["epochs_done"]
    assert len(read_csv(run / "metrics.csv")) == done
    assert (run / "log.txt").read_text() == out  # every printed line is logged, and nothing more
    assert out.count("[Test Result]") == done  # a printed epoch is a committed one
    if done:
        assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == done
        assert f"Resume with: mlcl-train resume {run}" in out
    else:
        assert not (run / "checkpoint.pt").exists() and "nothing to resume. Start it again with" in out
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert not is_locked(run)
    return run


def interrupt_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)  # the handler runs within this sleep: the interpreter checks for signals between steps


def test_the_stop_passes_through_except_exception_and_waits_in_deferred_blocks() -> None:
    from mlcl_train.core import signals
    from mlcl_train.core.errors import Stopped

    with pytest.raises(Stopped) as stop, signals.installed():
        try:  # as tqdm guards its monitor thread's start
            interrupt_self()
        except Exception:
            pass
    assert stop.value.exit_code == 130
    steps = []
    with pytest.raises(Stopped), signals.installed():
        with signals.deferred():
            interrupt_self()
            steps.append("finished")
            interrupt_self()  # while a stop waits, another signal adds nothing
        steps.append("after the block")
    assert steps == ["finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_worker_thread_does_not_hold_signals_back() -> None:
    """Training in a thread (a sweep's worker) must not defer the main thread's Ctrl-C."""
    import threading

    from mlcl_train.core import signals
    from mlcl_train.core.errors import Stopped

    inside, leave = threading.Event(), threading.Event()

    def work() -> None:
        signals.hold()
        with signals.deferred():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=work)
    with pytest.raises(Stopped), signals.installed():
        worker.start()
        inside.wait(10)
        try:
            interrupt_self()
        finally:
            leave.set()
            worker.join()


def test_signals_at_any_moment_exit_130_or_143_with_a_whole_run_folder(tmp_path: Path, make_config) -> None:
    """Signals during start-up (imports, data, the folder being made) and at epoch boundaries, in a loop of tries.

    A signal right after `[Test Result]` finds that epoch committed: a printed epoch is never lost."""
    cfg = make_config()
    seen = set()
    tries = [0.3, 1.0, ("[Test Result]", 1), ("=====", 2), ("Train Loss", 3), ("[Test Result]", 4)]
    for i, when in enumerate(tries):
        sig = (signal.SIGINT, signal.SIGTERM)[i % 2]
        runs = tmp_path / f"runs{i}"
        proc = start(cfg, runs, "--set", "train.epochs=1000")
        head = []
        if isinstance(when, float):
            time.sleep(when)
        else:  # right after the n-th line that starts so
            while sum(line.startswith(when[0]) for line in head) < when[1]:
                head.append(proc.stdout.readline())
        proc.send_signal(sig)
        out, err = finish(proc)
        assert "Traceback" not in err and "Aborted" not in err, err
        if proc.returncode == -sig:  # before Python ran mlcl-train's first line: ended by the signal itself
            assert (out, err) == ("", "") and not runs.exists()  # (a shell shows 128 + signal here too)
            continue
        assert proc.returncode == 128 + sig, (when, err)
        run = check_whole(runs, "".join(head) + out)
        seen.add("folder" if run else "none")
        if not isinstance(when, float) and when[0] == "[Test Result]":
            assert read_run(run).epochs >= when[1]
    assert "folder" in seen


def test_a_signal_the_moment_an_epoch_is_printed_finds_it_saved(tmp_path: Path, make_config, monkeypatch) -> None:
    """A real SIGINT, sent by the process to itself as `[Test Result]` reaches stdout (as on a busy machine)."""
    import mlcl_train.runs.store as runs_module

    printed = runs_module.echo

    def echo_then_interrupt(line: str) -> None:
        printed(line)
        if line.startswith("[Test Result]"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(runs_module, "echo", echo_then_interrupt)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["train", "--config", str(make_config()), "--runs-dir", str(runs),
                                      "--set", "train.epochs=5"])
    assert result.exit_code == 130, result.output
    record = read_run(next(runs.iterdir()))
    assert result.stdout.count("[Test Result]") == 1
    assert record.status == "interrupted" and record.epochs == 1 and len(record.metrics) == 1


def test_a_second_process_cannot_train_in_a_run_folder(tmp_path: Path, make_config) -> None:
    """While a run trains it holds its folder's lock: a resume gets one line and changes nothing."""
    runs = tmp_path / "runs"
    proc = start(make_config(), runs, "--set", "train.epochs=1000")
    for _ in range(6):
        proc.stdout.readline()
    run = next(runs.iterdir())
    assert is_locked(run) and read_run(run).status == "running"
    second = CliRunner().invoke(app, ["resume", str(run), "--epochs", "2000"])
    assert second.exit_code == 2
    assert second.stderr == (f"error: {run} is in use by another mlcl-train process (pid {proc.pid}); "
                             "wait for it to end or stop it\n")
    proc.send_signal(signal.SIGTERM)
    finish(proc)
    assert proc.returncode == 143
    epochs = [int(r["epoch"]) for r in read_csv(run / "metrics.csv")]
    assert epochs == list(range(1, len(epochs) + 1))
    assert "Resuming" not in (run / "log.txt").read_text()


def test_resume_after_an_interrupt_before_the_first_epoch_says_to_start_again(tmp_path: Path, make_config) -> None:
    runs = tmp_path / "runs"
    slow = make_config(model={"name": "mlp", "hidden": [2048, 2048]}, train={"batch_size": 4})  # ~1 s an epoch
    proc = start(slow, runs)
    proc.stdout.readline()  # "Run ... | model ...": the folder is there, the first epoch is not done
    proc.send_signal(signal.SIGINT)
    out, _ = finish(proc)
    run = next(runs.iterdir())
    assert read_run(run).epochs == 0
    config = run / "config.yaml"
    assert f"Interrupted (SIGINT) before the first epoch ended; nothing to resume. Start it again with: " \
           f"mlcl-train --config {config}" in out
    again = CliRunner().invoke(app, ["resume", str(run)])
    assert again.exit_code == 2
    assert f"start it again with: mlcl-train --config {config}" in again.stderr


def test_a_closed_stdout_does_not_stop_the_run(tmp_path: Path, make_config) -> None:
    """`mlcl-train --config X | head -1`: the pipe closes, the run goes on and logs to log.txt only."""
    runs = tmp_path / "runs"
    proc = start(make_config(), runs, "--set", "train.epochs=4")
    assert proc.stdout.readline().startswith("Run ")
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert err == ""
    run = read_run(next(runs.iterdir()))
    assert run.status == "completed" and run.epochs == 4
    assert (run.path / "log.txt").read_text().splitlines()[-1].startswith(f"Done: {run.path}")


def unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not unshare_works() and os.environ.get("CI") != "true",
                    reason="needs `unshare -rm` (a user and mount namespace) to mount a small tmpfs")
def test_a_full_disk_marks_the_run_failed_and_leaves_no_temporary_files(tmp_path: Path, make_config) -> None:
    """--runs-dir on a real 192 KB filesystem: the first checkpoint (about 400 KB) does not fit."""
    cfg = make_config(model={"name": "mlp", "hidden": [128]})
    disk, copy = tmp_path / "disk", tmp_path / "copy"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=192k tmpfs "{disk}" && '
              f'"$@" --config "{cfg}" --runs-dir "{disk}/runs"; code=$?; cp -a "{disk}/runs" "{copy}"; exit $code')
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *CLI], capture_output=True, text=True,
                            env=ENV)
    assert result.returncode == 1, result.stderr
    (run,) = copy.iterdir()
    there = disk / "runs" / run.name
    assert result.stderr == (f"error: no space left on device in {there}; the run is marked failed; free some "
                             f"space, then start it again with: mlcl-train --config {there / 'config.yaml'}\n")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "no space left on device (writing checkpoint.pt)"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "config.yaml", "log.txt", "summary.json"]
