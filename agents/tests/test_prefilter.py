"""Pre-filter: the LLM is not asked; the skip is logged with its reason and counted."""

import pytest

from agents.agent import review
from agents.metrics import CONTEXT_CANDLES, PREFILTER_SKIPS
from agents.models import AgentDecision

from .conftest import make_request, store_bars

pytestmark = pytest.mark.django_db(transaction=True)


def skip_of(verdict) -> AgentDecision:
    assert not verdict.approved
    row = AgentDecision.objects.get()
    assert row.decision == "SKIPPED" and row.input_tokens == 0
    return row


def test_fewer_than_24_hourly_candles(fake, frozen, redis_conn):
    store_bars(hours=20)
    before = PREFILTER_SKIPS.labels("short_context")._value.get()
    row = skip_of(review(make_request()))
    assert row.skip_reason == "short_context"
    assert row.reasoning == "pre-filter: 20 hourly context candles < 24"
    assert fake.requests == [] and redis_conn.keys("ai:usage:*") == []
    assert PREFILTER_SKIPS.labels("short_context")._value.get() == before + 1


def test_bear_falling_knife(fake, frozen):
    # flat, then -1.5 % per hour over the last 8 hours: about -8.6 % over the last 6 hourly candles
    store_bars(closes=lambda i, n: 100 * (0.985 ** max(0, (i - (n - 96)) / 12)))
    row = skip_of(review(make_request(regime="BEAR")))
    assert row.skip_reason == "bear_falling_knife" and "over the last 6 hourly candles" in row.reasoning
    assert fake.requests == []


def test_the_same_drop_in_sideways_or_below_the_threshold_is_asked(fake, frozen):
    store_bars(closes=lambda i, n: 100 * (0.985 ** max(0, (i - (n - 96)) / 12)))
    assert review(make_request(regime="SIDEWAYS")).approved
    assert review(make_request(regime="BEAR", max_drop_pct_6h=10.0)).approved


def test_thin_volume(fake, frozen):
    rows = store_bars()
    from market.models import Candle

    Candle.objects.filter(timestamp__gte=rows[-72].timestamp).update(volume=1)  # last 6 hours: 10 -> 1
    row = skip_of(review(make_request()))
    assert row.skip_reason == "thin_volume"


def test_context_size_is_observed(fake, bars):
    before = CONTEXT_CANDLES.labels("SIDEWAYS")._sum.get()
    review(make_request())
    assert CONTEXT_CANDLES.labels("SIDEWAYS")._sum.get() == before + 24
