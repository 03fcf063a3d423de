"""Fixtures for the market tests: a fake Upbit server and raw candle builders."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.upbit import FakeUpbit

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, well after the simulated epoch
# 9,999 real Upbit KRW-BTC candles (see tests/data/README.md).
REAL_CSV = Path(__file__).resolve().parents[2] / "tests" / "data" / "upbit_krw_btc_1m_20180125.csv"


def raw_candle(ts: datetime, price: float = 100.0, **overrides) -> dict:
    """One raw candle around `price`; override any field (None deletes it)."""
    row = {
        "timestamp": ts,
        "open": str(price),
        "high": str(price + 1),
        "low": str(price - 1),
        "close": str(price),
        "volume": "1.5",
        "quote_volume": str(price * 1.5),
    }
    for key, value in overrides.items():
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value
    return row


def raw_minutes(start: datetime, count: int, price: float = 100.0) -> list[dict]:
    return [raw_candle(start + timedelta(minutes=i), price + i) for i in range(count)]


@pytest.fixture
def fake_upbit():
    with FakeUpbit(seed=1) as fake:
        yield fake


@pytest.fixture
def upbit_client(fake_upbit, settings):
    from market.upbit import UpbitClient

    settings.UPBIT_BASE_URL = fake_upbit.url
    client = UpbitClient(fake_upbit.url, backoff=0.01, max_backoff=0.05, throttle_pause=0.05, timeout=2)
    yield client
    client.close()
