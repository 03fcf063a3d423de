"""The agent's verdicts through the real anthropic SDK against the fake Messages API."""

import pytest

from agents import guardrails
from agents.agent import review
from agents.metrics import REQUESTS
from agents.models import AgentDecision

from .conftest import SYMBOL, make_request, queued_alerts, text

pytestmark = pytest.mark.django_db(transaction=True)

COOLDOWN = guardrails.COOLDOWN_KEY.format(symbol=SYMBOL)
REJECTS = guardrails.REJECT_COUNT_KEY.format(symbol=SYMBOL)


def only_decision() -> AgentDecision:
    rows = list(AgentDecision.objects.all())
    assert len(rows) == 1
    return rows[0]


def test_confirm_and_safe_approve_the_buy(fake, bars, redis_conn):
    approved_before = REQUESTS.labels("approved")._value.get()
    fake.script("confirm", "safe")
    verdict = review(make_request())
    assert verdict.approved
    row = only_decision()
    assert (row.decision, row.analyst_decision, row.guardian_decision) == ("APPROVED", "CONFIRM", "SAFE")
    assert row.confidence == 82 and row.input_tokens == 2400 and row.output_tokens == 160
    assert row.model_used == "claude-haiku-4-5" and row.regime == "SIDEWAYS" and row.price_at_decision == 100
    assert row.latency_ms is not None and row.error == ""
    assert verdict.decision_id == row.pk
    assert text(redis_conn.get("ai:usage:hour:2026031012")) == "1"
    assert text(redis_conn.get("ai:usage:day:20260310")) == "1"
    assert 7100 <= redis_conn.ttl("ai:usage:hour:2026031012") <= 7200
    assert 172700 <= redis_conn.ttl("ai:usage:day:20260310") <= 172800
    assert redis_conn.get(COOLDOWN) is None and redis_conn.get(REJECTS) is None
    assert [r.body["tool_choice"]["name"] for r in fake.requests] == ["submit_analysis", "submit_risk_check"]
    prompt = fake.requests[0].body["messages"][0]["content"]
    assert "Hourly candles" in prompt and prompt.count("\n2026-03-") == 24
    assert queued_alerts() == [
        (
            "ai-decision",
            {
                "symbol": SYMBOL,
                "decision": "APPROVED",
                "confidence": 82,
                "regime": "SIDEWAYS",
                "rsi": "38.5",
                "model": "claude-haiku-4-5",
                "latency_ms": row.latency_ms,
                "reasoning": row.reasoning,
            },
        )
    ]
    assert REQUESTS.labels("approved")._value.get() == approved_before + 1


def test_prod_mode_uses_the_sonnet_class_model(fake, bars, settings):
    settings.LLM_MODE = "prod"
    settings.LLM_MODEL_PROD = "claude-sonnet-4-6"
    review(make_request())
    assert {r.body["model"] for r in fake.requests} == {"claude-sonnet-4-6"}
    assert only_decision().model_used == "claude-sonnet-4-6"


def test_analyst_reject_vetoes_without_asking_the_guardian(fake, bars, redis_conn):
    fake.script("reject")
    verdict = review(make_request())
    assert not verdict.approved
    row = only_decision()
    assert (row.decision, row.analyst_decision, row.guardian_decision) == ("REJECTED", "REJECT", "")
    assert row.reasoning == "lower highs for 12 hours: a weak bounce" and row.confidence == 75
    assert row.input_tokens == 1200 and row.error == ""
    assert len(fake.requests) == 1
    assert text(redis_conn.get(COOLDOWN)) == "5" and 290 <= redis_conn.ttl(COOLDOWN) <= 300
    assert text(redis_conn.get(REJECTS)) == "1" and 3590 <= redis_conn.ttl(REJECTS) <= 3600
    assert redis_conn.get(guardrails.ERROR_STREAK_KEY) is None
    assert queued_alerts() == [
        ("ai-reject", {"symbol": SYMBOL, "regime": "SIDEWAYS", "rsi": "38.5", "reason": row.reasoning})
    ]


def test_low_confidence_confirm_is_a_reject(fake, bars, redis_conn):
    fake.script("low-confidence")
    verdict = review(make_request())
    assert not verdict.approved
    row = only_decision()
    assert (row.decision, row.analyst_decision, row.confidence) == ("REJECTED", "REJECT", 41)
    assert row.reasoning.startswith("confidence 41 < 60")
    assert len(fake.requests) == 1
    assert text(redis_conn.get(COOLDOWN)) == "5"


def test_guardian_warning_vetoes_a_confirmed_buy(fake, bars, redis_conn):
    fake.script("confirm", "warning")
    verdict = review(make_request())
    assert not verdict.approved
    row = only_decision()
    assert (row.decision, row.analyst_decision, row.guardian_decision) == ("REJECTED", "CONFIRM", "WARNING")
    assert "panic selling" in row.reasoning and row.input_tokens == 2400
    assert text(redis_conn.get(COOLDOWN)) == "5" and text(redis_conn.get(REJECTS)) == "1"


def test_malformed_tool_input_is_a_reject_with_the_validation_error(fake, bars, redis_conn):
    fake.script("malformed")
    verdict = review(make_request())
    assert not verdict.approved
    row = only_decision()
    assert row.decision == "REJECTED" and row.analyst_decision == ""
    assert row.error.startswith("invalid analyst output:")
    assert "decision:" in row.error and "confidence:" in row.error and "reasoning:" in row.error
    assert row.reasoning == row.error
    assert text(redis_conn.get(COOLDOWN)) == "5"
    assert redis_conn.get(guardrails.ERROR_STREAK_KEY) is None  # the model answered; not an outage


def test_missing_fields_are_a_reject_naming_them(fake, bars, redis_conn):
    fake.script("missing-fields")
    review(make_request())
    row = only_decision()
    assert row.decision == "REJECTED"
    assert "confidence: Field required" in row.error and "reasoning: Field required" in row.error


def test_invalid_guardian_output_is_a_reject(fake, bars):
    fake.script("confirm", {"decision": "OK"})
    assert not review(make_request()).approved
    row = only_decision()
    assert row.analyst_decision == "CONFIRM" and row.error.startswith("invalid guardian output:")


def test_a_bear_prompt_carries_the_regime_description_and_bear_features(fake, bars):
    review(make_request(regime="BEAR"))
    prompt = fake.requests[0].body["messages"][0]["content"]
    assert "Regime: BEAR (downtrend" in prompt and "BEAR features: " in prompt
    assert '"change_6h_pct"' in prompt and "Rule signal: RSI(7) recovered" in prompt
    assert '"rsi14": 38.5' in prompt
    assert "Analyst: CONFIRM with confidence 82" in fake.requests[1].body["messages"][0]["content"]
