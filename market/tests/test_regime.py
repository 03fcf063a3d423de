"""Regime: thresholds, closed hours only, Redis key with TTL, history rows, fallback."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import TEST_DATA
from market import regime, rollups
from market.analysis_jobs import update_regime
from market.candles import CandleRow, store_candles
from market.models import Candle, Regime, RegimeHistory

NOW = datetime(2026, 3, 20, 12, 0, 30, tzinfo=UTC)  # the job's slot: 30 s past the hour
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the rollup is PostgreSQL only"
)


def put(candles) -> None:
    """Insert candles directly, then bring the PostgreSQL rollup up to date as `store_candles` does."""
    Candle.objects.bulk_create(candles)
    rollups.rebuild()


def hourly_candles(symbol: str, closes: list[float], end: datetime, minute: int = 59) -> list[Candle]:
    """One 1m bar per hour (the hour's last), ending with the hour before `end`'s hour."""
    last_hour = end.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first = last_hour - timedelta(hours=len(closes) - 1) + timedelta(minutes=minute)
    return [
        Candle(
            symbol=symbol, interval="1m", timestamp=first + timedelta(hours=i),
            open=c, high=c, low=c, close=c, volume=1,
        )
        for i, c in enumerate(Decimal(str(x)) for x in closes)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        (2.0, Regime.BULL),
        (5.0, Regime.BULL),
        (1.9999, Regime.SIDEWAYS),
        (0.0, Regime.SIDEWAYS),
        (-1.9999, Regime.SIDEWAYS),
        (-2.0, Regime.BEAR),
        (-7.0, Regime.BEAR),
        (None, Regime.UNKNOWN),
    ],
)
def test_thresholds_at_the_boundaries(diff, expected):
    assert regime.classify(diff) == expected


def test_fewer_than_200_hourly_candles_is_unknown():
    reading = regime.evaluate("KRW-BTC", np.full(199, 100.0))
    assert reading.regime == Regime.UNKNOWN and reading.hourly_candles == 199 and reading.ma200 is None


def test_ma50_ma200_and_diff_pct():
    reading = regime.evaluate("KRW-BTC", [100.0] * 150 + [104.0] * 50)
    assert reading.ma50 == pytest.approx(104) and reading.ma200 == pytest.approx(101)
    assert reading.diff_pct == pytest.approx(3 / 101 * 100) and reading.regime == Regime.BULL
    assert regime.evaluate("X", [104.0] * 150 + [100.0] * 50).regime == Regime.BEAR


def test_the_real_week_of_candles_is_too_short_for_a_regime():
    df = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv")
    ts = (pd.to_datetime(df["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")
    hours, closes = regime.hourly_closes(ts.to_numpy(), df["close"].to_numpy())
    assert len(closes) < 200
    assert regime.evaluate("KRW-BTC", closes).regime == Regime.UNKNOWN
    codes = regime.regime_codes_per_bar(ts.to_numpy(), df["close"].to_numpy())
    assert (codes == regime.UNKNOWN_CODE).all()


def test_hourly_close_is_the_last_bar_of_each_hour_and_empty_hours_are_skipped():
    ts = np.array([0, 60, 3540, 7200 + 120, 7200 + 180])  # hour 0 (3 bars), hour 1 empty, hour 2
    hours, closes = regime.hourly_closes(ts, np.array([1.0, 2, 3, 4, 5]))
    np.testing.assert_array_equal(hours, [0, 2])
    np.testing.assert_array_equal(closes, [3, 5])


def synthetic_minutes(hours: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    ts = np.arange(hours * 60, dtype=np.int64) * 60 + 1_700_000_000 // 3600 * 3600
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, len(ts))) + np.linspace(0, 0.3, len(ts)))
    return ts, close


def test_backtest_regime_has_no_look_ahead():
    ts, close = synthetic_minutes(260)
    full = regime.regime_codes_per_bar(ts, close)
    assert len(set(full.tolist())) > 1  # the series crosses regimes, so the check means something
    for t in range(0, len(ts), 37):
        assert regime.regime_codes_per_bar(ts[: t + 1], close[: t + 1])[-1] == full[t]


def test_backtest_regime_uses_only_hours_closed_before_the_decision():
    ts, close = synthetic_minutes(230)
    codes = regime.regime_codes_per_bar(ts, close)
    hours, closes = regime.hourly_closes(ts, close)
    for i in (len(ts) - 1, len(ts) - 61, 210 * 60 + 30):
        decided_hour = (ts[i] + 60) // 3600
        seen = closes[hours < decided_hour]
        assert regime.REGIMES[codes[i]] == regime.evaluate("X", seen).regime
    # the bar at hh:59 is decided at the next hour's start: that hour's job saw hh's close
    i = 220 * 60 + 59
    assert regime.REGIMES[codes[i]] == regime.evaluate("X", closes[:221]).regime


@pytest.mark.django_db
def test_update_writes_redis_key_with_ttl_and_a_history_row(redis_conn):
    put(hourly_candles("KRW-BTC", [100.0] * 150 + [104.0] * 50, NOW))
    put(hourly_candles("KRW-ETH", [100.0] * 120, NOW))
    readings = regime.update_regimes(["KRW-BTC", "KRW-ETH"], NOW)
    assert {r.symbol: r.regime for r in readings} == {"KRW-BTC": "BULL", "KRW-ETH": "UNKNOWN"}
    assert redis_conn.get("market:regime:KRW-BTC") == b"BULL"
    assert 7190 <= redis_conn.ttl("market:regime:KRW-BTC") <= 7200
    assert redis_conn.get("market:regime:KRW-ETH") == b"UNKNOWN"
    row = RegimeHistory.objects.get(coin_symbol="KRW-BTC")
    assert row.regime == "BULL" and row.ma50 == Decimal("104") and row.ma200 == Decimal("101")
    assert row.diff_pct == Decimal("2.9703")
    eth = RegimeHistory.objects.get(coin_symbol="KRW-ETH")
    assert eth.ma50 is None and eth.diff_pct is None


@pytest.mark.django_db
def test_update_ignores_the_hour_still_forming():
    closes = [100.0] * 200
    put(hourly_candles("KRW-BTC", closes, NOW))
    forming = NOW.replace(minute=0, second=0)
    put([Candle(symbol="KRW-BTC", timestamp=forming, open=1, high=1, low=1, close=1000, volume=1)])
    (reading,) = regime.update_regimes(["KRW-BTC"], NOW)
    assert reading.regime == Regime.SIDEWAYS and reading.ma50 == pytest.approx(100.0)


@pytest.mark.django_db
def test_database_aggregation_equals_the_vectorised_pass():
    ts, close = synthetic_minutes(250, seed=11)
    keep = np.random.default_rng(5).random(len(ts)) > 0.3  # gaps inside hours, as on Upbit
    keep[100 * 60 : 102 * 60] = False  # and two whole hours without a trade
    ts, close = ts[keep], np.round(close[keep], 4)
    now = datetime.fromtimestamp(int(ts[-1]) + 60, UTC) + timedelta(seconds=30)
    put(
        Candle(symbol="KRW-SOL", timestamp=datetime.fromtimestamp(int(t), UTC), open=Decimal(str(c)),
               high=Decimal(str(c)), low=Decimal(str(c)), close=Decimal(str(c)), volume=1)
        for t, c in zip(ts, close, strict=True)
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:  # also runs the debug cursor (DEBUG=1)
        from_db = regime.fetch_hourly_closes(["KRW-SOL", "KRW-ETH"], now)["KRW-SOL"]
    assert len(queries) == 1
    closed = ts < (int(now.timestamp()) // 3600 * 3600)
    hour_ids, vectorised = regime.hourly_closes(ts[closed], close[closed])
    in_lookback = hour_ids >= int(now.timestamp()) // 3600 - regime.LOOKBACK_HOURS
    np.testing.assert_array_equal(from_db, vectorised[in_lookback])
    assert len(from_db) == regime.LOOKBACK_HOURS - 2


def candle_rows(symbol: str, ts: np.ndarray, close: np.ndarray) -> list[CandleRow]:
    prices = [Decimal(str(c)) for c in close]
    return [
        CandleRow(symbol, "1m", datetime.fromtimestamp(int(t), UTC), p, p, p, p, Decimal(1), None)
        for t, p in zip(ts, prices, strict=True)
    ]


def both_paths(symbols: list[str], now: datetime) -> tuple[dict, dict]:
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=regime.LOOKBACK_HOURS)
    rollup = regime._rollup_hourly_closes(symbols, start, end)
    return rollup, regime._minute_hourly_closes(symbols, start, end)


@postgresql_only
@pytest.mark.django_db
def test_rollup_closes_equal_the_minute_probes_on_the_real_candles():
    df = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv")
    ts = (pd.to_datetime(df["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")
    ts = ts.to_numpy()
    store_candles(candle_rows("KRW-BTC", ts, df["close"].to_numpy()))
    # after the last bar, mid-hour (its hour still forming), and on an hour boundary
    for now in (ts[-1] + 3600, ts[len(ts) // 2] + 30, ts[len(ts) // 3] // 3600 * 3600):
        rollup, minutes = both_paths(["KRW-BTC", "KRW-NONE"], datetime.fromtimestamp(int(now), UTC))
        assert len(rollup["KRW-BTC"]) > 40 and len(rollup["KRW-NONE"]) == 0
        np.testing.assert_array_equal(rollup["KRW-BTC"], minutes["KRW-BTC"])
        np.testing.assert_array_equal(rollup["KRW-NONE"], minutes["KRW-NONE"])


@postgresql_only
@pytest.mark.django_db
def test_rollup_closes_equal_the_minute_probes_with_gaps_and_late_minutes():
    ts, close = synthetic_minutes(260, seed=7)
    keep = np.random.default_rng(9).random(len(ts)) > 0.4  # gaps inside hours
    keep[30 * 60 : 33 * 60] = False  # three whole hours without a trade
    keep[200 * 60 + 59] = False  # an hour whose last minute is missing
    ts, close = ts[keep], np.round(close[keep], 4)
    late = np.arange(len(ts)) % 7 == 0  # stored afterwards: the rollup follows later stores
    store_candles(candle_rows("KRW-SOL", ts[~late], close[~late]))
    store_candles(candle_rows("KRW-SOL", ts[late], close[late]))
    store_candles(candle_rows("KRW-ETH", ts[::5], close[::5] * 2))
    for now in (ts[-1] + 90, ts[-1] - 1800, ts[5000] // 3600 * 3600):
        rollup, minutes = both_paths(["KRW-SOL", "KRW-ETH"], datetime.fromtimestamp(int(now), UTC))
        for symbol in ("KRW-SOL", "KRW-ETH"):
            assert len(rollup[symbol]) > 50
            np.testing.assert_array_equal(rollup[symbol], minutes[symbol])


@pytest.mark.django_db
def test_many_readers_at_once_match_one_by_one(redis_conn):
    symbols = ["KRW-A", "KRW-B", "KRW-C", "KRW-D"]
    RegimeHistory.objects.create(coin_symbol="KRW-B", regime="BEAR")
    RegimeHistory.objects.create(coin_symbol="KRW-B", regime="BULL")
    RegimeHistory.objects.create(coin_symbol="KRW-C", regime="BEAR")
    RegimeHistory.objects.create(coin_symbol="KRW-D", regime="BEAR")
    redis_conn.set("market:regime:KRW-C", "SIDEWAYS")
    with CaptureQueriesContext(connection) as queries:
        batch = regime.current_regimes(symbols)
    assert batch == {"KRW-A": Regime.UNKNOWN, "KRW-B": "BULL", "KRW-C": "SIDEWAYS", "KRW-D": "BEAR"}
    assert len(queries) == 1  # one query for the three symbols Redis does not hold
    assert batch == {s: regime.current_regime(s) for s in symbols}
    assert regime.current_regimes([]) == {}


@pytest.mark.django_db
def test_reader_falls_back_to_the_latest_history_row(redis_conn):
    assert regime.current_regime("KRW-XRP") == Regime.UNKNOWN
    RegimeHistory.objects.create(coin_symbol="KRW-XRP", regime="BEAR")
    RegimeHistory.objects.create(coin_symbol="KRW-XRP", regime="BULL")
    assert regime.current_regime("KRW-XRP") == "BULL"
    redis_conn.set("market:regime:KRW-XRP", "SIDEWAYS")
    assert regime.current_regime("KRW-XRP") == "SIDEWAYS"


@pytest.mark.django_db
def test_the_newest_evaluation_is_the_latest_time_then_the_latest_row():
    at = datetime(2026, 3, 1, 5, tzinfo=UTC)
    rows = [
        ("KRW-A", "BULL", at),
        ("KRW-A", "BEAR", at - timedelta(hours=1)),  # written later, but older
        ("KRW-B", "BEAR", at),
        ("KRW-B", "SIDEWAYS", at),  # the same time: the later row wins
    ]
    for symbol, name, created in rows:
        row = RegimeHistory.objects.create(coin_symbol=symbol, regime=name)
        RegimeHistory.objects.filter(pk=row.pk).update(created_at=created)
    newest = RegimeHistory.newest_per_symbol(["KRW-A", "KRW-B", "KRW-C"])
    assert newest == {"KRW-A": "BULL", "KRW-B": "SIDEWAYS"}  # never evaluated: left out
    assert RegimeHistory.newest_per_symbol([]) == {}


def two_symbols():
    return ["KRW-BTC", "KRW-DOGE"]


@pytest.mark.django_db
def test_job_evaluates_every_active_symbol(settings, redis_conn):
    settings.COINPILOT_SYMBOLS_PROVIDER = "market.tests.test_regime.two_symbols"
    put(hourly_candles("KRW-DOGE", [104.0] * 150 + [100.0] * 50, NOW))
    assert update_regime(slot=NOW) == '{"BEAR": 1, "UNKNOWN": 1}'
    assert RegimeHistory.objects.count() == 2
    assert redis_conn.get("market:regime:KRW-DOGE") == b"BEAR"
