"""A fake Sentry ingestion endpoint: real HTTP on 127.0.0.1 (ephemeral port), for tests only.

It accepts what the SDK sends, `POST /api/<project id>/envelope/`, gzip-compressed or not, checks
the X-Sentry-Auth key against the DSN's, decodes the envelope (a header line, then items of a
header line and a payload of `length` bytes or up to the newline) and records every item.
What it answers is scripted (`server.script("429", "500")`, then "200"):

- "200"  accepted: {"id": <event id>}
- "429"  rate limited, with Retry-After and X-Sentry-Rate-Limits (nothing recorded)
- "500"  a server error (nothing recorded)

`server.dsn` is the DSN pointing at it; `server.events` lists the accepted error events (dicts),
`server.envelopes` every accepted envelope as (headers, [(item headers, payload bytes)]), and
`server.requests` every request as (path, content encoding, auth header).
"""

import gzip
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.fakes.scripted import ScriptedServer, send_json

PUBLIC_KEY = "fakepublickey0123456789abcdef01"
PROJECT_ID = "42"
_PATH = re.compile(r"/api/(\d+)/envelope/")


class EnvelopeError(ValueError):
    pass


def parse_envelope(body: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """(envelope headers, [(item headers, payload)]) of an envelope, as Sentry's relay reads it."""
    header_line, _, rest = body.partition(b"\n")
    try:
        headers = json.loads(header_line)
    except ValueError as exc:
        raise EnvelopeError("envelope header is not JSON") from exc
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        try:
            item = json.loads(item_line)
        except ValueError as exc:
            raise EnvelopeError("item header is not JSON") from exc
        if "length" in item:
            length = int(item["length"])
            if len(rest) < length:
                raise EnvelopeError("item payload shorter than its length")
            payload, rest = rest[:length], rest[length:]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item, payload))
    return headers, items


class FakeSentry(ScriptedServer):
    default = "200"

    def __init__(self):
        super().__init__()
        self.envelopes: list = []
        self.events: list[dict] = []
        self._arrived = threading.Condition()

    @property
    def dsn(self) -> str:
        return f"{self.base_url.replace('http://', f'http://{PUBLIC_KEY}@')}/{PROJECT_ID}"

    def wait_for_events(self, count: int, timeout: float = 30.0) -> list[dict]:
        """The events once at least `count` arrived (fewer after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.events) < count and time.monotonic() < deadline:
                self._arrived.wait(max(0.0, deadline - time.monotonic()))
            return list(self.events)

    def _record(self, headers: dict, items: list) -> None:
        with self._arrived:
            self.envelopes.append((headers, items))
            for item, payload in items:
                if item.get("type") == "event":
                    self.events.append(json.loads(payload))
            self._arrived.notify_all()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                auth = self.headers.get("X-Sentry-Auth", "")
                server.requests.append((self.path, encoding, auth))
                match = _PATH.fullmatch(self.path.split("?")[0])
                if not match or match.group(1) != PROJECT_ID:
                    return send_json(self, 404, {"detail": "unknown project"})
                if f"sentry_key={PUBLIC_KEY}" not in auth:
                    return send_json(self, 401, {"detail": "missing or wrong sentry_key"})
                try:
                    body = gzip.decompress(raw) if encoding == "gzip" else raw
                    headers, items = parse_envelope(body)
                except (OSError, EnvelopeError) as exc:
                    return send_json(self, 400, {"detail": f"bad envelope: {exc}"})
                answer = server._pop_answer() or server.default
                if answer == "429":
                    limits = {"Retry-After": "60", "X-Sentry-Rate-Limits": "60::organization"}
                    return send_json(self, 429, None, limits)
                if answer == "500":
                    return send_json(self, 500, {"detail": "internal error"})
                server._record(headers, items)
                send_json(self, 200, {"id": headers.get("event_id", "")})

        return Handler
