from datetime import timedelta
from decimal import Decimal

import pytest

from market.upbit import (
    BannedError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    UpbitClient,
    ban_seconds,
    format_to,
    parse_remaining_req,
)

from .conftest import T0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("group=candles; min=600; sec=9", {"group": "candles", "min": 600, "sec": 9}),
        ("group=default; min=1800; sec=29", {"group": "default", "min": 1800, "sec": 29}),
        ("sec=0;group=order-test", {"group": "order-test", "sec": 0}),
        ("Group=MARKET; Sec=3", {"group": "market", "sec": 3}),
        ("", {}),
        (None, {}),
        ("garbage", {}),
    ],
)
def test_remaining_req_header_is_parsed_leniently(header, expected):
    assert parse_remaining_req(header) == expected


def test_to_is_sent_in_utc_with_z():
    assert format_to(T0 + timedelta(hours=9, minutes=3)) == "2026-03-02T09:03:00Z"


def test_candles_newest_first_with_exclusive_to_and_decimals(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=10), skip_every=4)
    page = upbit_client.minute_candles("KRW-BTC", to=T0 + timedelta(minutes=6), count=3)
    assert [c["candle_date_time_utc"] for c in page] == [
        "2026-03-02T00:05:00",
        "2026-03-02T00:04:00",
        "2026-03-02T00:02:00",  # 00:03 had no trades: no candle
    ]
    assert isinstance(page[0]["candle_acc_trade_volume"], Decimal)
    request = fake_upbit.requests[-1]
    assert request.params == {"market": "KRW-BTC", "count": "3", "to": "2026-03-02T00:06:00Z"}


def test_other_minute_units(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=30))
    page = upbit_client.minute_candles("KRW-BTC", unit=5, to=T0 + timedelta(minutes=30), count=2)
    assert [c["candle_date_time_utc"] for c in page] == ["2026-03-02T00:25:00", "2026-03-02T00:20:00"]
    assert page[0]["unit"] == 5
    with pytest.raises(ValueError, match="unit"):
        upbit_client.minute_candles("KRW-BTC", unit=2)
    with pytest.raises(ValueError, match="count"):
        upbit_client.minute_candles("KRW-BTC", count=201)


def test_markets_ticker_orderbook(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.add_minutes("KRW-ETH", T0, T0 + timedelta(minutes=3), price=5_000_000)
    assert [m["market"] for m in upbit_client.markets()] == ["KRW-BTC", "KRW-ETH"]
    assert "market_event" in upbit_client.markets(details=True)[0]
    tickers = upbit_client.ticker(["KRW-BTC", "KRW-ETH"])
    assert [t["market"] for t in tickers] == ["KRW-BTC", "KRW-ETH"]
    assert tickers[0]["trade_price"] == fake_upbit.candles["KRW-BTC"][-1]["trade_price"]
    (book,) = upbit_client.orderbook(["KRW-ETH"], count=5)
    assert len(book["orderbook_units"]) == 5
    assert book["orderbook_units"][0]["ask_price"] > book["orderbook_units"][0]["bid_price"]


def test_never_sends_an_origin_header(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    upbit_client.minute_candles("KRW-BTC", count=1)
    upbit_client.ticker(["KRW-BTC"])
    assert fake_upbit.stats["origin"] == 0
    assert all("origin" not in {k.lower() for k in r.headers} for r in fake_upbit.requests)


def test_unknown_market_is_permanent_with_the_numeric_error_name(fake_upbit, upbit_client):
    with pytest.raises(PermanentError) as err:
        upbit_client.minute_candles("KRW-NOPE")
    assert err.value.status == 404 and err.value.name == "404" and "Code not found" in str(err.value)
    assert fake_upbit.stats["requests"] == 1  # not retried


def test_bad_parameter_is_permanent(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    with pytest.raises(PermanentError, match="Invalid parameter"):
        upbit_client._get("/v1/candles/minutes/1", {"market": "KRW-BTC", "count": 500}, group="candle")
    with pytest.raises(PermanentError, match="Missing request parameter"):
        upbit_client.ticker([])


def test_429_and_500_are_retried_then_succeed(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.fail_rate = 0.5
    for _ in range(10):
        assert len(upbit_client.minute_candles("KRW-BTC", to=T0 + timedelta(minutes=3), count=3)) == 3
    assert fake_upbit.stats["injected_429"] + fake_upbit.stats["injected_500"] > 0
    assert upbit_client.stats["retries"] > 0


def test_persistent_429_gives_up_with_rate_limited_error(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.fail_rate, fake_upbit.fail_statuses = 1.0, (429,)
    with pytest.raises(RateLimitedError, match="Too many API requests"):
        upbit_client.minute_candles("KRW-BTC")
    assert fake_upbit.stats["requests"] == upbit_client.max_attempts


def test_persistent_500_gives_up_as_retryable(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.fail_rate, fake_upbit.fail_statuses = 1.0, (500,)
    with pytest.raises(RetryableError) as err:
        upbit_client.minute_candles("KRW-BTC")
    assert err.value.status == 500


def test_timeout_is_retryable(fake_upbit, settings):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.delay = 0.5
    client = UpbitClient(fake_upbit.url, timeout=0.1, max_attempts=2, backoff=0.01)
    try:
        with pytest.raises(RetryableError, match="timed out"):
            client.minute_candles("KRW-BTC")
    finally:
        client.close()
    assert client.stats["requests"] == 2


@pytest.mark.parametrize("kind", ["truncated"])
def test_body_that_is_not_json_is_retryable(fake_upbit, upbit_client, kind):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.malformed = [kind]
    page = upbit_client.minute_candles("KRW-BTC", to=T0 + timedelta(minutes=3), count=2)
    assert len(page) == 2 and upbit_client.stats["retries"] == 1


def test_network_error_is_retryable(settings):
    client = UpbitClient("http://127.0.0.1:9", timeout=0.5, max_attempts=2, backoff=0.01)
    try:
        with pytest.raises(RetryableError):
            client.markets()
    finally:
        client.close()


def test_418_stops_every_call_and_alerts_once(fake_upbit, upbit_client, monkeypatch):
    alerts = []
    monkeypatch.setattr("market.upbit.notify", lambda event, payload: alerts.append((event, payload)))
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.ban(120)
    with pytest.raises(BannedError) as err:
        upbit_client.minute_candles("KRW-BTC")
    assert 115 <= err.value.seconds_left <= 121
    fake_upbit.ban_until = 0  # even after the server forgives, we wait out the ban
    other = UpbitClient(fake_upbit.url)  # another process's client shares the ban through Redis
    for client in (upbit_client, other):
        with pytest.raises(BannedError):
            client.ticker(["KRW-BTC"])
    other.close()
    assert fake_upbit.stats["requests"] == 1
    assert len(alerts) == 1 and alerts[0][0] == "system" and "418" in alerts[0][1]["title"]


def test_a_caller_ignoring_429_gets_banned_and_the_client_then_stops(fake_upbit, upbit_client, monkeypatch):
    import httpx

    monkeypatch.setattr("market.upbit.notify", lambda *args: None)
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    fake_upbit.ban_after_429s = 2
    statuses = []
    with httpx.Client(base_url=fake_upbit.url) as careless:
        while 418 not in statuses and len(statuses) < 100:
            statuses.append(careless.get("/v1/market/all").status_code)
    assert statuses[-1] == 418 and statuses.index(429) < len(statuses) - 1
    with pytest.raises(BannedError):
        upbit_client.markets()


def test_ban_seconds_from_header_body_or_default():
    import httpx

    assert ban_seconds(httpx.Response(418, headers={"Retry-After": "42"})) == 42
    assert ban_seconds(httpx.Response(418, text="blocked for 90 seconds")) == 90
    assert ban_seconds(httpx.Response(418, text="차단 30초")) == 30
    assert ban_seconds(httpx.Response(418, text="<html>teapot</html>")) == 300


def test_stays_under_the_servers_limit_when_paced(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    for _ in range(25):
        upbit_client.minute_candles("KRW-BTC", to=T0 + timedelta(minutes=3))
    assert fake_upbit.stats["429"] == 0


def test_latency_is_recorded_per_endpoint_group(fake_upbit, upbit_client):
    from market.upbit import API_LATENCY, UPBIT_REQUESTS

    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=3))
    latency = API_LATENCY.labels("upbit", "ticker")
    ok = UPBIT_REQUESTS.labels("ticker", "200")
    before_sum, before_ok = latency._sum.get(), ok._value.get()
    upbit_client.ticker(["KRW-BTC"])
    assert latency._sum.get() > before_sum and ok._value.get() == before_ok + 1
