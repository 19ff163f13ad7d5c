"""Hostile, careless and faulty-machine cases against predict, export, demo, own model files, the API and init.

    python benchmarks/probe_surfaces.py            # prints one line per case, then "N of M cases end clean"

Each case drives the real command line in a subprocess (`python -m mlcl_train`), the real demo
server over raw sockets, or the Python API, in a fresh temporary folder. A case ends clean when
it gives what it should: an error is one line on stderr with a non-zero exit, no traceback, no
hang, memory bounded by one item, nothing of the user's overwritten, no foreign code run.
Memory is the child's peak resident size (os.wait4's ru_maxrss, or VmHWM of the running server).
Cases that need `unshare -rm` (a read-only or full file system) say so when it is missing.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import yaml
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "mlcl_train"]
HANG = 180  # seconds after which a command counts as hanging
RESULTS: list[tuple[str, bool, str]] = []

EVIL = '''
import pathlib
import torch
from torch import nn

pathlib.Path(__file__).with_name("IMPORTED").write_text("the run's own file ran")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc1(x.flatten(1))
'''


def case(name: str) -> Callable[[Callable[[Path], str | None]], Callable[[Path], str | None]]:
    """Register a probe: it returns None when clean, else what went wrong."""
    def add(fn: Callable[[Path], str | None]) -> Callable[[Path], str | None]:
        CASES.append((name, fn))
        return fn
    return add


CASES: list[tuple[str, Callable[[Path], str | None]]] = []


def cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the command line; a hang (over HANG seconds) is exit code -999."""
    proc = subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return -999, out, err
    return proc.returncode, out, err


def peak_rss(args: list[str], cwd: Path | None = None) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in MB) of one command line process, from wait4."""
    proc = subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, usage.ru_maxrss // 1024


def one_line_error(code: int, err: str, *needles: str) -> str | None:
    """None when the command failed with one line on stderr holding every needle."""
    if code == -999:
        return "hangs"
    if code == 0:
        return f"exit 0; stderr {err.strip()[:200]!r}"
    if "Traceback" in err:
        return "traceback: " + err.strip().splitlines()[-1][:200]
    lines = err.strip().splitlines()
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {err.strip()[:300]!r}"
    missing = [n for n in needles if n not in err]
    return f"message lacks {missing}: {err.strip()[:300]!r}" if missing else None


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A small PNG whose header declares width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 4)  # a few rows; the rest is missing
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def digit(index: int = 0) -> np.ndarray:
    """A real MNIST test digit (white on black, uint8 28x28) and its label."""
    from mlcl_train.data.loader import BUNDLED, FILES, read_idx

    _, pixels = read_idx(BUNDLED / f"{FILES['test'][0]}.gz")
    _, labels = read_idx(BUNDLED / f"{FILES['test'][1]}.gz")
    return np.frombuffer(pixels[index * 784:(index + 1) * 784], np.uint8).reshape(28, 28), labels[index]


# ---------------------------------------------------------------- the runs the cases read


def make_runs(base: Path) -> dict[str, Path]:
    """A short MLP run on the bundled MNIST, a ViT's untrained run, and a received run that names evil.py:Net."""
    cfg = {"name": "mlp", "seed": 1, "device": "cpu", "data": {"train_subset": 6000},
           "model": {"name": "mlp", "hidden": [128]},
           "train": {"epochs": 2, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}}
    (base / "mlp.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = cli("train", "--config", base / "mlp.yaml", "--runs-dir", base / "runs", "--no-progress")
    assert code == 0, err
    mlp = next((base / "runs").iterdir())
    import torch

    from mlcl_train.config.loader import load_config, to_yaml
    from mlcl_train.training.engine import build_model

    vit = base / "vit-run"
    vit.mkdir()
    vit_cfg = load_config(base / "mlp.yaml", ["model.name=vit", "model.dim=16", "model.depth=1", "model.heads=2"])
    (vit / "config.yaml").write_text(to_yaml(vit_cfg))
    torch.save(build_model(vit_cfg).state_dict(), vit / "model.pt")
    evil = base / "received" / "x<img src=x onerror=alert(document.domain)>"
    evil.mkdir(parents=True)
    (evil / "evil.py").write_text(EVIL)
    evil_cfg = yaml.safe_load((mlp / "config.yaml").read_text())
    evil_cfg["model"] = {"name": "evil.py:Net"}
    (evil / "config.yaml").write_text(yaml.safe_dump(evil_cfg))
    torch.save({"fc1.weight": torch.zeros(10, 784), "fc1.bias": torch.zeros(10)}, evil / "model.pt")
    shutil.copy(mlp / "checkpoint.pt", evil / "checkpoint.pt")
    shutil.copy(mlp / "summary.json", evil / "summary.json")
    return {"mlp": mlp, "vit": vit, "evil": evil}


RUNS: dict[str, Path] = {}


def not_imported(code: int, err: str, needles: tuple[str, ...] = ("--trust-code",)) -> str | None:
    if (RUNS["evil"] / "IMPORTED").exists():
        (RUNS["evil"] / "IMPORTED").unlink()
        return "the run's own evil.py was imported"
    return one_line_error(code, err, *needles)


# ---------------------------------------------------------------- predict


@case("predict: a PNG declaring 50000x50000 pixels")
def _(tmp: Path) -> str | None:
    (tmp / "bomb.png").write_bytes(declared_png(50000, 50000))
    code, _, err = cli("predict", RUNS["mlp"], tmp / "bomb.png")
    return one_line_error(code, err, "bomb.png")


@case("predict: a FIFO as the image")
def _(tmp: Path) -> str | None:
    os.mkfifo(tmp / "pipe.png")
    code, _, err = cli("predict", RUNS["mlp"], tmp / "pipe.png")
    return one_line_error(code, err, "FIFO")


@case("predict: a folder as the image")
def _(tmp: Path) -> str | None:
    (tmp / "dir.png").mkdir()
    code, _, err = cli("predict", RUNS["mlp"], tmp / "dir.png")
    return one_line_error(code, err, "directory")


@case("predict: --save-preprocessed naming an existing file")
def _(tmp: Path) -> str | None:
    Image.fromarray(255 - digit()[0]).save(tmp / "seven.png")
    (tmp / "notes.txt").write_text("mine")
    code, _, err = cli("predict", RUNS["mlp"], tmp / "seven.png", "--save-preprocessed", tmp / "notes.txt")
    if (tmp / "notes.txt").read_text() != "mine":
        return "notes.txt was overwritten"
    return one_line_error(code, err, "--save-preprocessed")


@case("predict: same stem in two folders, --save-preprocessed keeps both")
def _(tmp: Path) -> str | None:
    for folder, index in (("a", 0), ("b", 1)):
        (tmp / folder).mkdir()
        Image.fromarray(digit(index)[0]).save(tmp / folder / "digit.png")
    code, _, err = cli("predict", RUNS["mlp"], tmp / "a/digit.png", tmp / "b/digit.png",
                          "--save-preprocessed", tmp / "seen")
    written = sorted(p.name for p in (tmp / "seen").iterdir()) if (tmp / "seen").is_dir() else []
    if code != 0 or written != ["digit-2.png", "digit.png"]:
        return f"exit {code}, wrote {written}: {err.strip()[:200]}"
    return None


@case("predict: --save-preprocessed into the images' own folder never overwrites an image")
def _(tmp: Path) -> str | None:
    Image.fromarray(digit()[0]).save(tmp / "digit.png")
    before = (tmp / "digit.png").read_bytes()
    code, _, err = cli("predict", RUNS["mlp"], tmp / "digit.png", "--save-preprocessed", tmp)
    if (tmp / "digit.png").read_bytes() != before:
        return "the image itself was overwritten"
    return one_line_error(code, err, "over the image itself")


@case("predict: blank white and black pages say no digit was found")
def _(tmp: Path) -> str | None:
    Image.new("L", (200, 200), 255).save(tmp / "white.png")
    Image.new("RGB", (200, 200), 0).save(tmp / "black.png")
    code, out, err = cli("predict", RUNS["mlp"], tmp / "white.png", tmp / "black.png")
    if code != 0 or out.count("no digit found") != 2:
        return f"exit {code}: {out.strip()[-300:]!r} {err.strip()[:200]!r}"
    return None


@case("predict: a 32-bit float TIFF of a 7 with values in [0, 1]")
def _(tmp: Path) -> str | None:
    image, label = digit(0)
    assert label == 7
    big = Image.fromarray(image).resize((112, 112), Image.Resampling.BICUBIC)
    Image.fromarray(np.asarray(big, np.float32) / 255.0, "F").save(tmp / "seven.tif")
    big.save(tmp / "seven.png")
    code, out, err = cli("predict", RUNS["mlp"], tmp / "seven.tif", tmp / "seven.png", "--format", "json")
    if code != 0:
        return f"exit {code}: {err.strip()[:200]}"
    tif, png = json.loads(out)
    return None if tif["prediction"] == png["prediction"] == "7" else f"read as {tif['prediction']}, png {png}"


@case("predict: memory does not grow with the number of files (60 of 4096x4096 vs 2)")
def _(tmp: Path) -> str | None:
    big = Image.new("RGB", (4096, 4096), "white")
    ImageDraw.Draw(big).line([(2048, 600), (2048, 3500)], fill="black", width=300)
    big.save(tmp / "big0.png")
    for i in range(1, 60):
        os.link(tmp / "big0.png", tmp / f"big{i}.png")
    code2, err2, two = peak_rss(["predict", RUNS["mlp"], *(tmp / f"big{i}.png" for i in range(2))])
    code60, err60, sixty = peak_rss(["predict", RUNS["mlp"], *(tmp / f"big{i}.png" for i in range(60))])
    note = f"peak {two} MB for 2 files, {sixty} MB for 60"
    print(f"    {note}")
    if code2 or code60:
        return f"exit {code2}/{code60}: {(err2 + err60).strip()[:200]}"
    return None if sixty - two < 100 else note


# ---------------------------------------------------------------- export


@case("export: a ViT's ONNX file takes batches of 1, 2 and 7")
def _(tmp: Path) -> str | None:
    code, _, err = cli("export", RUNS["vit"], "-o", tmp / "vit.onnx")
    if code != 0:
        return f"exit {code}: {err.strip()[-200:]}"
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp / "vit.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 2, 7):
        try:
            got = session.run(None, {"image": np.zeros((n, 1, 28, 28), np.float32)})[0]
        except Exception as err:  # onnxruntime's errors for a shape it refuses
            return f"batch {n}: {str(err).splitlines()[0]}"
        if got.shape != (n, 10):
            return f"batch {n}: output {got.shape}"
    return None


@case("export: -o naming an existing folder")
def _(tmp: Path) -> str | None:
    (tmp / "out").mkdir()
    code, _, err = cli("export", RUNS["mlp"], "-o", tmp / "out")
    return one_line_error(code, err, "is a folder")


def unshared(script: str, tmp: Path) -> tuple[int, str] | None:
    """Run a shell script in a user and mount namespace (where it may mount a tmpfs); None when that is unavailable."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        return None
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *CLI], capture_output=True, text=True,
                          env=ENV, timeout=HANG, cwd=tmp)
    return proc.returncode, proc.stderr


@case("export: -o into a read-only folder, and into a missing folder on a read-only file system")
def _(tmp: Path) -> str | None:
    (tmp / "ro").mkdir()
    problems = []
    for target in ("ro/model.onnx", "ro/missing/deeper/model.onnx"):
        got = unshared(f'mount -t tmpfs -o ro,size=1m tmpfs "{tmp}/ro" && "$@" export "{RUNS["mlp"]}" -o {target}', tmp)
        if got is None:
            return "skipped: needs unshare -rm"
        problems.append(one_line_error(*got, "cannot write"))
    return "; ".join(p for p in problems if p) or None


# ---------------------------------------------------------------- demo


class Server:
    """`mlcl-train demo RUN --port 0` in a subprocess; its URL, host and port."""

    def __init__(self, run: Path, limits: Callable[[], None] | None = None) -> None:
        self.proc = subprocess.Popen([*CLI, "demo", str(run), "--port", "0"], env=ENV, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=limits)
        line = self.proc.stdout.readline()
        if not line.startswith("Draw a digit at"):
            raise RuntimeError(line + self.proc.stderr.read())
        self.url = line.split()[4]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                timeout: float = 60) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    def rss_mb(self) -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", text)[1]) // 1024

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


SERVER: list[Server] = []


def demo() -> Server:
    if not SERVER:
        SERVER.append(Server(RUNS["mlp"]))
    return SERVER[0]


@case("demo: another Host (DNS rebinding) is refused")
def _(tmp: Path) -> str | None:
    status, _ = demo().request("GET", "/", headers={"Host": f"evil.example:{demo().port}"})
    ok, _ = demo().request("GET", "/", headers={"Host": f"localhost:{demo().port}"})
    return None if status == 403 and ok == 200 else f"evil Host: {status}, localhost: {ok}"


@case("demo: a cross-origin text/plain POST is refused before it is decoded")
def _(tmp: Path) -> str | None:
    body = png_bytes(Image.new("L", (280, 280), 255))
    host = f"127.0.0.1:{demo().port}"
    status, _ = demo().request("POST", "/predict", body, {"Content-Type": "text/plain", "Origin": "http://evil.example",
                                                          "Host": host})
    plain, _ = demo().request("POST", "/predict", body, {"Content-Type": "text/plain", "Host": host})
    return None if status == 403 and plain == 415 else f"foreign Origin: {status}, text/plain: {plain}"


@case("demo: a run folder named x<img src=x onerror=...> is escaped in the page")
def _(tmp: Path) -> str | None:
    run = tmp / "x<img src=x onerror=alert(document.domain)>"
    shutil.copytree(RUNS["mlp"], run)
    server = Server(run)
    try:
        status, page = server.request("GET", "/")
    finally:
        server.stop()
    text = page.decode()
    if status != 200 or "<img" in text or "&lt;img src=x onerror=alert(document.domain)&gt;" not in text:
        return f"status {status}; unescaped: {'<img' in text}"
    return None


@case("demo: Content-Length: \u00b2 gets a 400")
def _(tmp: Path) -> str | None:
    answer = demo().raw(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{demo().port}\r\nContent-Type: image/png\r\n"
                        "Content-Length: \u00b2\r\n\r\n".encode())
    return None if answer.startswith(b"HTTP/1.0 400") else f"answer {answer[:40]!r}"


@case("demo: --port 70000 and --port -1 are one line")
def _(tmp: Path) -> str | None:
    problems = [one_line_error(*cli("demo", RUNS["mlp"], "--port", port)[::2], "--port") for port in ("70000", "-1")]
    return "; ".join(p for p in problems if p) or None


@case("demo: 30 parallel POSTs of a PNG decoding to 4096x4096, and of 1024x1024 drawings")
def _(tmp: Path) -> str | None:
    server = Server(RUNS["mlp"])  # its own: the peak of this case alone
    try:
        before = server.rss_mb()
        host = {"Host": f"127.0.0.1:{server.port}", "Content-Type": "image/png"}
        bomb = png_bytes(Image.new("L", (4096, 4096), 255))
        drawing = Image.new("RGB", (1024, 1024), "white")
        ImageDraw.Draw(drawing).line([(512, 100), (512, 900)], fill="black", width=60)
        allowed = png_bytes(drawing)
        statuses: list[int] = []

        def send(body: bytes) -> None:
            statuses.append(server.request("POST", "/predict", body, host)[0])

        for body in (bomb, allowed):
            threads = [threading.Thread(target=send, args=(body,)) for _ in range(30)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        grown = server.rss_mb() - before
    finally:
        server.stop()
    print(f"    peak memory grew by {grown} MB ({before} MB before)")
    if statuses.count(400) != 30 or statuses.count(200) != 30:
        return f"statuses {sorted(set(statuses))}: {statuses.count(400)} x 400, {statuses.count(200)} x 200"
    return None if grown < 300 else f"peak memory grew by {grown} MB"


@case("demo: 65 stalled clients under ulimit -n 64; a new visitor is served, the CPU idles")
def _(tmp: Path) -> str | None:
    server = Server(RUNS["mlp"], limits=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    stalled = []
    try:
        for _ in range(65):
            stalled.append(socket.create_connection(("127.0.0.1", server.port), timeout=60))
            stalled[-1].sendall(b"GET / HTTP/1.1\r\n")  # and nothing more
        cpu, start = server.cpu_seconds(), time.monotonic()
        status, page = server.request("GET", "/", headers={"Host": f"127.0.0.1:{server.port}"}, timeout=120)
        used, took = server.cpu_seconds() - cpu, time.monotonic() - start
    finally:
        for sock in stalled:
            sock.close()
        server.stop()
    print(f"    the visitor waited {took:.1f} s; the server used {used:.2f} s of CPU meanwhile")
    if status != 200:
        return f"status {status}"
    return None if used < 0.5 * took + 0.5 else f"the server spun: {used:.1f} s CPU in {took:.1f} s"


# ---------------------------------------------------------------- own model files, the API


@case("predict on a received run naming evil.py:Net does not import it")
def _(tmp: Path) -> str | None:
    Image.fromarray(digit()[0]).save(tmp / "d.png")
    code, _, err = cli("predict", RUNS["evil"], tmp / "d.png")
    return not_imported(code, err)


@case("export of a received run naming evil.py:Net does not import it")
def _(tmp: Path) -> str | None:
    code, _, err = cli("export", RUNS["evil"], "-o", tmp / "m.onnx")
    return not_imported(code, err)


@case("resume of a received run naming evil.py:Net does not import it")
def _(tmp: Path) -> str | None:
    run = shutil.copytree(RUNS["evil"], tmp / "run")
    code, _, err = cli("resume", run, "--epochs", "3", "--no-progress")
    if (run / "IMPORTED").exists():
        return "the run's own evil.py was imported"
    return one_line_error(code, err, "--trust-code")


@case("demo of a received run naming evil.py:Net does not import it")
def _(tmp: Path) -> str | None:
    code, _, err = cli("demo", RUNS["evil"], "--port", "0")
    return not_imported(code, err)


@case("eval of a received run resolves evil.py against the run folder, and does not import it")
def _(tmp: Path) -> str | None:
    code, _, err = cli("eval", RUNS["evil"], "-o", tmp / "eval", cwd=tmp)
    return not_imported(code, err, ("--trust-code", str(RUNS["evil"] / "evil.py")))


@case("load_run(received).net does not import evil.py")
def _(tmp: Path) -> str | None:
    code = ("from mlcl_train import load_run\nfrom mlcl_train.core.errors import UserError\n"
            f"try:\n    load_run({str(RUNS['evil'])!r}).net\nexcept UserError as err:\n    print(err)\n"
            "else:\n    print('loaded')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=HANG)
    if (RUNS["evil"] / "IMPORTED").exists():
        (RUNS["evil"] / "IMPORTED").unlink()
        return "the run's own evil.py was imported"
    return None if "trust_code=True" in proc.stdout else f"{proc.stdout.strip()[:200]} {proc.stderr.strip()[-200:]}"


@case("predict --trust-code on the received run imports it, as asked")
def _(tmp: Path) -> str | None:
    Image.fromarray(digit()[0]).save(tmp / "d.png")
    code, out, err = cli("predict", RUNS["evil"], tmp / "d.png", "--trust-code")
    imported = (RUNS["evil"] / "IMPORTED").exists()
    (RUNS["evil"] / "IMPORTED").unlink(missing_ok=True)
    return None if code == 0 and imported else f"exit {code}, imported {imported}: {err.strip()[:200]}"


@case("a model file that raises SystemExit(0) is one line and a non-zero exit")
def _(tmp: Path) -> str | None:
    (tmp / "quits.py").write_text("raise SystemExit(0)\n")
    cfg = yaml.safe_load((RUNS["mlp"] / "config.yaml").read_text())
    cfg["model"] = {"name": "quits.py:Net"}
    (tmp / "quits.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = cli("train", "--config", tmp / "quits.yaml", "--runs-dir", tmp / "runs", "--no-progress")
    return one_line_error(code, err, "SystemExit")


@case('train("mlp_deep", {1: 2}) is one clear error')
def _(tmp: Path) -> str | None:
    code = ("from mlcl_train import train\nfrom mlcl_train.core.errors import UserError\n"
            "try:\n    train('mlp_deep', {1: 2})\nexcept UserError as err:\n    print('UserError:', err)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=HANG,
                          cwd=tmp)
    return None if proc.stdout.startswith("UserError: config key 1") else proc.stdout + proc.stderr[-300:]


# ---------------------------------------------------------------- init


@case("init: configs/mlp_deep.yaml is a directory")
def _(tmp: Path) -> str | None:
    (tmp / "configs" / "mlp_deep.yaml").mkdir(parents=True)
    return one_line_error(*cli("init", tmp)[::2], "mlp_deep.yaml", "directory")


@case("init: configs/mlp_deep.yaml is a FIFO")
def _(tmp: Path) -> str | None:
    (tmp / "configs").mkdir()
    os.mkfifo(tmp / "configs" / "mlp_deep.yaml")
    return one_line_error(*cli("init", tmp)[::2], "mlp_deep.yaml", "FIFO")


@case("init --force never writes through a symlink to a file outside the folder")
def _(tmp: Path) -> str | None:
    outside = tmp / "outside.txt"
    outside.write_text("precious")
    (tmp / "course" / "configs").mkdir(parents=True)
    (tmp / "course" / "configs" / "mlp_deep.yaml").symlink_to(outside)
    code, _, err = cli("init", tmp / "course", "--force")
    if outside.read_text() != "precious":
        return "the file outside was overwritten"
    link = tmp / "course" / "configs" / "mlp_deep.yaml"
    return None if code == 0 and not link.is_symlink() else f"exit {code}: {err.strip()[:200]}"


@case("init on a full disk leaves no empty config that the next init keeps")
def _(tmp: Path) -> str | None:
    (tmp / "disk").mkdir()
    script = (f'mount -t tmpfs -o size=24k tmpfs "{tmp}/disk" && "$@" init "{tmp}/disk/course"; code=$?; '
              f'find "{tmp}/disk" -type f -empty; exit $code')
    got = unshared(script, tmp)
    if got is None:
        return "skipped: needs unshare -rm"
    code, err = got
    lines = err.strip().splitlines()
    empty = [line for line in lines if line.startswith("/")]
    if empty:
        return f"empty files left: {empty[:3]}"
    return one_line_error(code, "\n".join(line for line in lines if not line.startswith("/")), "No space left")


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="mlcl-probe-"))
    ENV["XDG_DATA_HOME"] = str(base / "data")  # the list of known model files: this probe's own
    os.environ["XDG_DATA_HOME"] = ENV["XDG_DATA_HOME"]
    try:
        RUNS.update(make_runs(base))
        for number, (name, probe) in enumerate(CASES, 1):
            tmp = base / f"case{number}"
            tmp.mkdir()
            try:
                problem = probe(tmp)
            except Exception as err:  # a probe that breaks is a case that did not end clean
                problem = f"the probe failed: {type(err).__name__}: {err}"
            RESULTS.append((name, problem is None, problem or ""))
            print(f"{'clean' if problem is None else 'FAIL '}  {name}" + (f"\n       {problem}" if problem else ""),
                  flush=True)
    finally:
        for server in SERVER:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    clean = sum(ok for _, ok, _ in RESULTS)
    print(f"{clean} of {len(RESULTS)} cases end clean")
    return 0 if clean == len(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
