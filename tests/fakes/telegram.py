"""A fake Telegram Bot API server: real HTTP on 127.0.0.1 (ephemeral port), for tests only.

It speaks the wire format of https://core.telegram.org/bots/api at `/bot<token>/<method>`: every
answer is `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": ...}`.
Parameters are read from the query string, a JSON body or a form body (python-telegram-bot posts
forms whose non-string values are JSON-encoded), as Telegram accepts all three.

Methods: getMe, getUpdates (long polling with offset/timeout/limit: updates below `offset` are
confirmed and dropped, the others are redelivered), deleteWebhook, setMyCommands, sendMessage,
answerCallbackQuery, editMessageText, editMessageReplyMarkup. Anything else answers 404.

A test plays the user: `server.send_text(chat_id, "/status")` or `server.press(chat_id, message_id,
data)` queues an update; `server.messages_to(chat_id)` lists what the bot sent there (as edited);
`server.redeliver(update_id)` offers an update again, as Telegram does after an unconfirmed one.

Faults are scripted per method, then the method answers normally:
`server.fault("sendMessage", "429", "500")`
- "429"        Too Many Requests with parameters.retry_after = `server.retry_after` (seconds)
- "500", "502" a server error with Telegram's error shape
- "400"        Bad Request (e.g. a message that cannot be edited)
- "slow"       the normal answer after `server.slow_seconds`
- "hang"       no answer until `unhang()` or `hang_seconds`, then the connection is dropped
- "malformed"  200 with a body that is not JSON
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from tests.fakes.scripted import ScriptedServer, send_body, send_json

TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456789"  # noqa: S105 (not a secret)
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "CoinPilot", "username": "coinpilot_test_bot"}
STRING_FIELDS = {"text", "callback_query_id", "parse_mode", "inline_message_id", "data", "url"}
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64


@dataclass
class Request:
    at: float  # time.monotonic() when the request arrived
    method: str
    params: dict
    answer: str  # "ok" or the scripted fault


@dataclass
class Message:
    """A message the bot sent (and maybe edited since)."""

    message_id: int
    chat_id: int
    text: str
    reply_markup: dict | None = None
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first

    @property
    def buttons(self) -> list[dict]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]


def _params(handler: BaseHTTPRequestHandler, query: str) -> dict | None:
    """The method's parameters (None: a body that cannot be read, like Telegram's 400)."""
    raw = handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
    kind = handler.headers.get("Content-Type", "")
    params = {key: values[-1] for key, values in parse_qs(query).items()}
    if raw and "json" in kind:
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return params | body if isinstance(body, dict) else None
    if raw:
        params |= {key: values[-1] for key, values in parse_qs(raw.decode()).items()}
    return {key: value if key in STRING_FIELDS else _json_or_str(value) for key, value in params.items()}


def _json_or_str(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeTelegram(ScriptedServer):
    """Start with `with FakeTelegram() as server:`; point the bot at `server.api_url`."""

    def __init__(self, *, token: str = TOKEN):
        self.token = token
        self.retry_after = 1
        self.slow_seconds = 2.0
        self.updates: list[dict] = []  # not yet confirmed by an offset
        self.messages: list[Message] = []
        self.callback_answers: list[dict] = []
        self._faults: dict[str, list[str]] = {}
        self.history: dict[int, dict] = {}  # every update ever queued, by update_id
        self._unhang = threading.Event()
        self._next_update_id = 1000
        self._next_message_id = 1
        self._changed = threading.Condition()
        super().__init__()

    @property
    def api_url(self) -> str:
        """The base URL without the token (python-telegram-bot's `base_url` adds `<token>`)."""
        return self.base_url + "/bot"

    # --- the test plays the user --------------------------------------------------------------

    def send_text(self, chat_id: int, text: str, *, user_id: int | None = None) -> int:
        """Queue a text message from a private chat; returns its update_id."""
        message = {
            "message_id": self._message_id(),
            "from": _user(user_id or chat_id),
            "chat": {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"},
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._queue({"message": message})

    def press(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None) -> int:
        """Queue a tap on an inline button of the bot's message `message_id`; returns the update_id."""
        sent = self.message(message_id)
        query = {
            "id": f"cq{self._next_update_id}",
            "from": _user(user_id or chat_id),
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"},
                "date": int(time.time()),
                "text": sent.text if sent else "",
            },
        }
        return self._queue({"callback_query": query})

    def redeliver(self, update_id: int) -> None:
        """Offer an update again, as Telegram does when its delivery was not confirmed."""
        with self._changed:
            with self._lock:
                self.updates.append(self.history[update_id])
                self.updates.sort(key=lambda u: u["update_id"])
            self._changed.notify_all()

    def unhang(self) -> None:
        """End the requests held by "hang" (later "hang" answers hold again)."""
        self._unhang.set()

    def _hang(self, handler: BaseHTTPRequestHandler) -> None:
        deadline = time.monotonic() + self.hang_seconds
        while time.monotonic() < deadline and not (self._unhang.is_set() or self._release.is_set()):
            time.sleep(0.05)
        self._unhang.clear()
        handler.close_connection = True

    def fault(self, method: str, *answers: str) -> None:
        with self._lock:
            self._faults.setdefault(method, []).extend(answers)

    # --- what the bot did -----------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.chat_id == chat_id]

    def message(self, message_id: int) -> Message | None:
        with self._lock:
            return next((m for m in self.messages if m.message_id == message_id), None)

    def calls(self, method: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def pending_update_ids(self) -> list[int]:
        with self._lock:
            return [u["update_id"] for u in self.updates]

    def wait_for(self, predicate, timeout: float = 10.0):
        """Wait until `predicate()` is truthy (checked on every request); return its value."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
                self._changed.wait(min(remaining, 0.1))

    def wait_for_message(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> Message:
        """The `count`-th message the bot sent to `chat_id` (waits for it)."""
        return self.wait_for(lambda: (self.messages_to(chat_id)[count - 1 : count] or [None])[0], timeout)

    # --- the server -------------------------------------------------------------------------------

    def _message_id(self) -> int:
        with self._lock:
            self._next_message_id += 1
            return self._next_message_id - 1

    def _queue(self, update: dict) -> int:
        with self._changed:
            with self._lock:
                self._next_update_id += 1
                update = {"update_id": self._next_update_id, **update}
                self.updates.append(update)
                self.history[update["update_id"]] = update
            self._changed.notify_all()
        return update["update_id"]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the path holds the token
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                token, _, method = path.removeprefix("/bot").partition("/")
                params = _params(self, query)
                fake._serve(self, token, method, params)

        return Handler

    def _serve(self, handler, token: str, method: str, params: dict | None) -> None:
        with self._lock:
            faults = self._faults.get(method) or []
            answer = faults.pop(0) if faults else "ok"
            self.requests.append(Request(time.monotonic(), method, params or {}, answer))
        if answer == "slow":
            time.sleep(self.slow_seconds)
            answer = "ok"
        if token != self.token:
            return _error(handler, 401, "Unauthorized")
        if answer == "hang":
            return self._hang(handler)
        if answer == "malformed":
            return send_body(handler, 200, b'{"ok": true, "result": <html>')
        if answer == "429":
            description = f"Too Many Requests: retry after {self.retry_after}"
            return _error(handler, 429, description, {"retry_after": self.retry_after})
        if answer in ("500", "502"):
            return _error(handler, int(answer), "Internal Server Error" if answer == "500" else "Bad Gateway")
        if answer == "400":
            return _error(handler, 400, "Bad Request: message can't be edited")
        if params is None:
            return _error(handler, 400, "Bad Request: can't parse request body")
        method_fn = getattr(self, f"_m_{method}", None)
        if method_fn is None:
            return _error(handler, 404, "Not Found")
        if method == "getUpdates":
            result = method_fn(params)
        else:
            with self._changed:
                result = method_fn(params)
                self._changed.notify_all()
        if isinstance(result, tuple):
            return _error(handler, *result)
        send_json(handler, 200, {"ok": True, "result": result})

    def _m_getMe(self, params: dict) -> dict:
        return BOT_USER | {"can_join_groups": False, "supports_inline_queries": False}

    def _m_deleteWebhook(self, params: dict) -> bool:
        return True

    def _m_setMyCommands(self, params: dict) -> bool:
        return True

    def _m_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            with self._lock:
                if offset:  # confirms every update below it: Telegram never sends those again
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self._changed.notify_all()
            while True:
                with self._lock:
                    ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._release.is_set():
                    return ready
                self._changed.wait(min(remaining, 0.2))

    def _m_sendMessage(self, params: dict):
        text = str(params.get("text") or "")
        problem = _check_text(text, params.get("reply_markup"))
        if problem:
            return 400, problem
        message = Message(self._message_id(), int(params["chat_id"]), text, params.get("reply_markup"))
        with self._lock:
            self.messages.append(message)
        return self._message_json(message)

    def _m_answerCallbackQuery(self, params: dict) -> bool:
        with self._lock:
            self.callback_answers.append(params)
        return True

    def _m_editMessageText(self, params: dict):
        message = self.message(int(params.get("message_id") or 0))
        if message is None:
            return 400, "Bad Request: message to edit not found"
        text = str(params.get("text") or "")
        problem = _check_text(text, params.get("reply_markup"))
        if problem:
            return 400, problem
        with self._lock:
            message.edits.append(message.text)
            message.text, message.reply_markup = text, params.get("reply_markup")
        return self._message_json(message)

    def _m_editMessageReplyMarkup(self, params: dict):
        message = self.message(int(params.get("message_id") or 0))
        if message is None:
            return 400, "Bad Request: message to edit not found"
        with self._lock:
            message.reply_markup = params.get("reply_markup")
        return self._message_json(message)

    def _message_json(self, message: Message) -> dict:
        data = {
            "message_id": message.message_id,
            "from": BOT_USER,
            "chat": {"id": message.chat_id, "type": "private", "first_name": f"user{message.chat_id}"},
            "date": int(time.time()),
            "text": message.text,
        }
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data


def _user(user_id: int) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}


def _check_text(text: str, markup) -> str:
    """Telegram's own limits on a message (an independent oracle: not the bot's code)."""
    if not text.strip():
        return "Bad Request: message text is empty"
    if len(text) > TEXT_LIMIT:
        return "Bad Request: message is too long"
    rows = (markup.get("inline_keyboard") or []) if isinstance(markup, dict) else []
    for row in rows:
        for button in row:
            if len(str(button.get("callback_data", "")).encode()) > CALLBACK_DATA_LIMIT:
                return "Bad Request: BUTTON_DATA_INVALID"
    return ""


def _error(handler, status: int, description: str, parameters: dict | None = None) -> None:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    send_json(handler, status, body)


def configure(settings, server: FakeTelegram, **overrides) -> None:
    """Point CoinPilot's Telegram settings at `server`."""
    settings.TELEGRAM_API_BASE_URL = server.api_url
    settings.TELEGRAM_BOT_TOKEN = server.token
    for name, value in overrides.items():
        setattr(settings, name, value)
