"""What the System page shows about the AI: on/off, guardrails, usage vs caps, today's cost."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from . import costs, gate, guardrails
from .llm import agent_model
from .scorecard import scorecard

__all__ = ["guardrail_state", "scorecard"]


def guardrail_state(symbols: list[str] | None = None, now: datetime | None = None) -> dict:
    """Blocks, cooldowns, usage vs caps and today's estimated cost (built-in types only)."""
    now = now or timezone.now()
    symbols = list(symbols if symbols is not None else settings.COINPILOT_DEFAULT_SYMBOLS)
    usage = costs.day_usage(now)
    return {
        "enabled": gate.enabled(),
        "label": "AI: on" if gate.enabled() else gate.AI_OFF,
        "model": agent_model(),
        **guardrails.state(symbols, now),
        "tokens_in_today": usage["input_tokens"],
        "tokens_out_today": usage["output_tokens"],
        "cost_today_usd": str(usage["cost_usd"]),
        "budget_usd": str(usage["budget_usd"]),
    }
