"""Estimated LLM spend: tokens x configured prices, per decision and per UTC day.

The day's usage adds the agent's decisions and the "Ask CoinPilot" answers (ChatUsage): one budget.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection

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
    tokens_in, tokens_out = _token_totals(start, start + timedelta(days=1))
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": estimate_usd(tokens_in, tokens_out),
        "budget_usd": Decimal(settings.AI_DAILY_BUDGET_USD),
    }


def _token_totals(start: datetime, end: datetime) -> tuple[int, int]:
    """Input and output tokens of the decisions and the Ask answers created in [start, end): one
    statement (two ORM aggregates cost 1 ms of CPU to build, read on every page that shows usage
    and before every AI review)."""
    bounds = [connection.ops.adapt_datetimefield_value(at) for at in (start, end)]
    parts = " UNION ALL ".join(
        f"SELECT input_tokens, output_tokens FROM {model._meta.db_table}"  # noqa: S608 (a table name)
        " WHERE created_at >= %s AND created_at < %s"
        for model in (AgentDecision, ChatUsage)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) FROM ({parts}) usage",  # noqa: S608
            bounds * 2,
        )
        tokens_in, tokens_out = cursor.fetchone()
    return int(tokens_in), int(tokens_out)


def over_budget(now: datetime) -> bool:
    usage = day_usage(now)
    return usage["cost_usd"] >= usage["budget_usd"]
