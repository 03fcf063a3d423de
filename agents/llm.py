"""The only code that talks to LLM providers: Anthropic for the agent, OpenAI for report summaries.

Every call has an explicit timeout and bounded SDK retries (AI_SDK_MAX_RETRIES, 0 by default: the
guardrails decide what happens after a failure, not the SDK). Failures are raised as `LLMError`
with a `kind` the guardrails act on; a low-credit answer and a spend-limit 429 are told apart by
their status and error code, which are stable, not by wording (except the credit message, which
has no code).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    import anthropic

# The SDKs are imported where they are used: together they take seconds to import, which every
# web, scheduler and command process would pay at start for calls most of them never make. RQ
# workers import them as they start (RQ_WORKER_PRELOAD), so no job pays them.

# kinds of LLMError
TIMEOUT, RATE_LIMIT, OVERLOADED, LOW_CREDIT, SPEND_LIMIT, API, CONNECTION = (
    "timeout",
    "rate_limit",
    "overloaded",
    "low_credit",
    "spend_limit",
    "api_error",
    "connection",
)
BLOCKING_KINDS = frozenset({LOW_CREDIT, SPEND_LIMIT})  # retrying cannot help: pause the AI


class LLMError(Exception):
    """A provider call that failed; `kind` says how (one of the constants above)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ToolAnswer:
    """The input of the forced tool call, unvalidated, and what it cost."""

    tool_input: dict | None
    input_tokens: int
    output_tokens: int
    model: str


def agent_model() -> str:
    """Haiku-class in dev, Sonnet-class in prod (names from settings)."""
    return settings.LLM_MODEL_PROD if settings.LLM_MODE == "prod" else settings.LLM_MODEL_DEV


def load_anthropic() -> None:
    """Import the Anthropic SDK now (seconds, once per process): a caller whose time limit should
    count the model's time, not the import's, calls this before its clock starts."""
    import anthropic  # noqa: F401


def anthropic_client(timeout: float) -> anthropic.Anthropic:
    """An SDK client with CoinPilot's key, base URL, this timeout and the configured retries."""
    import anthropic

    return anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL,
        timeout=timeout,
        max_retries=settings.AI_SDK_MAX_RETRIES,
    )


def ask_tool(*, system: str, prompt: str, tool: dict, timeout: float, max_tokens: int = 600) -> ToolAnswer:
    """One Messages API call that must answer by calling `tool` (a name + JSON schema)."""
    import anthropic

    model = agent_model()
    client = anthropic_client(timeout)
    try:
        message = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            tools=[tool],
            tool_choice={"type": "tool", "name": tool["name"]},
        )
    except anthropic.APIError as exc:
        raise classify_anthropic(exc) from exc
    finally:
        client.close()
    block = next((b for b in message.content if b.type == "tool_use" and b.name == tool["name"]), None)
    usage = message.usage
    return ToolAnswer(
        tool_input=block.input if block is not None and isinstance(block.input, dict) else None,
        input_tokens=int(usage.input_tokens or 0),
        output_tokens=int(usage.output_tokens or 0),
        model=message.model or model,
    )


def classify_anthropic(exc: anthropic.APIError) -> LLMError:
    """Map an SDK exception to an LLMError kind."""
    import anthropic

    text = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, anthropic.APITimeoutError):
        return LLMError(TIMEOUT, text)
    if isinstance(exc, anthropic.APIConnectionError):
        return LLMError(CONNECTION, text)
    if not isinstance(exc, anthropic.APIStatusError):
        return LLMError(API, text)
    code = exc.error_code or ""
    if "spend_limit" in code:
        return LLMError(SPEND_LIMIT, text)
    if exc.status_code == 402 or exc.type == "billing_error" or _is_low_credit(exc):
        return LLMError(LOW_CREDIT, text)
    if exc.status_code == 429:
        return LLMError(RATE_LIMIT, text)
    if exc.status_code == 529 or exc.type == "overloaded_error":
        return LLMError(OVERLOADED, text)
    return LLMError(API, text)


def _is_low_credit(exc: anthropic.APIStatusError) -> bool:
    # The one answer without an error code: HTTP 400 invalid_request_error with this message.
    return exc.status_code == 400 and "credit balance is too low" in (exc.api_message or "").lower()


def summarize(text: str, *, instructions: str, timeout: float | None = None) -> str:
    """A short summary by the OpenAI report model; raises LLMError (the caller falls back)."""
    if not settings.OPENAI_API_KEY:
        raise LLMError(API, "no OpenAI key")
    import openai

    client = openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout=timeout or settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.AI_SDK_MAX_RETRIES,
    )
    try:
        response = client.responses.create(
            model=settings.OPENAI_REPORT_MODEL, instructions=instructions, input=text
        )
    except openai.APITimeoutError as exc:
        raise LLMError(TIMEOUT, f"{type(exc).__name__}: {exc}"[:500]) from exc
    except openai.APIError as exc:
        raise LLMError(API, f"{type(exc).__name__}: {exc}"[:500]) from exc
    except ValueError as exc:  # a malformed body (JSONDecodeError) is an answer we cannot use
        raise LLMError(API, f"malformed response: {exc}"[:500]) from exc
    finally:
        client.close()
    summary = (response.output_text or "").strip()
    if not summary:
        raise LLMError(API, "empty summary")
    return summary


@dataclass(frozen=True)
class Turn:
    """One streamed assistant turn of the chat: its content blocks as plain dicts, why it ended, cost."""

    content: list[dict]
    stop_reason: str
    input_tokens: int
    output_tokens: int
    model: str

    @property
    def tool_uses(self) -> list[dict]:
        return [b for b in self.content if b["type"] == "tool_use"]


@dataclass
class Usage:
    """Tokens a streamed call has used so far (the API reports them as the stream goes)."""

    input_tokens: int = 0
    output_tokens: int = 0


def stream_turn(
    *, system: str, messages: list[dict], tools: list[dict], deadline: float, max_tokens: int, spent: Usage
):
    """One Messages API call offering `tools`, streamed: yields text deltas, returns the `Turn`.

    Use with `turn = yield from stream_turn(...)`. `deadline` (time.monotonic()) bounds the whole
    call, every read included: the stream is read on a helper thread and each wait for its next
    event ends at the deadline, so a slow stream (text or a tool call's input) cannot run past it;
    LLMError(TIMEOUT) then. `spent` holds the tokens used so far, also when the call is cut short.
    """
    model = agent_model()
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    request = {
        "model": model,
        "max_tokens": max_tokens,
        "system": system,
        "messages": messages,
        "tools": tools,
    }
    reader = threading.Thread(
        target=_read_stream, args=(request, deadline, events, stop), name="llm-stream", daemon=True
    )
    reader.start()
    try:
        while True:
            try:
                kind, value = events.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise LLMError(TIMEOUT, "the time limit passed while the model was answering") from None
            if kind == "text":
                yield value
            elif kind == "usage":
                spent.input_tokens, spent.output_tokens = value
            elif kind == "error":
                raise value
            else:
                message = value
                break
    finally:
        stop.set()  # the reader drops the connection at its next event (or read timeout)
    content = []
    for block in message.content:
        if block.type == "text" and block.text:  # the API refuses empty text blocks sent back
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            tool_input = block.input if isinstance(block.input, dict) else {}
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input})
    usage = message.usage
    return Turn(
        content=content,
        stop_reason=message.stop_reason or "",
        input_tokens=int(usage.input_tokens or 0),
        output_tokens=int(usage.output_tokens or 0),
        model=message.model or model,
    )


def _read_stream(request: dict, deadline: float, events: queue.Queue, stop: threading.Event) -> None:
    """Helper thread of `stream_turn`: puts ("text" | "usage" | "done" | "error", value) on `events`."""
    import anthropic

    client = anthropic_client(max(deadline - time.monotonic(), 0.05))
    try:
        with client.messages.stream(**request) as stream:
            for event in stream:
                if stop.is_set():
                    return
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    events.put(("text", event.delta.text))
                if event.type in ("message_start", "message_delta"):  # the events that report usage
                    usage = stream.current_message_snapshot.usage
                    events.put(("usage", (int(usage.input_tokens or 0), int(usage.output_tokens or 0))))
            events.put(("done", stream.get_final_message()))
    except anthropic.APIError as exc:
        events.put(("error", classify_anthropic(exc)))
    except ValueError as exc:  # unparseable tool input JSON in the stream
        events.put(("error", LLMError(API, f"malformed stream: {exc}"[:500])))
    except Exception as exc:  # anything else still ends the wait at once, as an API failure
        events.put(("error", LLMError(API, f"{type(exc).__name__}: {exc}"[:500])))
    finally:
        client.close()
