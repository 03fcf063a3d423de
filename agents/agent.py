"""The AI second opinion on one rule-approved buy: context -> pre-filter -> guardrails -> agent.

Every path ends in exactly one AgentDecision and a verdict; only CONFIRM + SAFE approves. A
skip (pre-filter, block, cooldown, cap, budget) is a veto too: the AI can only say no.
"""

import logging
import time

from django.conf import settings
from django.utils import timezone

from . import analyst, costs, decisions, guardrails, llm, prefilter
from .context import bear_features, context_end, load_context
from .gate import GateRequest, GateVerdict
from .metrics import CONTEXT_CANDLES, PREFILTER_SKIPS, REQUESTS
from .models import AgentDecision
from .run import APPROVED, Outcome, run_bounded

log = logging.getLogger(__name__)


def review(request: GateRequest) -> GateVerdict:
    """Approve or veto `request`; any failure is a logged REJECT, never an exception."""
    started = time.monotonic()
    try:
        return _review(request, started)
    except Exception as exc:  # Redis or the database failed around the agent: still a veto
        log.exception("AI review of %s failed", request.symbol)
        error = f"{type(exc).__name__}: {exc}"[:500]
        try:
            row = decisions.record(
                symbol=request.symbol,
                decision=AgentDecision.Decision.REJECTED,
                reasoning="AI error (internal)",
                error=error,
                price_at_decision=request.price,
                regime=request.regime,
                latency_ms=_ms(started),
            )
        except Exception:
            log.exception("could not log the failed AI review of %s", request.symbol)
            row = None
        REQUESTS.labels("error").inc()
        return GateVerdict(False, f"AI: rejected: internal error: {error}"[:500], row and row.pk)


def _review(request: GateRequest, started: float) -> GateVerdict:
    now = timezone.now()
    ctx = load_context(request.symbol, context_end(request.candles, now))
    CONTEXT_CANDLES.labels(request.regime or "UNKNOWN").observe(len(ctx.hourly))
    max_drop = (
        request.max_drop_pct_6h
        if request.max_drop_pct_6h is not None
        else settings.AI_PREFILTER_MAX_DROP_PCT_6H
    )
    reason = prefilter.check(
        ctx,
        request.regime,
        max_drop_pct_6h=max_drop,
        thin_volume_ratio=settings.AI_PREFILTER_THIN_VOLUME_RATIO,
    )
    if reason:
        PREFILTER_SKIPS.labels(reason).inc()
        return _skip(request, started, reason, prefilter.describe(reason, ctx))
    block = guardrails.blocked(request.symbol)
    if block is None and costs.over_budget(now):
        guardrails.set_block(guardrails.BUDGET)
        block = f"global_block:{guardrails.BUDGET}"
    block = block or guardrails.claim_call(now)
    if block:
        return _skip(request, started, block.split(":")[0], f"guardrail: {block}")
    prompt = analyst.prompt(
        request.symbol,
        request.regime,
        request.price,
        request.indicators,
        ctx,
        bear_features(ctx) if request.regime == "BEAR" else {},
        request.reason,
    )
    outcome = run_bounded(prompt, settings.AI_TIMEOUT_SECONDS)
    _update_guardrails(request.symbol, outcome)
    row = _log(request, started, outcome)
    if costs.over_budget(timezone.now()):
        guardrails.set_block(guardrails.BUDGET)
    REQUESTS.labels(_label(outcome)).inc()
    approved = outcome.decision == APPROVED
    return GateVerdict(
        approved,
        f"AI: {'approved' if approved else 'rejected'}: {outcome.reasoning}"[:500],
        row.pk,
        {
            "analyst": outcome.analyst_decision,
            "guardian": outcome.guardian_decision,
            "error": outcome.error_kind,
        },
    )


def _update_guardrails(symbol: str, outcome: Outcome) -> None:
    if outcome.decision == APPROVED:
        guardrails.record_approval(symbol)
        return
    # An invalid answer is still an answer (the provider works); only outages feed the streak.
    failed = outcome.error_kind not in ("", "invalid_output")
    guardrails.record_rejection(symbol, error=failed)
    if outcome.error_kind in llm.BLOCKING_KINDS:
        guardrails.set_block(outcome.error_kind)


def _label(outcome: Outcome) -> str:
    if outcome.decision == APPROVED:
        return "approved"
    if outcome.error_kind == llm.TIMEOUT:
        return "timeout"
    return "error" if outcome.error_kind not in ("", "invalid_output") else "rejected"


def _log(request: GateRequest, started: float, outcome: Outcome) -> AgentDecision:
    return decisions.record(
        rsi=request.indicators.get("rsi14"),
        symbol=request.symbol,
        decision=outcome.decision,
        analyst_decision=outcome.analyst_decision,
        guardian_decision=outcome.guardian_decision,
        reasoning=outcome.reasoning,
        confidence=outcome.confidence,
        model_used=outcome.model,
        price_at_decision=request.price,
        regime=request.regime,
        latency_ms=_ms(started),
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
        error=outcome.error,
    )


def _skip(request: GateRequest, started: float, skip_reason: str, text: str) -> GateVerdict:
    row = decisions.record(
        symbol=request.symbol,
        decision=AgentDecision.Decision.SKIPPED,
        skip_reason=skip_reason,
        reasoning=text,
        price_at_decision=request.price,
        regime=request.regime,
        latency_ms=_ms(started),
    )
    REQUESTS.labels("skipped").inc()
    return GateVerdict(False, f"AI: skipped: {text}"[:500], row.pk, {"skip": skip_reason})


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
