"""load_candles: many symbols' bars as column arrays, the very numbers load_frames gives (on
PostgreSQL through a binary COPY, on SQLite through the same query as load_frames)."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from market.candles import Candles, load_candles, load_frames, store_candles, validate_candles

from .conftest import REAL_CSV, T0, raw_minutes

SYMBOLS = ["KRW-ETH", "KRW-NONE", "KRW-BTC"]  # not sorted: each symbol keeps its place


def store_real_minutes() -> pd.DataFrame:
    """1,500 real KRW-BTC minutes (prices with 8 decimals), a gap of 30 minutes in the middle."""
    real = pd.read_csv(REAL_CSV).iloc[:1530].drop(index=range(700, 730))
    start = pd.Timestamp(real["timestamp"].iloc[0])
    raw = [
        {**row, "timestamp": T0 + (pd.Timestamp(row["timestamp"]) - start).to_pytimedelta()}
        for row in real.to_dict("records")
    ]
    now = T0 + timedelta(days=30)
    store_candles(validate_candles(raw, symbol="KRW-BTC", now=now))
    store_candles(validate_candles(raw_minutes(T0, 40, price=5.123), symbol="KRW-ETH", now=now))
    return real


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bounds",
    [
        {"last": 3},
        {"last": 1000, "end": T0 + timedelta(minutes=1200)},
        {"last": 1000, "start": T0 + timedelta(minutes=20), "end": T0 + timedelta(days=2)},
        {"start": T0 + timedelta(minutes=10), "end": T0 + timedelta(minutes=900)},
    ],
)
def test_every_symbol_gets_exactly_the_numbers_of_load_frames(bounds):
    store_real_minutes()
    frames = load_frames(SYMBOLS, **bounds)
    candles = load_candles(SYMBOLS, **bounds)
    assert candles.symbols == tuple(SYMBOLS)
    for symbol in SYMBOLS:
        expected, frame = frames[symbol], candles.frame(symbol)
        if expected.empty:
            assert frame is None and len(candles.close[candles.rows(symbol)]) == 0
            continue
        pd.testing.assert_frame_equal(frame, expected.drop(columns="quote_volume"), check_exact=True)
        rows = candles.rows(symbol)
        assert np.array_equal(candles.close[rows], expected["close"].to_numpy())  # views of the columns
        assert np.all(np.diff(candles.ts[rows]) > 0)


@pytest.mark.django_db
def test_no_symbol_and_no_bar_give_empty_columns():
    assert load_candles([], last=10).symbols == ()
    candles = load_candles(["KRW-NONE"], last=10)
    assert candles.frame("KRW-NONE") is None and len(candles.ts) == 0 and candles.ends.tolist() == [0]


def test_frames_give_the_same_columns_and_themselves_back():
    ts = pd.date_range(T0, periods=4, freq="min", tz="UTC", name="timestamp")
    btc = pd.DataFrame(
        {c: np.arange(4.0) + k for k, c in enumerate(["open", "high", "low", "close", "volume"])}
    )
    btc.index = ts
    frames = {"KRW-ETH": None, "KRW-BTC": btc.iloc[::-1], "KRW-XRP": btc.iloc[:0]}
    candles = Candles.from_frames(frames)
    assert candles.symbols == ("KRW-ETH", "KRW-BTC", "KRW-XRP")
    rows = candles.rows("KRW-BTC")
    assert candles.close[rows].tolist() == [3.0, 4.0, 5.0, 6.0]  # oldest first
    assert candles.ts[rows].tolist() == [int(t.timestamp()) for t in ts]
    assert candles.rows("KRW-ETH") == slice(0, 0) and candles.rows("KRW-XRP") == slice(4, 4)
    assert candles.frame("KRW-BTC") is frames["KRW-BTC"] and candles.frame("KRW-ETH") is None


@pytest.mark.django_db
def test_a_range_keeps_every_digit_of_a_large_price():
    """The range query cast to REAL: 4 bytes on PostgreSQL, 50,559,586.58 came back 50,559,588."""
    store_candles(
        validate_candles(raw_minutes(T0, 3, price=50559586.58), symbol="KRW-BTC", now=T0 + timedelta(days=1))
    )
    frame = load_frames(["KRW-BTC"], start=T0, end=T0 + timedelta(hours=1))["KRW-BTC"]
    assert frame["close"].tolist() == [50559586.58, 50559587.58, 50559588.58]
