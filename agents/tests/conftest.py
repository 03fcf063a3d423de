"""Agent test helpers: stored candles, a rule-approved request, the fake Anthropic server."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import time_machine

from agents.gate import GateRequest
from market.candles import CandleRow, store_candles

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
SYMBOL = "KRW-BTC"


def store_bars(symbol: str = SYMBOL, *, end: datetime = NOW, hours: int = 40, step_min: int = 5, closes=None):
    """1m bars every `step_min` minutes over `hours` before `end` (gaps are normal)."""
    first = end.replace(second=0, microsecond=0) - timedelta(hours=hours)
    rows = []
    count = hours * 60 // step_min
    for i in range(count):
        ts = first + timedelta(minutes=i * step_min)
        close = Decimal(str(closes(i, count) if closes else 100 + (i % 7)))
        rows.append(CandleRow(symbol, "1m", ts, close, close + 1, close - 1, close, Decimal("10"), None))
    store_candles(rows)
    return rows


def make_request(
    symbol: str = SYMBOL, regime: str = "SIDEWAYS", *, now: datetime = NOW, **extra
) -> GateRequest:
    index = pd.DatetimeIndex([now.replace(second=0) - timedelta(minutes=1)], name="timestamp")
    frame = pd.DataFrame(
        {"open": [100.0], "high": [101.0], "low": [99.0], "close": [100.0], "volume": [10.0]}, index
    )
    return GateRequest(
        symbol=symbol,
        regime=regime,
        price=Decimal("100"),
        indicators={"rsi14": 38.5, "rsi7": 36.0, "close": 100.0, "vol_ratio": 1.2},
        candles=frame,
        reason="RSI(7) recovered",
        **extra,
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def fake(fake_anthropic):
    return fake_anthropic


@pytest.fixture
def bars(frozen, transactional_db):
    return store_bars()


def queued_alerts() -> list[tuple[str, dict]]:
    """(event, payload) of every alert waiting on the notifications queue."""
    import django_rq

    return [tuple(job.args) for job in django_rq.get_queue("notifications").get_jobs()]


def text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
