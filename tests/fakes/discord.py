"""A fake Discord webhook server: real HTTP on 127.0.0.1 (ephemeral port), for tests only.

It checks every message against Discord's documented limits itself (an independent oracle, it
does not import the code under test) and answers 400 like Discord when one is broken. What it
answers next is scripted: `server.script("500", "500", "204")`, then `server.default` (204):

- "204" / "200"       accepted and recorded (200 returns a message object, like `?wait=true`)
- "429" / "429-header" / "429-body"  rate limited; retry_after in both, only the header, or only
                                     the body (seconds: `server.retry_after`)
- "400", "404", "500", "503"          that status with a Discord-like JSON error
- "hang"              hold the request without answering until `release()` or `hang_seconds`, then
                      drop the connection (nothing is recorded as accepted)
- "bucket-empty"      accepted, with X-RateLimit-Remaining: 0 and Reset-After `retry_after`

`server.accepted` lists the accepted messages, `server.requests` every request with its time.
"""

import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.fakes.scripted import ScriptedServer, read_json, send_json

LIMITS = {"title": 256, "description": 4096, "fields": 25, "field.name": 256, "field.value": 1024}
LIMITS |= {"footer.text": 2048, "author.name": 256, "embeds": 10, "total": 6000, "content": 2000}


def validate_message(message: dict) -> list[str]:
    """Every way `message` breaks Discord's limits (empty list = Discord would take it)."""
    errors = []
    if not isinstance(message, dict):
        return ["body is not a JSON object"]
    embeds = message.get("embeds") or []
    if not (message.get("content") or embeds):
        errors.append("message is empty: needs content or embeds")
    if len(message.get("content") or "") > LIMITS["content"]:
        errors.append("content longer than 2000")
    if len(embeds) > LIMITS["embeds"]:
        errors.append(f"{len(embeds)} embeds (max 10)")
    total = 0
    for index, embed in enumerate(embeds):
        total += _check_embed(embed, f"embeds[{index}]", errors)
    if total > LIMITS["total"]:
        errors.append(f"embeds total {total} characters (max 6000)")
    return errors


def _check_embed(embed: dict, where: str, errors: list[str]) -> int:
    """Append what breaks a limit in one embed to `errors`; return the characters it counts."""
    total = 0
    texts = {
        "title": embed.get("title", ""),
        "description": embed.get("description", ""),
        "footer.text": (embed.get("footer") or {}).get("text", ""),
        "author.name": (embed.get("author") or {}).get("name", ""),
    }
    for key, text in texts.items():
        if len(text.strip()) > LIMITS[key]:
            errors.append(f"{where}.{key} longer than {LIMITS[key]}")
        total += len(text.strip())
    fields = embed.get("fields") or []
    if len(fields) > LIMITS["fields"]:
        errors.append(f"{where} has {len(fields)} fields (max 25)")
    for number, field in enumerate(fields):
        name, value = str(field.get("name", "")).strip(), str(field.get("value", "")).strip()
        if not name or not value:
            errors.append(f"{where}.fields[{number}] name or value empty")
        if len(name) > LIMITS["field.name"] or len(value) > LIMITS["field.value"]:
            errors.append(f"{where}.fields[{number}] too long")
        total += len(name) + len(value)
    if not isinstance(embed.get("color", 0), int):
        errors.append(f"{where}.color is not an integer")
    return total


@dataclass
class Request:
    at: float  # time.monotonic() when the request arrived
    path: str
    query: str
    body: dict | None
    answer: str


class FakeDiscord(ScriptedServer):
    """Start with `with FakeDiscord() as server:`; `server.url` is a valid-looking webhook URL."""

    def __init__(self, *, webhook_id: str = "123456789012345678", token: str = "fake-token_AbC.123"):  # noqa: S107
        self.webhook_path = f"/api/webhooks/{webhook_id}/{token}"
        self.default = "204"
        self.retry_after = 0.3
        self.accepted: list[dict] = []
        self.rejected: list[tuple[dict, list[str]]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url + self.webhook_path

    @property
    def embeds(self) -> list[dict]:
        """Every accepted embed, in the order they were accepted."""
        with self._lock:
            return [embed for message in self.accepted for embed in message.get("embeds", [])]

    def accepted_times(self) -> list[float]:
        with self._lock:
            return [r.at for r in self.requests if r.answer in ("204", "200", "bucket-empty")]

    def _next_answer(self) -> str:
        return self._pop_answer() or self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the URL holds the token
                pass

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                body = read_json(self)
                answer = fake._next_answer() if path == fake.webhook_path else "404"
                with fake._lock:
                    fake.requests.append(Request(time.monotonic(), path, query, body, answer))
                fake._answer(self, answer, body)

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, answer: str, body: dict | None) -> None:
        if answer == "hang":
            return self._hang(handler)
        if answer in ("204", "200", "bucket-empty"):
            errors = validate_message(body) if body is not None else ["body is not JSON"]
            if errors:
                with self._lock:
                    self.rejected.append((body, errors))
                    self.requests[-1].answer = "400-invalid"
                return send_json(
                    handler, 400, {"code": 50035, "message": "Invalid Form Body", "errors": errors}
                )
            with self._lock:
                self.accepted.append(body)
            if answer == "bucket-empty":
                headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(self.retry_after)}
                return send_json(handler, 200, {"id": str(len(self.accepted))}, headers)
            return (
                send_json(handler, 200, {"id": str(len(self.accepted)), **body})
                if answer == "200"
                else send_json(handler, 204, None)
            )
        if answer.startswith("429"):
            headers = {} if answer == "429-body" else {"Retry-After": str(self.retry_after)}
            payload = {"message": "You are being rate limited.", "global": False}
            if answer != "429-header":
                payload["retry_after"] = self.retry_after
            return send_json(handler, 429, payload, headers | {"X-RateLimit-Scope": "user"})
        status = int(answer)
        messages = {400: "Invalid Form Body", 404: "Unknown Webhook", 500: "Internal Server Error"}
        send_json(handler, status, {"code": 0, "message": messages.get(status, "error")})


def configure(settings, server: FakeDiscord, **overrides) -> None:
    """Point CoinPilot's Discord settings at `server`, with timings short enough for tests."""
    settings.DISCORD_WEBHOOK_URL = server.url
    settings.DISCORD_WEBHOOK_URLS = {}
    settings.DISCORD_TIMEOUT_SECONDS = 1.0
    settings.DISCORD_MIN_INTERVAL_SECONDS = 0.05
    settings.DISCORD_RETRY_BASE_SECONDS = 0.05
    settings.DISCORD_MAX_RETRIES = 3
    settings.DISCORD_SLICE_SECONDS = 10.0
    for name, value in overrides.items():
        setattr(settings, name, value)
