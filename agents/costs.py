"""Estimated LLM spend: tokens x configured prices, per decision and per UTC day.

The day's usage adds the agent's decisions and the "Ask CoinPilot" answers (ChatUsage): one budget.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from .models import AgentDecision, ChatUsage

MILLION = Decimal(1_000_000)


def estimate_usd(input_tokens: int, output_tokens: int) -> Decimal:
    """Estimated cost of one call or run, USD."""
    cost = Decimal(input_tokens) * Decimal(settings.AI_PRICE_INPUT_PER_MTOK_USD) + Decimal(
        output_tokens
    ) * Decimal(settings.AI_PRICE_OUTPUT_PER_MTOK_USD)
    return (cost / MILLION).quantize(Decimal("0.000001"))


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def day_usage(now: datetime) -> dict:
    """Tokens and estimated cost of the UTC day of `now`, against the daily budget."""
    start = day_start(now)
    tokens_in = tokens_out = 0
    for model in (AgentDecision, ChatUsage):
        totals = model.objects.filter(
            created_at__gte=start, created_at__lt=start + timedelta(days=1)
        ).aggregate(input=Sum("input_tokens"), output=Sum("output_tokens"))
        tokens_in += totals["input"] or 0
        tokens_out += totals["output"] or 0
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": estimate_usd(tokens_in, tokens_out),
        "budget_usd": Decimal(settings.AI_DAILY_BUDGET_USD),
    }


def over_budget(now: datetime) -> bool:
    usage = day_usage(now)
    return usage["cost_usd"] >= usage["budget_usd"]
