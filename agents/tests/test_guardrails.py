"""Caps, cooldown escalation and expiry (time frozen), and the state the System page shows."""

from datetime import timedelta

import pytest

from agents import guardrails
from agents.agent import review
from agents.models import AgentDecision

from .conftest import NOW, SYMBOL, make_request, store_bars, text

pytestmark = pytest.mark.django_db(transaction=True)

COOLDOWN = guardrails.COOLDOWN_KEY.format(symbol=SYMBOL)
REJECTS = guardrails.REJECT_COUNT_KEY.format(symbol=SYMBOL)


def expire_if_real_server(redis_conn, key: str) -> None:
    """time-machine moves fakeredis's clock but not a real server's: end the TTL there by hand."""
    if redis_conn.exists(key):
        redis_conn.pexpire(key, 1)
        while redis_conn.exists(key):
            pass


def test_hourly_cap_skips_without_calling_and_resets_next_hour(fake, bars, settings, redis_conn, frozen):
    settings.AI_HOURLY_CAP = 2
    assert review(make_request()).approved
    assert review(make_request()).approved
    verdict = review(make_request())
    assert not verdict.approved and len(fake.requests) == 4
    skipped = AgentDecision.objects.get(decision="SKIPPED")
    assert skipped.skip_reason == "hourly_cap" and skipped.input_tokens == 0
    assert text(redis_conn.get("ai:usage:hour:2026031012")) == "2"  # the refused claim is given back
    assert text(redis_conn.get("ai:usage:day:20260310")) == "2"
    frozen.move_to(NOW + timedelta(hours=1))
    store_bars(end=NOW + timedelta(hours=1))
    assert review(make_request(now=NOW + timedelta(hours=1))).approved
    assert text(redis_conn.get("ai:usage:hour:2026031013")) == "1"
    assert text(redis_conn.get("ai:usage:day:20260310")) == "3"


def test_daily_cap(fake, bars, settings, redis_conn):
    settings.AI_DAILY_CAP = 1
    assert review(make_request()).approved
    assert not review(make_request()).approved
    assert AgentDecision.objects.get(decision="SKIPPED").skip_reason == "daily_cap"
    assert text(redis_conn.get("ai:usage:day:20260310")) == "1" and len(fake.requests) == 2


def test_cooldown_escalates_5_10_15_and_expires(fake, bars, redis_conn, frozen):
    now = NOW
    for minutes, rejects in [(5, 1), (10, 2), (15, 3), (15, 4)]:
        fake.script("reject")
        assert not review(make_request(now=now)).approved
        assert text(redis_conn.get(COOLDOWN)) == str(minutes)
        assert text(redis_conn.get(REJECTS)) == str(rejects)
        assert minutes * 60 - 5 <= redis_conn.ttl(COOLDOWN) <= minutes * 60
        # still cooling down one second before the end: skipped, no call, no usage
        frozen.move_to(now + timedelta(minutes=minutes) - timedelta(seconds=1))
        calls = len(fake.requests)
        assert not review(make_request(now=now)).approved
        assert len(fake.requests) == calls
        assert AgentDecision.objects.filter(skip_reason="cooldown").count() == rejects
        now += timedelta(minutes=minutes, seconds=1)
        frozen.move_to(now)
        expire_if_real_server(redis_conn, COOLDOWN)
        assert redis_conn.get(COOLDOWN) is None
    assert review(make_request(now=now)).approved  # an approval ends the reject series
    assert redis_conn.get(REJECTS) is None and redis_conn.get(COOLDOWN) is None


def test_cooldown_is_per_symbol(fake, bars, redis_conn):
    store_bars("KRW-ETH")
    fake.script("reject")
    review(make_request())
    assert review(make_request("KRW-ETH")).approved


def test_state_for_the_system_page(fake, bars, redis_conn, settings):
    fake.script("reject")
    review(make_request())
    guardrails.set_block(guardrails.LOW_CREDIT)
    state = guardrails.state([SYMBOL, "KRW-ETH"], NOW)
    assert state["global_block"] == "low_credit" and 3590 <= state["global_block_seconds_left"] <= 3600
    assert state["cooldowns"] == {
        SYMBOL: {"minutes": 5, "seconds_left": state["cooldowns"][SYMBOL]["seconds_left"], "reject_count": 1}
    }
    assert (state["usage_hour"], state["cap_hour"], state["usage_day"], state["cap_day"]) == (
        1,
        settings.AI_HOURLY_CAP,
        1,
        settings.AI_DAILY_CAP,
    )
    assert state["error_streak"] == 0


def test_concurrent_claims_never_pass_the_cap(settings, redis_conn):
    from concurrent.futures import ThreadPoolExecutor

    settings.AI_HOURLY_CAP = 5
    with ThreadPoolExecutor(8) as pool:
        refused = list(pool.map(lambda _: guardrails.claim_call(NOW), range(40)))
    assert refused.count(None) == 5
    assert text(redis_conn.get(guardrails.hour_key(NOW))) == "5"


def test_guardrail_state_adds_todays_cost_and_the_on_off_label(fake, bars, settings):
    from agents.status import guardrail_state

    review(make_request())
    state = guardrail_state([SYMBOL], NOW)
    assert state["enabled"] and state["label"] == "AI: on" and state["model"] == "claude-haiku-4-5"
    assert (state["tokens_in_today"], state["tokens_out_today"]) == (2400, 160)
    assert state["cost_today_usd"] == "0.003200" and state["budget_usd"] == settings.AI_DAILY_BUDGET_USD
    assert state["usage_hour"] == 1 and state["global_block"] is None
    settings.ANTHROPIC_API_KEY = ""
    assert guardrail_state([SYMBOL], NOW)["label"] == "AI: off (no key)"
