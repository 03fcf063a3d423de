"""The scaffolding every fake HTTP API shares: a real server on 127.0.0.1 (ephemeral port) that
answers each request with the next scripted scenario, then `default`.

Use as `with FakeX() as server:`. `script("429", "ok")` queues answers; `release()` ends requests
held by a "hang" scenario (and makes later ones return at once).
"""

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
