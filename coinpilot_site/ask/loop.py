"""One question to "Ask CoinPilot": the bounded tool loop between the model and the read-only tools.

`answer()` is a generator: it yields events for the page as they happen (text deltas, tool calls
started and finished) and returns the finished `Answer`. Bounds: at most ASK_MAX_TOOL_CALLS tool
calls, ASK_TIME_LIMIT_SECONDS in all (each model call gets the time that is left as its timeout),
ASK_MAX_TOKENS per model turn. A question is refused without a key, while the AI's global block is
set, or when the day's AI budget (shared with the trading agent) is spent; low credit or a spend
limit from the chat's own call sets the global block, as the agent does. When a bound stops an
answer it says so in plain words.
"""

import json
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from agents import costs, gate, guardrails, llm
from agents.models import ChatMessage
from core.kst import kst_text
from core.redis_conn import get_redis

from . import grounding, registry

log = logging.getLogger(__name__)
Status = ChatMessage.Status
MAX_SOURCES = 40
RESULT_LOG_CHARS = 20_000  # of each tool result, kept in the answer's tool-call log
SYSTEM = """You are "Ask CoinPilot", the read-only assistant of CoinPilot, a crypto trading bot on \
Upbit KRW markets. Operators ask about trades, AI decisions, risk events, regimes, reports and the \
configuration; you find out with the tools.
- Answer only from the results of the tools you call for this question. If they do not hold the \
answer, say so. Never guess or invent a figure.
- Quote numbers exactly as the tools give them (thousands separators, or rounding to fewer decimals, \
are fine). Amounts are KRW.
- Times in tool results are Korean time (KST); give every time in KST.
- Answer in the language of the question (Korean or English), briefly.
- You cannot change anything (no orders, no settings, no switches); if asked to, say you are read-only.
Now: {now} (KST)."""


@dataclass
class Answer:
    text: str = ""
    status: str = Status.OK
    error: str = ""
    notice: str = ""  # said when a bound or a failure ended the answer (appended to the text)
    tool_calls: list[dict] = field(default_factory=list)
    results: list = field(default_factory=list)  # data of this question's tool results (grounding)
    sources: list[dict] = field(default_factory=list)
    unverified: list[dict] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""

    @property
    def full_text(self) -> str:
        return f"{self.text}\n\n{self.notice}".strip() if self.notice else self.text


def refusal(now: datetime, *, set_block: bool = True) -> tuple[str, str] | None:
    """(status, reason) when no question may be asked now, else None. Over the budget this sets the
    global block, as the agent does (`set_block=False`: only look, for the page)."""
    if not gate.enabled():
        return Status.OFF, _("The assistant is off: no ANTHROPIC_API_KEY is set.")
    block = get_redis().get(guardrails.BLOCK_KEY)
    if block is None and costs.over_budget(now):
        if set_block:
            guardrails.set_block(guardrails.BUDGET)
        block = guardrails.BUDGET
    if block is not None:
        reason = block.decode() if isinstance(block, bytes) else str(block)
        return Status.PAUSED, _(
            "The assistant is paused: the AI is blocked (%(reason)s); try again later."
        ) % {"reason": reason}
    return None


def answer(
    question: str, history: list[dict], now: datetime, out: Answer | None = None
) -> Generator[dict, None, Answer]:
    """Ask the model about `question` (after `history`); yields page events, returns the Answer.

    `out` (optional) is filled as the answer goes, so a caller that stops early still has what was
    said and spent."""
    out = out if out is not None else Answer()
    out.model = out.model or llm.agent_model()
    refused = refusal(now)
    if refused:
        out.status, out.notice = refused
        return out
    messages = [*history, {"role": "user", "content": question}]
    llm.load_anthropic()  # a fresh web process's first question: the import is not the model's time
    try:
        yield from _steps(messages, time.monotonic() + settings.ASK_TIME_LIMIT_SECONDS, now, out)
    except llm.LLMError as exc:
        _failed(out, exc)
    out.unverified = grounding.unverified_numbers(out.text, grounding.known_numbers(question, *out.results))
    return out


def _steps(messages: list[dict], deadline: float, now: datetime, out: Answer):
    calls = 0
    system = SYSTEM.format(now=kst_text(now))
    schemas = registry.schemas()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            return _stop(out, Status.TIME_LIMIT)
        turn = yield from _stream_turn(system, messages, schemas, deadline, out)
        if turn.stop_reason == "max_tokens":
            return _stop(out, Status.TOKEN_LIMIT)
        uses = turn.tool_uses
        if not uses:
            return None
        if calls + len(uses) > settings.ASK_MAX_TOOL_CALLS:
            return _stop(out, Status.CALL_LIMIT)
        messages.append({"role": "assistant", "content": turn.content})
        results = []
        for use in uses:
            calls += 1
            results.append((yield from _run_tool(use, now, out)))
        messages.append({"role": "user", "content": results})


def _stream_turn(system, messages, schemas, deadline, out: Answer):
    """One model call; its text deltas go to the page. Its tokens are counted however it ends."""
    spent = llm.Usage()
    stream = llm.stream_turn(
        system=system,
        messages=messages,
        tools=schemas,
        deadline=deadline,
        max_tokens=settings.ASK_MAX_TOKENS,
        spent=spent,
    )
    separated = not out.text
    try:
        while True:
            piece = without_nul(next(stream))  # PostgreSQL text cannot hold NUL
            if not separated and piece:
                piece, separated = "\n\n" + piece, True
            out.text += piece
            yield {"type": "delta", "text": piece}
    except StopIteration as done:
        turn = done.value
    finally:
        stream.close()
        out.input_tokens += spent.input_tokens
        out.output_tokens += spent.output_tokens
    out.model = turn.model
    return turn


def _run_tool(use: dict, now: datetime, out: Answer):
    """Run one tool call: page events, the log entry, the tool_result block for the model."""
    name, args = use["name"], without_nul(use["input"])
    yield {"type": "tool", "state": "started", "name": name, "args": args}
    result, error, ms = registry.timed_call(name, args, now)
    entry = {"name": name, "args": args, "rows": result.rows if result else 0, "error": error, "ms": ms}
    content = json.dumps(result.data, ensure_ascii=False) if result else ""
    out.tool_calls.append({**entry, "result": content[:RESULT_LOG_CHARS]})  # stored with the answer
    yield {"type": "tool", "state": "finished", **entry}
    if result is None:
        log.info("ask tool %s %s failed in %d ms: %s", name, json.dumps(args), ms, error)
        return {"type": "tool_result", "tool_use_id": use["id"], "content": error, "is_error": True}
    log.info(
        "ask tool %s %s: %d rows, %d chars in %d ms", name, json.dumps(args), result.rows, len(content), ms
    )
    log.debug("ask tool %s result: %s", name, content[:4000])
    out.results.append(result.data)
    for source in result.sources:
        if len(out.sources) < MAX_SOURCES and all(s["url"] != source["url"] for s in out.sources):
            out.sources.append(source)
    return {"type": "tool_result", "tool_use_id": use["id"], "content": content}


def _stop(out: Answer, status: str) -> None:
    out.status = status
    if status == Status.TIME_LIMIT:
        out.notice = _(
            "Stopped: the answer took longer than the %(seconds)s s limit (ASK_TIME_LIMIT_SECONDS). "
            "What is above may be incomplete."
        ) % {"seconds": f"{settings.ASK_TIME_LIMIT_SECONDS:g}"}
    elif status == Status.CALL_LIMIT:
        out.notice = _(
            "Stopped: the question needed more than %(calls)s tool calls (ASK_MAX_TOOL_CALLS). "
            "What is above may be incomplete; ask a narrower question."
        ) % {"calls": settings.ASK_MAX_TOOL_CALLS}
    else:
        out.notice = _(
            "Stopped: the answer reached the length limit of %(tokens)s tokens (ASK_MAX_TOKENS)."
        ) % {"tokens": settings.ASK_MAX_TOKENS}


def _failed(out: Answer, exc: llm.LLMError) -> None:
    log.warning("ask: the model call failed (%s): %s", exc.kind, exc)
    out.error = str(exc)[:500]
    if exc.kind == llm.TIMEOUT:
        return _stop(out, Status.TIME_LIMIT)
    if exc.kind in llm.BLOCKING_KINDS:
        guardrails.set_block(exc.kind)
        out.status = Status.PAUSED
        out.notice = _(
            "The assistant is paused: Anthropic refused the call (%(kind)s). "
            "The AI is blocked for everyone (trading agent too) until the block expires."
        ) % {"kind": exc.kind.replace("_", " ")}
        return None
    out.status = Status.ERROR
    out.notice = _("The assistant could not answer: the model call failed (%(kind)s).") % {
        "kind": exc.kind.replace("_", " ")
    }
    return None


def without_nul(value):
    """`value` (text, or lists and dicts of it) without NUL characters, which PostgreSQL cannot store."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value
