"""The scaffolding every fake HTTP API shares: a real server on 127.0.0.1 (ephemeral port) that
answers each request with the next scripted scenario, then `default`.

Use as `with FakeX() as server:`. `script("429", "ok")` queues answers; `release()` ends requests
held by a "hang" scenario (and makes later ones return at once).
"""

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    default = ""
    hang_seconds = 30.0

    def __init__(self):
        self.requests: list = []
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *answers) -> None:
        with self._lock:
            self._script.extend(answers)

    def release(self) -> None:
        self._release.set()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _pop_answer(self):
        """The next scripted answer, or None when the script is empty."""
        with self._lock:
            return self._script.popleft() if self._script else None

    def _hang(self, handler: BaseHTTPRequestHandler) -> None:
        """Hold the request unanswered until released (or `hang_seconds`), then drop it."""
        self._release.wait(self.hang_seconds)
        handler.close_connection = True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


def read_json(handler: BaseHTTPRequestHandler):
    """The request body parsed as JSON, or None when it is not JSON."""
    raw = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
    try:
        return json.loads(raw)
    except ValueError:
        return None


def send_body(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict | None = None) -> None:
    """Answer with `data` as it is (JSON, or deliberately broken JSON); no body when `data` is empty."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if data:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def send_json(handler: BaseHTTPRequestHandler, status: int, body, headers: dict | None = None) -> None:
    """Answer with `body` as JSON (None: an empty body)."""
    send_body(handler, status, b"" if body is None else json.dumps(body).encode(), headers)
