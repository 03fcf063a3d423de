"""A fake OpenAI API: real HTTP on 127.0.0.1 (ephemeral port), for tests only.

The real `openai` SDK talks to it through `base_url` (`server.url`, which ends in /v1). It speaks
the Responses API (`POST /v1/responses`) and Chat Completions (`POST /v1/chat/completions`),
checks the bearer key, the model and the input like the API does (400 when missing), and answers
what is scripted next: `server.script("500", "ok")`, then `server.default` ("ok"):

- "ok"          200 with `server.text` as the output text (three lines by default)
- "quota"       429 insufficient_quota ("You exceeded your current quota ...")
- "429"         429 rate_limit_exceeded
- "500"         500 server_error
- "hang"        hold the request unanswered until `release()` or `hang_seconds`, then drop it
- "malformed"   200 with a body that is not JSON

`server.requests` lists every request (path, headers, body, answer).
"""

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from uuid import uuid4

from tests.fakes.scripted import ScriptedServer, read_json, send_body

API_KEY = "sk-test-fake-openai"
TEXT = "Three SELLs closed with a small profit.\nTrailing stops did the work.\nWatch the BEAR stop losses."
ERRORS = {
    "quota": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    "500": (500, "server_error", None, "The server had an error while processing your request."),
}


@dataclass
class Request:
    at: float
    path: str
    headers: dict
    body: dict | None
    answer: str


class FakeOpenAI(ScriptedServer):
    """Start with `with FakeOpenAI() as server:`; set OPENAI_BASE_URL to `server.url`."""

    def __init__(self):
        self.default = "ok"
        self.text = TEXT
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url + "/v1"

    def _next_answer(self) -> str:
        return self._pop_answer() or self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = read_json(self)
                problem = fake._check(self.path, self.headers.get("Authorization"), body)
                answer = problem or fake._next_answer()
                request = Request(time.monotonic(), self.path, dict(self.headers), body, answer)
                with fake._lock:
                    fake.requests.append(request)
                fake._answer(self, answer, body)

        return Handler

    def _check(self, path: str, authorization: str | None, body: dict | None) -> str | None:
        if path not in ("/v1/responses", "/v1/chat/completions"):
            return "404"
        if authorization != f"Bearer {API_KEY}":
            return "401"
        if not isinstance(body, dict) or not body.get("model"):
            return "400"
        if path == "/v1/responses" and not body.get("input"):
            return "400"
        if path == "/v1/chat/completions" and not body.get("messages"):
            return "400"
        return None

    def _answer(self, handler: BaseHTTPRequestHandler, answer: str, body: dict | None) -> None:
        if answer == "hang":
            return self._hang(handler)
        if answer == "malformed":
            return send_body(handler, 200, b'{"id": "resp_1", "output": [{"type": "message", "content": ')
        if answer in ERRORS:
            status, kind, code, message = ERRORS[answer]
            error = {"message": message, "type": kind, "param": None, "code": code}
            return send_body(handler, status, json.dumps({"error": error}).encode())
        if answer in ("400", "401", "404"):
            message = f"fake OpenAI refused the request ({answer})"
            error = {"message": message, "type": "invalid_request_error"}
            return send_body(handler, int(answer), json.dumps({"error": error}).encode())
        model = body["model"]
        if handler.path == "/v1/responses":
            return send_body(handler, 200, json.dumps(_response(model, self.text)).encode())
        return send_body(handler, 200, json.dumps(_completion(model, self.text)).encode())


def _response(model: str, text: str) -> dict:
    return {
        "id": f"resp_{uuid4().hex}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": f"msg_{uuid4().hex}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
    }


def _completion(model: str, text: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def configure(settings, server: FakeOpenAI, **overrides) -> None:
    """Point CoinPilot's OpenAI settings at `server`, with a short timeout and no SDK retries."""
    settings.OPENAI_API_KEY = API_KEY
    settings.OPENAI_BASE_URL = server.url
    settings.OPENAI_TIMEOUT_SECONDS = 2.0
    settings.AI_SDK_MAX_RETRIES = 0
    for name, value in overrides.items():
        setattr(settings, name, value)
