"""`mlcl-train demo RUN`: a page on 127.0.0.1 where you draw a digit and watch the run's model read it.

    mlcl-train demo runs/20261127-101500-cnn --port 8000     # then open http://127.0.0.1:8000/

GET / is the page (demo.html); POST /predict takes the drawing as a PNG and answers with the
probabilities of every class and the 28x28 image the model saw, preprocessed as `predict`
does. The standard library's HTTP server, hardened for a page any website could try to reach:
only requests for its own Host (127.0.0.1:PORT, localhost:PORT) from its own page are answered
(no DNS rebinding, no cross-site POST), what the page shows is escaped, slow clients time out,
connections and image decodes in flight are bounded, and oversized or malformed requests get a 4xx.
"""

from __future__ import annotations

import contextlib
import errno
import html
import io
import json
import re
import secrets
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from PIL import Image

from mlcl_train.core.datasets import DATASETS
from mlcl_train.core.errors import Stopped, UserError
from mlcl_train.serve.predict import decode as decode_image
from mlcl_train.serve.predict import load_model, predict_images, run_dataset

MAX_BYTES = 2 * 1024 * 1024  # a 280x280 drawing is a few kB
MAX_PIXELS = 1024 * 1024  # the page sends 280x280; larger pictures are refused before they are decoded
DECODES = 2  # pictures decoded at once: memory stays that of two, however many requests arrive
CONNECTIONS = 32  # connections served at once; more wait in the listen queue (never out of file descriptors)
TIMEOUT = 10  # seconds a client may take for each read or write before its connection is closed
DEADLINE = 30  # seconds a connection may last in all


class Demo(ThreadingHTTPServer):
    """The server: the run's model, its dataset, and the page."""

    daemon_threads = False  # server_close joins them: no request is cut off mid-way when the process ends
    request_queue_size = 128  # connections the kernel holds while every slot is busy

    def __init__(self, run: Path, port: int, host: str = "127.0.0.1", trust_code: bool = False) -> None:
        if not 0 <= port <= 65535:
            raise UserError(f"--port {port}: a port is a number from 1 to 65535 (0: any free port)")
        self.dataset = run_dataset(run, trust_code)
        self.model = load_model(run, trust_code=trust_code)
        self.lock = threading.Lock()  # one forward pass at a time
        self.decodes = threading.BoundedSemaphore(DECODES)
        self.slots = threading.BoundedSemaphore(CONNECTIONS)
        self.waiting: dict[socket.socket, float] = {}  # connections whose request has not fully arrived: since when
        self.waiting_lock = threading.Lock()
        self.holding: set[socket.socket] = set()  # accepted connections that hold a slot until shut down
        self.nonce = secrets.token_urlsafe(16)  # the page's own script runs; anything injected into it does not
        template = (Path(__file__).parent / "demo.html").read_text(encoding="utf-8")
        classes = json.dumps(list(DATASETS[self.dataset].classes)).replace("<", "\\u003c")  # no </script> inside
        fill = {"RUN_NAME": html.escape(run.resolve().name), "CLASS_NAMES": classes, "NONCE": self.nonce}
        # one pass: a run named "NONCE" stays text
        self.page = re.sub("|".join(fill), lambda m: fill[m[0]], template).encode("utf-8")
        try:
            super().__init__((host, port), Handler)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port} ({err.strerror}); pick another --port") from None
        port = self.server_address[1]
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}  # the names a browser on this machine uses
        self.hosts |= {"127.0.0.1", "localhost"} if port == 80 else set()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def get_request(self) -> tuple:
        """Accept the next connection once a slot is free; out of file descriptors, wait instead of spinning.

        Called when a connection waits to be accepted: if every slot stays busy, the connection that has
        waited longest without sending its whole request (a stalled client) is closed to make room."""
        if not self.slots.acquire(timeout=0.1):
            self.evict()
            raise OSError(errno.EAGAIN, "every connection slot is busy")  # serve_forever polls again
        try:
            sock, address = super().get_request()
        except OSError:
            self.slots.release()
            time.sleep(0.05)  # EMFILE: the listening socket stays readable; a pause keeps the loop from spinning
            raise
        with self.waiting_lock:
            self.waiting[sock] = time.monotonic()
            self.holding.add(sock)
        return sock, address

    def close_waiting(self) -> None:
        """Cut every connection whose request has not arrived yet (a stalled client), so that closing is quick."""
        with self.waiting_lock:
            socks = list(self.waiting)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def evict(self) -> None:
        with self.waiting_lock:
            oldest = min(self.waiting, key=self.waiting.__getitem__, default=None)
            self.waiting.pop(oldest, None)
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: none waits
            oldest.shutdown(socket.SHUT_RDWR)

    def arrived(self, sock: socket.socket) -> None:
        """The request on sock has arrived whole: it is being served, no longer a candidate for eviction."""
        with self.waiting_lock:
            self.waiting.pop(sock, None)

    def shutdown_request(self, request) -> None:  # noqa: ANN001  (socketserver's signature)
        """Close the connection and free its slot, once: a Ctrl-C while its thread starts closes it twice."""
        self.arrived(request)
        with self.waiting_lock:
            held = request in self.holding
            self.holding.discard(request)
        try:
            super().shutdown_request(request)
        finally:
            if held:
                self.slots.release()

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001  (socketserver's signature)
        print(f"demo: a request from {client_address[0]} failed: {sys.exc_info()[1]!r}", file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    server: Demo
    timeout = TIMEOUT  # seconds per read or write on the connection

    def handle(self) -> None:
        """One request per connection, cut after DEADLINE seconds in all (a client that trickles bytes)."""
        deadline = threading.Timer(DEADLINE, self.cut)
        deadline.daemon = True
        deadline.start()
        try:
            super().handle()
        finally:
            deadline.cancel()
            deadline.join()  # its thread holds this handler, hence the model: never let it outlive the server

    def parse_request(self) -> bool:
        ok = super().parse_request()  # the request line and the headers, read
        self.server.arrived(self.connection)
        return ok

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        if self.refused():
            return
        if self.path.split("?")[0] not in ("/", "/index.html"):
            return self.answer(HTTPStatus.NOT_FOUND, {"error": "no such page; the demo is at /"})
        self.send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")

    def do_POST(self) -> None:  # noqa: N802
        if self.refused(post=True):
            return
        if self.path != "/predict":
            return self.answer(HTTPStatus.NOT_FOUND, {"error": "POST the drawing to /predict"})
        length = self.headers.get("Content-Length")
        if length is None:
            return self.answer(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length"})
        if not (length.isascii() and length.isdigit()):
            return self.answer(HTTPStatus.BAD_REQUEST, {"error": "Content-Length must be a number of bytes"})
        if int(length) > MAX_BYTES:
            return self.answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"the image is over {MAX_BYTES} bytes"})
        data = self.rfile.read(int(length))
        with self.server.decodes:
            try:
                image = decode(data)
            except ValueError as err:
                return self.answer(HTTPStatus.BAD_REQUEST, {"error": str(err)})
            with self.server.lock:
                result = predict_images(self.server.model, self.server.dataset, [image], top=10)[0]
        probs = dict(result.top) if result.found else {}
        self.answer(HTTPStatus.OK, {
            "prediction": result.prediction,
            "note": result.note,
            "probabilities": [round(probs.get(c, 0.0), 5) for c in list(DATASETS[self.server.dataset].classes)],
            "seen": [round(float(v), 3) for v in result.seen.ravel()],
        })

    def refused(self, post: bool = False) -> bool:
        """Answer 403 to a request for another Host (DNS rebinding) or, for a POST, from another site's page."""
        host = self.headers.get("Host")
        if host not in self.server.hosts:
            names = " or ".join(sorted(self.server.hosts))
            self.answer(HTTPStatus.FORBIDDEN, {"error": f"this demo answers only {names}"})
            return True
        origin = self.headers.get("Origin")
        cross = self.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none")
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if post and (cross or (origin is not None and origin.removeprefix("http://") not in self.server.hosts)):
            self.answer(HTTPStatus.FORBIDDEN, {"error": "only the demo's own page may post drawings"})
            return True
        if post and kind != "image/png":  # a cross-site "simple" request cannot send this type without asking first
            self.answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "POST the drawing as Content-Type: image/png"})
            return True
        return False

    def answer(self, status: HTTPStatus, body: dict) -> None:
        self.send(status, json.dumps(body).encode(), "application/json")

    def send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", f"default-src 'none'; script-src 'nonce-{self.server.nonce}'; "
                         "style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                         "frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (quiet: one line per stroke is noise)
        pass


def decode(data: bytes) -> Image.Image:
    """The posted bytes as a picture of at most MAX_PIXELS; ValueError (the message for a 400) when they are not one."""
    try:
        return decode_image(io.BytesIO(data), "the body", MAX_PIXELS)
    except UserError as err:
        raise ValueError(str(err)) from None


def serve(run: str | Path, port: int = 8000, announce: Callable[[str], None] = print, trust_code: bool = False) -> None:
    """Serve the demo until Ctrl-C."""
    server = Demo(Path(run), port, trust_code=trust_code)
    announce(server.url)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, Stopped):  # Stopped: the command line's SIGINT/SIGTERM handler
        pass
    finally:
        server.close_waiting()
        server.server_close()  # joins the requests in flight
