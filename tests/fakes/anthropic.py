"""A fake Anthropic Messages API: real HTTP on 127.0.0.1 (ephemeral port), for tests only.

The real `anthropic` SDK talks to it through `base_url`. It checks each request the way the API
does (key header, version header, model, max_tokens, messages, a forced tool) and answers 400
like the API when one is broken. What it answers next is scripted: `server.script("confirm",
"safe")`, one answer per request; with nothing scripted it answers CONFIRM, or SAFE to a tool whose
schema offers SAFE (the Guardian). Answers:

- "confirm" / "reject" / "low-confidence"   an Analyst `tool_use` (CONFIRM 82, REJECT 75, CONFIRM 41)
- "safe" / "warning"                         a Guardian `tool_use`
- "malformed"        a `tool_use` whose input breaks the schema (decision "MAYBE", confidence "high")
- "missing-fields"   a `tool_use` with only {"decision": "CONFIRM"}
- a dict             a `tool_use` with exactly that input
- "hang"             hold the request unanswered until `release()` or `hang_seconds`, then drop it
- "429"              rate_limit_error;  "spend-limit": 429 with error_code enforced_spend_limit_reached
- "529"              overloaded_error
- "low-credit"       400 invalid_request_error "Your credit balance is too low ..."

`server.requests` lists every request (path, headers, body, answer).
"""

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from uuid import uuid4

from tests.fakes.scripted import ScriptedServer

LOW_CREDIT = (
    "Your credit balance is too low to access the Anthropic API. "
    "Please go to Plans & Billing to upgrade or purchase credits."
)
TOOL_INPUTS = {
    "confirm": {
        "decision": "CONFIRM",
        "confidence": 82,
        "reasoning": "RSI recovered from oversold on rising volume",
    },
    "reject": {
        "decision": "REJECT",
        "confidence": 75,
        "reasoning": "lower highs for 12 hours: a weak bounce",
    },
    "low-confidence": {"decision": "CONFIRM", "confidence": 41, "reasoning": "mixed picture"},
    "safe": {"decision": "SAFE", "reasoning": "no event risk, volume normal"},
    "warning": {"decision": "WARNING", "reasoning": "volume spike looks like panic selling"},
    "malformed": {"decision": "MAYBE", "confidence": "high", "reasoning": ""},
    "missing-fields": {"decision": "CONFIRM"},
}
ERRORS = {
    "429": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        None,
    ),
    "spend-limit": (
        429,
        "rate_limit_error",
        "You have reached your specified API usage limits.",
        "enforced_spend_limit_reached",
    ),
    "529": (529, "overloaded_error", "Overloaded", None),
    "low-credit": (400, "invalid_request_error", LOW_CREDIT, None),
}


@dataclass
class Request:
    at: float
    path: str
    headers: dict
    body: dict | None
    answer: str


class FakeAnthropic(ScriptedServer):
    """Start with `with FakeAnthropic() as server:`; point `ANTHROPIC_BASE_URL` at `server.url`."""

    def __init__(self, *, input_tokens: int = 1200, output_tokens: int = 80):
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.hang_seconds = 45.0
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url

    def _next_answer(self, body: dict):
        scripted = self._pop_answer()
        if scripted is not None:
            return scripted
        # Unscripted: a Guardian-style tool (its schema offers SAFE) gets SAFE, any other CONFIRM.
        name = (body.get("tool_choice") or {}).get("name")
        tool = next((t for t in body.get("tools") or [] if t.get("name") == name), {})
        return "safe" if '"SAFE"' in json.dumps(tool.get("input_schema")) else "confirm"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                problem = invalid_request(self.path, dict(self.headers), body)
                answer = "invalid" if problem else fake._next_answer(body)
                with fake._lock:
                    fake.requests.append(
                        Request(time.monotonic(), self.path, dict(self.headers), body, str(answer))
                    )
                if problem:
                    return _error(self, 400, "invalid_request_error", problem)
                fake._answer(self, answer, body)

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, answer, body: dict) -> None:
        if answer == "hang":
            return self._hang(handler)
        if isinstance(answer, str) and answer in ERRORS:
            return _error(handler, *ERRORS[answer])
        tool_input = answer if isinstance(answer, dict) else TOOL_INPUTS[answer]
        message = {
            "id": f"msg_{uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid4().hex[:24]}",
                    "name": body["tool_choice"]["name"],
                    "input": tool_input,
                }
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
            },
        }
        _send(handler, 200, message)


def invalid_request(path: str, headers: dict, body: dict | None) -> str | None:
    """What the real API would refuse in this request (None = acceptable)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if path.split("?")[0] != "/v1/messages":
        return f"unknown path {path}"
    # SDK 2.x sends the key as a bearer token; older clients as x-api-key. Either is accepted.
    has_key = lowered.get("x-api-key") or lowered.get("authorization", "").startswith("Bearer ")
    if not has_key or not lowered.get("anthropic-version"):
        return "missing API key or anthropic-version header"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    choice, tools = body.get("tool_choice") or {}, body.get("tools") or []
    if choice.get("type") != "tool" or choice.get("name") not in {t.get("name") for t in tools}:
        return "tool_choice must force one of the tools"
    if any(not isinstance(t.get("input_schema"), dict) for t in tools):
        return "tools.input_schema: Field required"
    return None


def _error(handler, status: int, kind: str, message: str, code: str | None = None) -> None:
    error = {"type": kind, "message": message}
    if code:
        error["details"] = {"error_code": code}
    _send(handler, status, {"type": "error", "error": error, "request_id": f"req_{uuid4().hex[:24]}"})


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("request-id", f"req_{uuid4().hex[:24]}")
    handler.end_headers()
    handler.wfile.write(data)


def configure(settings, server: FakeAnthropic, **overrides) -> None:
    """Point CoinPilot's AI settings at `server` with a fake key."""
    settings.ANTHROPIC_API_KEY = "sk-ant-test-fake"
    settings.ANTHROPIC_BASE_URL = server.url
    settings.AI_SDK_MAX_RETRIES = 0
    for name, value in overrides.items():
        setattr(settings, name, value)
