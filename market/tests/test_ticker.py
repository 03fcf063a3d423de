"""Ticker prices at the edge: Upbit's answer through the fake server (errors included), the
simulated and CSV sources, and validation that rejects a bad answer whole."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from market.sources.csv import CsvSource
from market.sources.simulated import SimulatedSource
from market.sources.upbit import UpbitSource
from market.ticker import TickerError, validate_tickers
from market.upbit import BannedError, RateLimitedError, RetryableError, UpbitClient

from .conftest import REAL_CSV, T0

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def source(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=5), price=100_000_000)
    fake_upbit.add_minutes("KRW-ETH", T0, T0 + timedelta(minutes=5), price=4_000_000)
    return UpbitSource(upbit_client)


def test_upbit_ticker_is_one_request_for_every_symbol(fake_upbit, source):
    found = source.tickers(["KRW-BTC", "KRW-ETH"], NOW)
    [request] = fake_upbit.requests
    assert request.path == "/v1/ticker" and request.params == {"markets": "KRW-BTC,KRW-ETH"}
    last = fake_upbit.candles["KRW-BTC"][-1]
    assert found["KRW-BTC"].price == Decimal(str(last["trade_price"]))
    assert found["KRW-BTC"].at == T0 + timedelta(minutes=4, seconds=59)  # the last bar's last trade
    assert isinstance(found["KRW-ETH"].price, Decimal)


def test_upbit_ticker_after_the_candles_stopped(fake_upbit, source):
    fake_upbit.prices["KRW-BTC"] = 97_512_000
    now = datetime.now(UTC)
    found = source.tickers(["KRW-BTC"], now)
    assert found["KRW-BTC"].price == Decimal("97512000")
    assert now - timedelta(seconds=5) <= found["KRW-BTC"].at <= now + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("object", "expected a list, got dict"),
        ("missing_price", "KRW-BTC price: missing"),
        ("not_numeric", "KRW-BTC price: not a number"),
        ("zero_price", "KRW-BTC price: must be a positive number"),
        ("other_market", "'KRW-NOPE' was not asked for"),
        ("future", "KRW-BTC timestamp: .* is in the future"),
    ],
)
def test_malformed_ticker_is_rejected_whole(fake_upbit, source, kind, message):
    fake_upbit.malformed_tickers = [kind]
    with pytest.raises(TickerError, match=message):
        source.tickers(["KRW-BTC", "KRW-ETH"], NOW)


def test_truncated_ticker_body_is_retried(fake_upbit, source, upbit_client):
    fake_upbit.malformed_tickers = ["truncated"]
    assert "KRW-BTC" in source.tickers(["KRW-BTC"], NOW)
    assert upbit_client.stats["retries"] == 1


def test_ticker_429_and_5xx_are_retried_then_given_up(fake_upbit, source):
    fake_upbit.fail_rate, fake_upbit.fail_statuses = 1.0, (429,)
    with pytest.raises(RateLimitedError):
        source.tickers(["KRW-BTC"], NOW)
    fake_upbit.fail_statuses = (503,)
    with pytest.raises(RetryableError) as err:
        source.tickers(["KRW-BTC"], NOW)
    assert err.value.status == 503


def test_ticker_418_is_a_ban(fake_upbit, source, monkeypatch):
    monkeypatch.setattr("market.upbit.notify", lambda *args: None)
    fake_upbit.ban(60)
    with pytest.raises(BannedError):
        source.tickers(["KRW-BTC"], NOW)


def test_ticker_timeout_is_retryable(fake_upbit, source):
    fake_upbit.delay = 0.5
    client = UpbitClient(fake_upbit.url, timeout=0.1, max_attempts=2, backoff=0.01)
    try:
        with pytest.raises(RetryableError, match="timed out"):
            UpbitSource(client).tickers(["KRW-BTC"], NOW)
    finally:
        client.close()


def test_sim_ticker_is_the_newest_closed_bars_close():
    now = datetime(2026, 11, 1, 12, 30, 40, tzinfo=UTC)
    source = SimulatedSource(7)
    [bar] = source.fetch_candles("KRW-BTC", until=now.replace(second=0), count=1)
    ticker = source.tickers(["KRW-BTC"], now)["KRW-BTC"]
    assert ticker.price == Decimal(bar["close"]) and ticker.at == bar["timestamp"] + timedelta(minutes=1)
    assert ticker.at <= now


def test_csv_ticker_is_the_files_last_close_before_now():
    source = CsvSource(REAL_CSV)
    last = source.rows[-1]
    ticker = source.tickers(["KRW-BTC"], datetime(2026, 1, 1, tzinfo=UTC))["KRW-BTC"]
    assert ticker.price == Decimal(last["close"])
    assert ticker.at == source.times[-1] + timedelta(minutes=1)
    assert source.tickers(["KRW-BTC"], source.times[0]) == {}  # nothing closed yet: no price


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("not a dict", "not an object"),
        ({"symbol": "KRW-BTC", "price": "1e30", "timestamp": NOW}, "positive number in range"),
        ({"symbol": "KRW-BTC", "price": "NaN", "timestamp": NOW}, "positive number in range"),
        ({"symbol": "KRW-BTC", "price": True, "timestamp": NOW}, "not a number"),
        ({"symbol": "KRW-BTC", "price": "1", "timestamp": "yesterday"}, "timestamp: not a time"),
        ({"symbol": "KRW-BTC", "price": "1"}, "timestamp: not a time"),
    ],
)
def test_validation_names_the_market_and_field(item, message):
    with pytest.raises(TickerError, match=message):
        validate_tickers([item], symbols=["KRW-BTC"], now=NOW)


def test_a_market_twice_is_rejected():
    item = {"symbol": "KRW-BTC", "price": 1, "timestamp": int(NOW.timestamp() * 1000)}
    assert validate_tickers([item], symbols=["KRW-BTC"], now=NOW)["KRW-BTC"].at == NOW
    with pytest.raises(TickerError, match="appears twice"):
        validate_tickers([item, item], symbols=["KRW-BTC"], now=NOW)
