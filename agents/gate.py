"""The one question the bot cycle asks the AI: "may I buy?" (the AI can only veto).

The AI agent answers through `ask()`. Without an Anthropic key the gate is off: entries proceed
on the rules alone and every status says "AI: off (no key)"; no verdict is ever made up.
"""

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from django.conf import settings

AI_OFF = "AI: off (no key)"


@dataclass(frozen=True)
class GateRequest:
    """A rule-approved buy waiting for the second opinion."""

    symbol: str
    regime: str
    price: Decimal
    indicators: dict
    candles: pd.DataFrame  # recent 1-minute bars (UTC index), the agent resamples what it needs
    reason: str = ""
    # BEAR pre-filter threshold of the active strategy (None: AI_PREFILTER_MAX_DROP_PCT_6H)
    max_drop_pct_6h: float | None = None


@dataclass(frozen=True)
class GateVerdict:
    approved: bool
    reason: str
    decision_id: int | None = None
    details: dict = field(default_factory=dict)


def enabled() -> bool:
    return bool(settings.ANTHROPIC_API_KEY)


def ask(request: GateRequest) -> GateVerdict:
    """Approve or veto one buy. Off (no key) -> approved on rules alone, said plainly."""
    if not enabled():
        return GateVerdict(True, AI_OFF)
    from .agent import review  # the Analyst -> Guardian run, bounded in time

    return review(request)
