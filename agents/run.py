"""One Analyst -> Guardian run against the LLM, bounded in time.

The calls run in a worker thread; the caller waits at most the deadline and then answers
"timeout" while the thread is left to finish its (equally bounded) HTTP call on its own. The
thread touches no database: it only talks to the provider through `llm`.
"""

import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from pydantic import ValidationError

from . import analyst, guardian, llm

APPROVED, REJECTED = "APPROVED", "REJECTED"


@dataclass
class Outcome:
    """What one run produced (also the partial state of a run that timed out)."""

    decision: str = REJECTED
    analyst_decision: str = ""
    guardian_decision: str = ""
    reasoning: str = ""
    confidence: int | None = None
    error: str = ""
    error_kind: str = ""  # an llm kind, "timeout", or "invalid_output"
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = field(default_factory=llm.agent_model)


def run_bounded(analyst_prompt: str, deadline_s: float) -> Outcome:
    """Run both steps in a thread; past `deadline_s` the answer is a REJECT "timeout"."""
    outcome = Outcome()
    lock = threading.Lock()
    worker = threading.Thread(
        target=_run, args=(analyst_prompt, time.monotonic() + deadline_s, outcome, lock), daemon=True
    )
    worker.start()
    worker.join(deadline_s)
    with lock:
        # The HTTP timeout is the time left, so the SDK's own timeout can end the thread a moment
        # before this join does: either way it is the same deadline and is logged the same way.
        if worker.is_alive() or outcome.error_kind == llm.TIMEOUT:
            return Outcome(
                decision=REJECTED,
                analyst_decision=outcome.analyst_decision,
                reasoning="timeout",
                error=f"no answer within {deadline_s:g} s",
                error_kind=llm.TIMEOUT,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                model=outcome.model,
            )
        return outcome


def _run(analyst_prompt: str, deadline: float, out: Outcome, lock: threading.Lock) -> None:
    try:
        _steps(analyst_prompt, deadline, out, lock)
    except llm.LLMError as exc:
        with lock:
            out.decision, out.error, out.error_kind = REJECTED, str(exc), exc.kind
            out.reasoning = f"AI error ({exc.kind})"
    except Exception as exc:  # a bug or an unexpected SDK answer: still a logged veto
        with lock:
            out.decision, out.error, out.error_kind = REJECTED, f"{type(exc).__name__}: {exc}"[:500], llm.API
            out.reasoning = "AI error (unexpected)"


def _steps(analyst_prompt: str, deadline: float, out: Outcome, lock: threading.Lock) -> None:
    answer = _ask(analyst.SYSTEM, analyst_prompt, analyst.TOOL, deadline, out, lock)
    try:
        verdict = analyst.AnalystVerdict.model_validate(answer.tool_input)
    except ValidationError as exc:
        return _invalid(out, lock, "analyst", exc)
    with lock:
        out.analyst_decision, out.confidence, out.reasoning = (
            verdict.decision,
            verdict.confidence,
            verdict.reasoning,
        )
    if verdict.decision != "CONFIRM":
        return
    if verdict.confidence < settings.AI_MIN_CONFIDENCE:
        with lock:
            out.analyst_decision = "REJECT"
            out.reasoning = (
                f"confidence {verdict.confidence} < {settings.AI_MIN_CONFIDENCE}: {verdict.reasoning}"
            )
        return
    prompt = guardian.prompt(analyst_prompt, verdict.confidence, verdict.reasoning)
    answer = _ask(guardian.SYSTEM, prompt, guardian.TOOL, deadline, out, lock)
    try:
        check = guardian.GuardianVerdict.model_validate(answer.tool_input)
    except ValidationError as exc:
        return _invalid(out, lock, "guardian", exc)
    with lock:
        out.guardian_decision = check.decision
        out.reasoning = f"Analyst: {verdict.reasoning} | Guardian: {check.reasoning}"
        out.decision = APPROVED if check.decision == "SAFE" else REJECTED


def _ask(system: str, prompt: str, tool: dict, deadline: float, out: Outcome, lock) -> llm.ToolAnswer:
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        raise llm.LLMError(llm.TIMEOUT, "deadline reached before the call")
    answer = llm.ask_tool(system=system, prompt=prompt, tool=tool, timeout=remaining)
    with lock:
        out.input_tokens += answer.input_tokens
        out.output_tokens += answer.output_tokens
        out.model = answer.model
    return answer


def _invalid(out: Outcome, lock, step: str, exc: ValidationError) -> None:
    errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
    with lock:
        out.decision, out.error_kind = REJECTED, "invalid_output"
        out.error = f"invalid {step} output: {errors}"[:500]
        out.reasoning = out.error
