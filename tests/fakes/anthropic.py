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

A request that does not force a tool (the chat's tool loop) gets scripted turns instead:

- `text_turn("...")`                     an `end_turn` answer with that text
- `tool_turn("name", {...}, text="")`    a `tool_use` answer (optionally after some text)
- `Turn(blocks=[...], stop_reason=...)`  anything else, e.g. several tool_use blocks
- the error strings above and "hang" work the same way

With `"stream": true` in the request the answer comes in the real SSE wire format (message_start,
content_block_start, content_block_delta with text_delta / input_json_delta, content_block_stop,
message_delta with stop_reason + usage, message_stop), `stream_delay` seconds between events.
Unscripted, such a request gets `text_turn(DEFAULT_TEXT)`.

`server.requests` lists every request (path, headers, body, answer).
"""

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from uuid import uuid4

from tests.fakes.scripted import ScriptedServer, read_json, send_json

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


DEFAULT_TEXT = "No scripted answer."


@dataclass
class Turn:
    """One assistant turn of a non-forced request: content blocks (text / tool_use) and why it ended."""

    blocks: list[dict] = field(default_factory=list)
    stop_reason: str = "end_turn"

    def __str__(self) -> str:
        return "turn:" + ",".join(b.get("name") or b["type"] for b in self.blocks)


def text_turn(text: str) -> Turn:
    return Turn([{"type": "text", "text": text}])


def tool_turn(name: str, tool_input: dict, *, text: str = "") -> Turn:
    blocks = [{"type": "text", "text": text}] if text else []
    return Turn(blocks + [tool_use_block(name, tool_input)], stop_reason="tool_use")


def tool_use_block(name: str, tool_input: dict) -> dict:
    return {"type": "tool_use", "id": f"toolu_{uuid4().hex[:24]}", "name": name, "input": tool_input}


@dataclass
class Request:
    at: float
    path: str
    headers: dict
    body: dict | None
    answer: str


class FakeAnthropic(ScriptedServer):
    """Start with `with FakeAnthropic() as server:`; point `ANTHROPIC_BASE_URL` at `server.url`."""

    def __init__(self, *, input_tokens: int = 1200, output_tokens: int = 80, stream_delay: float = 0.0):
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.stream_delay = stream_delay  # seconds between two streamed events (a slow model)
        self.hang_seconds = 45.0
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url

    def _next_answer(self, body: dict):
        scripted = self._pop_answer()
        if scripted is not None:
            return scripted
        if not forced(body):
            return text_turn(DEFAULT_TEXT)
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
                body = read_json(self)
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
        if isinstance(answer, Turn):
            blocks, stop_reason = answer.blocks, answer.stop_reason
        else:
            tool_input = answer if isinstance(answer, dict) else TOOL_INPUTS[answer]
            blocks = [tool_use_block(body["tool_choice"]["name"], tool_input)]
            stop_reason = "tool_use"
        message = {
            "id": f"msg_{uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
            },
        }
        if body.get("stream"):
            return _stream(handler, message, self.stream_delay)
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
    if any(not isinstance(t.get("input_schema"), dict) for t in tools):
        return "tools.input_schema: Field required"
    if forced(body):
        if choice.get("name") not in {t.get("name") for t in tools}:
            return "tool_choice must force one of the tools"
        return None
    if choice and choice.get("type") not in ("auto", "any", "none"):
        return f"tool_choice.type: unknown value {choice.get('type')!r}"
    return invalid_tools(tools) or invalid_conversation(body["messages"])


def forced(body: dict) -> bool:
    """Does the request force one tool (the agent) rather than offer tools (the chat)?"""
    return (body.get("tool_choice") or {}).get("type") == "tool"


def invalid_tools(tools: list) -> str | None:
    names = [t.get("name") for t in tools]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        return "tools: names must be unique non-empty strings"
    if any(t["input_schema"].get("type") != "object" for t in tools):
        return "tools.input_schema.type: Input should be 'object'"
    return None


def invalid_conversation(messages) -> str | None:
    """Roles alternate from a user turn; each tool_use is answered by a tool_result right after."""
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    pending: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role != ("user" if i % 2 == 0 else "assistant"):
            return f"messages.{i}.role: roles must alternate, starting with user"
        blocks = message.get("content")
        blocks = [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks or []
        results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if role == "assistant" and results:
            return f"messages.{i}: tool_result blocks belong in user messages"
        if results - pending or (role == "user" and pending - results):
            return (
                f"messages.{i}: each tool_result must answer a tool_use of the previous assistant "
                "message, and every tool_use needs its tool_result"
            )
        pending = (
            {b.get("id") for b in blocks if b.get("type") == "tool_use"} if role == "assistant" else set()
        )
    return None


def _error(handler, status: int, kind: str, message: str, code: str | None = None) -> None:
    error = {"type": kind, "message": message}
    if code:
        error["details"] = {"error_code": code}
    _send(handler, status, {"type": "error", "error": error, "request_id": f"req_{uuid4().hex[:24]}"})


def _stream(handler: BaseHTTPRequestHandler, message: dict, delay: float = 0.0) -> None:
    """Send `message` as the API's server-sent events, text in a few deltas, tool input in two."""
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    events = [("message_start", {"message": start}), ("ping", {})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"index": index, "content_block": dict(block, text="")}))
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            events.append(("content_block_start", {"index": index, "content_block": dict(block, input={})}))
            raw = json.dumps(block["input"])
            half = len(raw) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": part} for part in ("", raw[:half], raw[half:])
            ]
        events += [("content_block_delta", {"index": index, "delta": delta}) for delta in deltas]
        events.append(("content_block_stop", {"index": index}))
    usage = {"output_tokens": message["usage"]["output_tokens"]}
    events.append(
        (
            "message_delta",
            {"delta": {"stop_reason": message["stop_reason"], "stop_sequence": None}, "usage": usage},
        )
    )
    events.append(("message_stop", {}))
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("request-id", f"req_{uuid4().hex[:24]}")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    try:
        for name, data in events:
            handler.wfile.write(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode())
            handler.wfile.flush()
            time.sleep(delay)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client stopped reading (e.g. its time limit): so do we


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    send_json(handler, status, body, {"request-id": f"req_{uuid4().hex[:24]}"})


def configure(settings, server: FakeAnthropic, **overrides) -> None:
    """Point CoinPilot's AI settings at `server` with a fake key."""
    settings.ANTHROPIC_API_KEY = "sk-ant-test-fake"
    settings.ANTHROPIC_BASE_URL = server.url
    settings.AI_SDK_MAX_RETRIES = 0
    for name, value in overrides.items():
        setattr(settings, name, value)
