"""`mlcl-train demo RUN`: a page on 127.0.0.1 where you draw a digit and watch the run's model read it.

    mlcl-train demo runs/20261127-101500-cnn --port 8000     # then open http://127.0.0.1:8000/

GET / is the page (demo.html); POST /predict takes the drawing as a PNG and answers with the
probabilities of every class and the 28x28 image the model saw, preprocessed as `predict`
does. The standard library's HTTP server; oversized or malformed requests get a 4xx.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from PIL import Image, UnidentifiedImageError

from mlcl_train.core.datasets import DATASETS
from mlcl_train.core.errors import Stopped, UserError
from mlcl_train.serve.predict import load_model, predict_images, run_dataset

MAX_BYTES = 2 * 1024 * 1024  # a 280x280 drawing is a few kB
MAX_PIXELS = 4096 * 4096  # larger pictures are refused before they are decoded


class Demo(ThreadingHTTPServer):
    """The server: the run's model, its dataset, and the page."""

    daemon_threads = True

    def __init__(self, run: Path, port: int, host: str = "127.0.0.1") -> None:
        self.dataset = run_dataset(run)
        self.model = load_model(run)
        self.lock = threading.Lock()  # one forward pass at a time
        template = (Path(__file__).parent / "demo.html").read_text(encoding="utf-8")
        page = template.replace("RUN_NAME", run.resolve().name)
        page = page.replace("CLASS_NAMES", json.dumps(list(DATASETS[self.dataset].classes)))
        self.page = page.encode("utf-8")
        try:
            super().__init__((host, port), Handler)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port} ({err.strerror}); pick another --port") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001  (socketserver's signature)
        print(f"demo: a request from {client_address[0]} failed: {sys.exc_info()[1]!r}", file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    server: Demo

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        if self.path.split("?")[0] not in ("/", "/index.html"):
            return self.answer(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}; the demo is at /"})
        self.send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/predict":
            return self.answer(HTTPStatus.NOT_FOUND, {"error": "POST the drawing to /predict"})
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self.answer(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length"})
        if int(length) > MAX_BYTES:
            return self.answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"the image is over {MAX_BYTES} bytes"})
        try:
            image = decode(self.rfile.read(int(length)))
        except ValueError as err:
            return self.answer(HTTPStatus.BAD_REQUEST, {"error": str(err)})
        with self.server.lock:
            result = predict_images(self.server.model, self.server.dataset, [image], top=10)[0]
        probs = dict(result.top)
        self.answer(HTTPStatus.OK, {
            "prediction": result.prediction,
            "probabilities": [round(probs[c], 5) for c in list(DATASETS[self.server.dataset].classes)],
            "seen": [round(float(v), 3) for v in result.seen.ravel()],
        })

    def answer(self, status: HTTPStatus, body: dict) -> None:
        self.send(status, json.dumps(body).encode(), "application/json")

    def send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (quiet: one line per stroke is noise)
        pass


def decode(data: bytes) -> Image.Image:
    """The posted bytes as a picture; ValueError (the message for a 400) when they are not one."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"the image is {image.width}x{image.height}; at most {MAX_PIXELS} pixels")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"the body is not an image Pillow can read ({type(err).__name__})") from None
    return image


def serve(run: str | Path, port: int = 8000, announce: Callable[[str], None] = print) -> None:
    """Serve the demo until Ctrl-C."""
    server = Demo(Path(run), port)
    announce(server.url)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, Stopped):  # Stopped: the command line's SIGINT/SIGTERM handler
        pass
    finally:
        server.server_close()
