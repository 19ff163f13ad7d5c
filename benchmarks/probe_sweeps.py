"""Replay hostile and careless inputs to `mlcl-train sweep` and count the cases that end clean.

    python benchmarks/probe_sweeps.py            # prints one line per case, then "N of M cases end clean"

Clean: a refusal is one `error:` line on stderr, a non-zero exit and no traceback, within 60 s; a case that
must succeed exits 0. Trains one tiny sweep (2 points x 1 seed, 1 epoch on 500 images) to damage copies of.
The concurrent, killed-process and Slurm cases need servers and minutes: they are in tests/test_sweep.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
BASE = ROOT / "configs" / "mlp_deep.yaml"


def sweep(*args: str) -> tuple[int | None, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "mlcl_train", "sweep", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, "", "hung past 60 s"
    return done.returncode, done.stdout, done.stderr


def refused(result: tuple[int | None, str, str], words: str) -> bool:
    code, _, err = result
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    return code not in (0, None) and len(lines) == 1 and words in lines[0] and "Traceback" not in err


def write(folder: Path, name: str, **fields) -> Path:
    data = {"name": name, "base": str(BASE), "seeds": [1], "set": {"train.epochs": 1, "data.train_subset": 500},
            "space": {"model.hidden": [[8], [16]]}, **fields}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="probe_sweeps_"))
    base = write(tmp, "base")
    runs = tmp / "runs"
    assert sweep(str(base), "--runs-dir", str(runs))[0] == 0, "the tiny sweep did not train"
    huge = write(tmp, "huge", space={k: list(range(1, 1001)) for k in ("train.batch_size", "train.epochs",
                                                                       "eval.batch_size")})
    million = write(tmp, "million", space={k: list(range(1, 1001)) for k in ("train.batch_size", "train.epochs")})
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: [listener.accept() for _ in range(3)], daemon=True).start()
    silent = f"postgresql://u@127.0.0.1:{listener.getsockname()[1]}/db"

    def damaged(how) -> tuple[int | None, str, str]:
        copy = tmp / f"copy{len(list(tmp.glob('copy*')))}"
        shutil.copytree(runs, copy)
        how(copy / "sweeps" / "base" / "optuna.journal")
        return sweep(str(base), "--runs-dir", str(copy))

    def changed(**fields) -> tuple[int | None, str, str]:
        other = tmp / "other"
        other.mkdir(exist_ok=True)
        return sweep(str(write(other, "base", **fields)), "--runs-dir", str(runs))

    def emptied() -> bool:
        code, out, err = damaged(lambda j: j.write_bytes(b""))
        copy = sorted(tmp.glob("copy*"))[-1] / "sweeps" / "base"
        return code == 0 and "not trained again" in err and len(list(copy.glob("*-base-*"))) == 2

    def read_only() -> tuple[int | None, str, str]:
        if os.geteuid() != 0:
            os.chmod(runs / "sweeps" / "base", 0o555)
            return sweep(str(base), "--runs-dir", str(runs))
        ro = f"mount --bind {runs} {runs} && mount -o remount,ro,bind {runs} && exec \"$@\""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(["unshare", "-m", "sh", "-c", ro, "sh", sys.executable, "-m", "mlcl_train", "sweep",
                               str(base), "--runs-dir", str(runs)], cwd=ROOT, env=env, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr

    cases = {
        "a 10^9-point grid, --dry-run": lambda: refused(sweep(str(huge), "--dry-run"), "is more than 10,000"),
        "a 10^9-point grid, --status": lambda: refused(sweep(str(huge), "--status"), "is more than 10,000"),
        "a 10^6-point grid, training": lambda: refused(sweep(str(million)), "is more than 10,000"),
        "--page past the end": lambda: sweep(str(base), "--dry-run", "--page", "99")[0] == 0,
        "--page 0": lambda: refused(sweep(str(base), "--dry-run", "--page", "0"), "--page"),
        "a server that accepts and never answers": lambda: refused(sweep(str(base), "--storage", silent,
                                                                         "--runs-dir", str(tmp / "r2")), "timeout"),
        "the same name, other keys": lambda: refused(changed(space={"model.activation": ["relu"]}), "the keys"),
        "the same name, other values": lambda: refused(changed(space={"model.hidden": [[8], [32]]}), "model.hidden"),
        "the same name, another metric": lambda: refused(changed(metric="test_loss"), "metric"),
        "the same name, random search": lambda: refused(changed(method="random", trials=2), "method"),
        "journal: garbage in the middle": lambda: refused(damaged(
            lambda j: j.write_bytes(j.read_bytes().replace(b"\n", b"\n{oops\n", 1))), "is damaged"),
        "journal: a PNG": lambda: refused(damaged(lambda j: j.write_bytes(b"\x89PNG\r\n\x1a\n\x00IHDR\xff\n")),
                                          "is damaged"),
        "journal: binary": lambda: refused(damaged(lambda j: j.write_bytes(bytes(range(256)) * 4)), "is damaged"),
        "journal: JSON, not Optuna's": lambda: refused(damaged(lambda j: j.write_bytes(b'{"a": 1}\n[2]\n')),
                                                       "is damaged"),
        "journal: a folder": lambda: refused(damaged(lambda j: (j.unlink(), j.mkdir())), "is a folder"),
        "journal: emptied, run folders kept": emptied,
        "a read-only runs folder, finished sweep": lambda: refused(read_only(), "cannot write"),
    }
    clean = 0
    for name, case in cases.items():
        ok = case()
        clean += ok
        print(f"{'clean' if ok else 'NOT CLEAN':9}  {name}")
    print(f"{clean} of {len(cases)} cases end clean")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
