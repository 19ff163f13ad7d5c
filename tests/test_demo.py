"""`mlcl-train demo`: the page's server answers drawings and refuses bad requests; the page works in a real browser."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
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
from mlcl_train.serve.demo import MAX_BYTES, Demo

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
    assert proc.returncode == 0 and out.strip() == "stopped" and "Traceback" not in err


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
