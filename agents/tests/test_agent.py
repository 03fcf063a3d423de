"""The whole agent through the real anthropic SDK against the fake Messages API."""

import pytest

from agents import guardrails
from agents.agent import review
from agents.models import AgentDecision

from .conftest import SYMBOL, make_request

pytestmark = pytest.mark.django_db(transaction=True)

COOLDOWN = guardrails.COOLDOWN_KEY.format(symbol=SYMBOL)
REJECTS = guardrails.REJECT_COUNT_KEY.format(symbol=SYMBOL)


def only_decision() -> AgentDecision:
    rows = list(AgentDecision.objects.all())
    assert len(rows) == 1
    return rows[0]


def test_confirm_and_safe_approve_the_buy(fake, bars, redis_conn):
    fake.script("confirm", "safe")
    verdict = review(make_request())
    assert verdict.approved
    row = only_decision()
    assert (row.decision, row.analyst_decision, row.guardian_decision) == ("APPROVED", "CONFIRM", "SAFE")
    assert row.confidence == 82 and row.input_tokens == 2400 and row.output_tokens == 160
    assert row.model_used == "claude-haiku-4-5" and row.regime == "SIDEWAYS" and row.price_at_decision == 100
    assert verdict.decision_id == row.pk
    assert redis_conn.get("ai:usage:hour:2026031012") == b"1"
    assert redis_conn.get("ai:usage:day:20260310") == b"1"
    assert redis_conn.get(COOLDOWN) is None
    assert [r.body["tool_choice"]["name"] for r in fake.requests] == ["submit_analysis", "submit_risk_check"]
    assert "Hourly candles" in fake.requests[0].body["messages"][0]["content"]
