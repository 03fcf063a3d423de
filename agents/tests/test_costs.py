"""The day's AI usage: decisions and Ask answers of one UTC day, its bounds exact."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents import costs
from agents.models import AgentDecision, ChatUsage

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 12, 3, tzinfo=UTC)


def used(model, at: datetime, tokens_in: int, tokens_out: int) -> None:
    row = model.objects.create(
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        **({"symbol": "KRW-BTC", "decision": "APPROVED"} if model is AgentDecision else {}),
    )
    model.objects.filter(pk=row.pk).update(created_at=at)  # created_at is set on insert


def test_a_days_usage_adds_decisions_and_answers_from_midnight_to_midnight_utc(settings):
    settings.AI_PRICE_INPUT_PER_MTOK_USD = "3"
    settings.AI_PRICE_OUTPUT_PER_MTOK_USD = "15"
    used(AgentDecision, DAY, 1000, 100)  # the first instant of the day counts
    used(AgentDecision, DAY + timedelta(hours=23, minutes=59, seconds=59), 2000, 200)
    used(ChatUsage, DAY + timedelta(hours=12), 500, 50)
    used(AgentDecision, DAY - timedelta(microseconds=1), 7000, 700)  # the day before
    used(ChatUsage, DAY + timedelta(days=1), 9000, 900)  # the next day

    usage = costs.day_usage(DAY + timedelta(hours=15))
    assert (usage["input_tokens"], usage["output_tokens"]) == (3500, 350)
    assert usage["cost_usd"] == Decimal("0.015750")  # 3,500 x 3 + 350 x 15 per million
    empty = costs.day_usage(DAY + timedelta(days=3))
    assert (empty["input_tokens"], empty["output_tokens"], empty["cost_usd"]) == (0, 0, Decimal("0.000000"))
