"""`mlcl-train demo`: the page's server answers drawings and refuses bad requests; the page works in a real browser."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.serve.demo import CONNECTIONS, MAX_BYTES, Demo

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLP trained here, 2 epochs on 6,000 images of the bundled MNIST."""
    base = tmp_path_factory.mktemp("demo")
    cfg = {"seed": 1, "device": "cpu", "data": {"train_subset": 6000}, "model": {"name": "mlp", "hidden": [128]},
           "train": {"epochs": 2, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}}
    (base / "digits.yaml").write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["train", "--config", str(base / "digits.yaml"), "--runs-dir", str(base / "runs"),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    return next((base / "runs").iterdir())


@pytest.fixture(scope="module")
def server(digit_run):
    demo = Demo(digit_run, 0)
    thread = threading.Thread(target=demo.serve_forever, daemon=True)
    thread.start()
    yield demo
    demo.shutdown()
    demo.server_close()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "image/png", **(headers or {})}  # what the page sends
    request = urllib.request.Request(url + "predict", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.slow
def test_the_page_and_a_drawing_are_answered(server):
    with urllib.request.urlopen(server.url) as response:
        page = response.read().decode()
    assert response.status == 200 and '<canvas id="pad"' in page and '["0", "1", "2"' in page
    drawing = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(drawing).line([(140, 40), (140, 240)], fill=0, width=18)  # a vertical stroke
    status, answer = post(server.url, png(drawing))
    assert status == 200 and answer["prediction"] == "1"
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-3
    assert len(answer["seen"]) == 784 and max(answer["seen"]) == 1.0


@pytest.mark.parametrize("body, headers, status", [
    (b"not a picture", {}, 400),
    (b"", {}, 400),
    (b"x", {"Content-Length": str(MAX_BYTES + 1)}, 413),
])
def test_malformed_or_oversized_requests_get_a_4xx(server, body, headers, status):
    import http.client

    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port)
    headers = {"Content-Length": str(len(body)), "Content-Type": "image/png", **headers}
    connection.request("POST", "/predict", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == status and "error" in json.loads(response.read())
    connection.close()


def test_unknown_paths_are_404(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url + "etc/passwd")
    assert err.value.code == 404


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_cleanly(digit_run):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "mlcl_train", "demo", str(digit_run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert line.startswith("Draw a digit at http://127.0.0.1:"), line + proc.stderr.read()
    url = line.split()[4]
    with urllib.request.urlopen(url) as response:
        assert response.status == 200
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "stopped" and "Traceback" not in err, (proc.returncode, out, err)


def test_a_port_in_use_is_one_line(server, digit_run):
    result = CliRunner().invoke(app, ["demo", str(digit_run), "--port", str(server.server_address[1])])
    assert result.exit_code == 2 and "pick another --port" in result.stderr


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver; skipped without them, a failure when CI=true."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"the browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = Path(__import__("tempfile").mkdtemp(prefix="mlcl-chromium-"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1000,600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def draw(driver, points: list[tuple[int, int]]) -> str:
    """Draw one stroke through `points` (offsets from the canvas's centre) with the mouse; the page's answer."""
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "clear").click()
    pad = driver.find_element(By.ID, "pad")
    answers = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-answers"))
    actions = ActionChains(driver, duration=10).move_to_element_with_offset(pad, *points[0]).click_and_hold()
    for x, y in points[1:]:
        actions.move_to_element_with_offset(pad, x, y)
    actions.release().perform()
    body = driver.find_element(By.TAG_NAME, "body")
    WebDriverWait(driver, 30).until(
        lambda d: body.get_attribute("data-state") == "idle" and int(body.get_attribute("data-answers")) > answers)
    return driver.find_element(By.ID, "prediction").text


@pytest.mark.slow
def test_the_page_reads_strokes_drawn_with_the_mouse(server, browser, tmp_path):
    browser.get(server.url)
    vertical = [(0, y) for y in range(-90, 91, 15)]
    turns = [t / 24 * 2 * math.pi for t in range(25)]
    loop = [(round(55 * math.sin(a)), round(-85 * math.cos(a))) for a in turns]
    assert draw(browser, vertical) == "1"
    assert draw(browser, loop) == "0"
    from selenium.webdriver.common.by import By

    bars = browser.find_elements(By.CSS_SELECTOR, ".bar.top .name")
    assert [b.text for b in bars] == ["0"]  # the bar of the prediction is highlighted
    browser.save_screenshot(str(tmp_path / "demo.png"))
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- hostile requests


def raw(server, data: bytes) -> bytes:
    """Send bytes on a fresh connection; everything the server answers before it closes the connection."""
    import socket

    with socket.create_connection(server.server_address[:2], timeout=60) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def drawing_png() -> bytes:
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=0, width=18)
    return png(image)


@pytest.mark.parametrize("host, status", [("evil.example:{port}", 403), ("127.0.0.1:1", 403), (None, 403),
                                          ("localhost:{port}", 200), ("127.0.0.1:{port}", 200)])
def test_only_the_demos_own_host_is_answered(server, host, status):
    port = server.server_address[1]
    header = "" if host is None else f"Host: {host.format(port=port)}\r\n"
    answer = raw(server, f"GET / HTTP/1.1\r\n{header}Connection: close\r\n\r\n".encode())
    assert answer.startswith(f"HTTP/1.0 {status}".encode()), answer[:60]


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403),  # a cross-site "simple" POST
    ({"Content-Type": "text/plain"}, 415),
    ({"Origin": "http://evil.example"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Origin": "http://localhost:{port}", "Sec-Fetch-Site": "same-origin"}, 200),  # the page itself
])
def test_drawings_are_taken_only_from_the_demos_own_page(server, headers, status):
    port = server.server_address[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    assert post(server.url, drawing_png(), headers)[0] == status


def test_a_content_length_that_is_no_ascii_number_gets_a_400(server):
    port = server.server_address[1]
    answer = raw(server, f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
                         "Content-Length: \u00b2\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 400") and b"Content-Length must be a number" in answer


def test_a_picture_over_the_pixel_limit_is_refused_before_it_is_decoded(server):
    status, answer = post(server.url, png(Image.new("L", (4096, 4096), 255)))
    assert status == 400 and "4096x4096" in answer["error"]


def test_the_run_folders_name_is_escaped_in_the_page(digit_run, tmp_path):
    run = shutil.copytree(digit_run, tmp_path / "x<img src=x onerror=alert(document.domain)>")
    demo = Demo(run, 0)
    try:
        page = demo.page.decode()
    finally:
        demo.server_close()
    assert "<img" not in page and "model of x&lt;img src=x onerror=alert(document.domain)&gt;" in page
    assert f'<script nonce="{demo.nonce}">' in page  # and the policy runs no script without the nonce


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_one_line(digit_run, port):
    result = CliRunner().invoke(app, ["demo", str(digit_run), "--port", port])
    assert result.exit_code == 2 and "--port" in result.stderr and len(result.stderr.splitlines()) == 1


class DemoProcess:
    """`mlcl-train demo RUN --port 0` in a subprocess, optionally with a file-descriptor limit."""

    def __init__(self, run: Path, fds: int | None = None) -> None:
        import resource

        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (fds, fds))) if fds else None
        self.proc = subprocess.Popen([sys.executable, "-m", "mlcl_train", "demo", str(run), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     preexec_fn=limit)
        line = self.proc.stdout.readline()
        assert line.startswith("Draw a digit at"), line + self.proc.stderr.read()
        self.url = line.split()[4]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def peak_mb(self) -> int:
        return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{self.proc.pid}/status").read_text())[1]) // 1024

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=60)


@pytest.mark.slow
def test_parallel_large_pictures_keep_the_servers_memory_bounded(digit_run):
    """30 parallel POSTs of a 1024x1024 drawing (the largest taken): two decode at a time."""
    server = DemoProcess(digit_run)
    try:
        before = server.peak_mb()
        image = Image.new("RGB", (1024, 1024), "white")
        ImageDraw.Draw(image).line([(512, 100), (512, 900)], fill="black", width=60)
        body, statuses = png(image), []
        threads = [threading.Thread(target=lambda: statuses.append(post(server.url, body)[0])) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        grown = server.peak_mb() - before
    finally:
        server.stop()
    print(f"peak memory grew by {grown} MB over 30 parallel 1024x1024 drawings")
    assert statuses == [200] * 30
    assert grown < 200  # 30 decodes at once (no limit) grow it by about 1 GB


@pytest.mark.slow
def test_stalled_clients_beyond_the_fd_limit_leave_the_server_serving_and_idle(digit_run):
    """65 clients that send half a request line, under `ulimit -n 64`: a new visitor still gets the page."""
    import http.client
    import socket

    server = DemoProcess(digit_run, fds=64)
    stalled = []
    try:
        for _ in range(65):
            stalled.append(socket.create_connection(("127.0.0.1", server.port), timeout=60))
            stalled[-1].sendall(b"GET / HTTP/1.1\r\n")
        cpu = server.cpu_seconds()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and b'<canvas id="pad"' in response.read()
        connection.close()
        used = server.cpu_seconds() - cpu
    finally:
        for sock in stalled:
            sock.close()
        server.stop()
    print(f"the server used {used:.2f} s of CPU while the visitor waited")
    assert used < 2.0  # an accept loop spinning on EMFILE burns all of it


def test_a_connection_closed_twice_frees_its_slot_once(digit_run):
    """Ctrl-C while a request's thread starts: socketserver closes the connection, then the thread does too."""
    demo = Demo(digit_run, 0)
    try:
        client = socket.create_connection(demo.server_address)
        sock, _ = demo.get_request()
        demo.shutdown_request(sock)
        demo.shutdown_request(sock)  # was: ValueError, Semaphore released too many times
        client.close()
        assert demo.slots._value == CONNECTIONS
    finally:
        demo.server_close()
