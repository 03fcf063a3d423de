"""Every failure of the provider ends in a logged REJECT (or a skip), never a crash or a buy."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest

from agents import guardrails
from agents.agent import review
from agents.models import AgentDecision
from agents.run import run_bounded

from .conftest import SYMBOL, make_request, store_bars, text

pytestmark = pytest.mark.django_db(transaction=True)

BLOCK = guardrails.BLOCK_KEY
STREAK = guardrails.ERROR_STREAK_KEY
COOLDOWN = guardrails.COOLDOWN_KEY.format(symbol=SYMBOL)


def test_a_hang_is_a_timeout_reject_at_the_deadline(fake, bars, settings, redis_conn):
    settings.AI_TIMEOUT_SECONDS = 2.0  # the production 40 s, scaled down; the fake hangs 45 s
    fake.script("hang")
    started = time.monotonic()
    verdict = review(make_request())
    elapsed = time.monotonic() - started
    assert not verdict.approved and 1.9 <= elapsed < 3.5
    row = AgentDecision.objects.get()
    assert (row.decision, row.reasoning) == ("REJECTED", "timeout")
    assert row.error == "no answer within 2 s" and 1900 <= row.latency_ms < 3500
    assert text(redis_conn.get(STREAK)) == "1" and text(redis_conn.get(COOLDOWN)) == "5"
    assert redis_conn.get(BLOCK) is None


def test_the_sdk_timeout_ending_first_is_the_same_timeout_reject(fake, bars):
    # 40 ms leaves no time for a call: the thread ends at once with its own timeout, before the join
    outcome = run_bounded("prompt", deadline_s=0.04)
    assert (outcome.decision, outcome.reasoning, outcome.error) == (
        "REJECTED",
        "timeout",
        "no answer within 0.04 s",
    )
    assert outcome.error_kind == "timeout" and fake.requests == []


def test_a_hang_in_the_guardian_keeps_the_analyst_tokens(fake, bars, settings):
    settings.AI_TIMEOUT_SECONDS = 1.5
    fake.script("confirm", "hang")
    assert not review(make_request()).approved
    row = AgentDecision.objects.get()
    assert (row.reasoning, row.analyst_decision, row.input_tokens) == ("timeout", "CONFIRM", 1200)


@pytest.mark.parametrize(
    ("answer", "kind", "error_class"),
    [("429", "rate_limit", "RateLimitError"), ("529", "overloaded", "OverloadedError")],
)
def test_rate_limit_and_overload_are_logged_errors(fake, bars, redis_conn, answer, kind, error_class):
    fake.script(answer)
    verdict = review(make_request())
    assert not verdict.approved and verdict.details["error"] == kind
    row = AgentDecision.objects.get()
    assert row.decision == "REJECTED" and row.reasoning == f"AI error ({kind})"
    assert row.error.startswith(error_class)
    assert len(fake.requests) == 1  # SDK retries are off: the guardrails decide what comes next
    assert text(redis_conn.get(STREAK)) == "1" and redis_conn.get(BLOCK) is None
    assert text(redis_conn.get(COOLDOWN)) == "5"


@pytest.mark.parametrize(("answer", "reason"), [("low-credit", "low_credit"), ("spend-limit", "spend_limit")])
def test_low_credit_and_spend_limit_set_the_global_block(fake, bars, redis_conn, answer, reason):
    fake.script(answer)
    assert not review(make_request()).approved
    row = AgentDecision.objects.get()
    assert row.decision == "REJECTED" and row.reasoning == f"AI error ({reason})"
    assert text(redis_conn.get(BLOCK)) == reason and 3590 <= redis_conn.ttl(BLOCK) <= 3600
    store_bars("KRW-ETH")
    verdict = review(make_request("KRW-ETH"))  # another symbol: no cooldown, but the block holds
    assert not verdict.approved and len(fake.requests) == 1
    skipped = AgentDecision.objects.get(symbol="KRW-ETH")
    assert (skipped.decision, skipped.skip_reason) == ("SKIPPED", "global_block")
    assert skipped.reasoning == f"guardrail: global_block:{reason}"


def test_three_errors_in_a_row_set_the_global_block(fake, frozen, redis_conn):
    symbols = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"]
    for symbol in symbols:
        store_bars(symbol)
    fake.script("529", "529")
    review(make_request(symbols[0]))
    review(make_request(symbols[1]))
    assert text(redis_conn.get(STREAK)) == "2" and redis_conn.get(BLOCK) is None
    fake.script("429")
    review(make_request(symbols[2]))
    assert text(redis_conn.get(STREAK)) == "3"
    assert text(redis_conn.get(BLOCK)) == "error_streak" and 3590 <= redis_conn.ttl(BLOCK) <= 3600
    assert not review(make_request(symbols[3])).approved
    assert len(fake.requests) == 3
    assert AgentDecision.objects.get(symbol=symbols[3]).skip_reason == "global_block"


def test_an_answer_breaks_the_error_streak(fake, frozen, redis_conn):
    store_bars("KRW-BTC")
    store_bars("KRW-ETH")
    fake.script("529", "reject")
    review(make_request("KRW-BTC"))
    assert text(redis_conn.get(STREAK)) == "1"
    review(make_request("KRW-ETH"))
    assert redis_conn.get(STREAK) is None


def test_crossing_the_daily_budget_sets_the_global_block(fake, bars, settings, redis_conn):
    settings.AI_DAILY_BUDGET_USD = "0.003"  # one run costs 2400 x $1/M + 160 x $5/M = $0.0032
    assert review(make_request()).approved
    assert text(redis_conn.get(BLOCK)) == "budget"
    redis_conn.delete(BLOCK)  # even without the key, the spend of the day keeps the agent off
    store_bars("KRW-ETH")
    assert not review(make_request("KRW-ETH")).approved
    assert AgentDecision.objects.get(symbol="KRW-ETH").skip_reason == "global_block"
    assert text(redis_conn.get(BLOCK)) == "budget" and len(fake.requests) == 2


def test_a_day_old_spend_does_not_count_against_today(fake, bars, settings, frozen):
    settings.AI_DAILY_BUDGET_USD = "0.004"
    review(make_request())
    AgentDecision.objects.update(created_at=AgentDecision.objects.get().created_at - timedelta(days=1))
    from agents.costs import day_usage

    usage = day_usage(make_request().candles.index[-1].to_pydatetime() + timedelta(minutes=1))
    assert usage["cost_usd"] == Decimal(0) and usage["budget_usd"] == Decimal("0.004")


def test_a_redis_failure_around_the_agent_is_a_logged_reject(fake, bars, monkeypatch):
    def broken(symbol):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(guardrails, "blocked", broken)
    verdict = review(make_request())
    assert not verdict.approved and "redis is down" in verdict.reason
    row = AgentDecision.objects.get(pk=verdict.decision_id)
    assert (row.decision, row.reasoning, row.error) == (
        "REJECTED",
        "AI error (internal)",
        "ConnectionError: redis is down",
    )
    assert fake.requests == []
