"""Indicators equal TA-Lib (the test-only oracle) on real Upbit candles, warm-up NaNs included."""

import numpy as np
import pandas as pd
import pytest
import talib

from conftest import TEST_DATA
from market import indicators as ind

CSV = TEST_DATA / "upbit_krw_btc_1m_20180125.csv"


@pytest.fixture(scope="module")
def real():
    df = pd.read_csv(CSV)
    return {k: df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")}


def assert_same(ours: np.ndarray, oracle: np.ndarray, rel: float = 1e-9) -> None:
    assert ours.shape == oracle.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(oracle))  # same warm-up positions
    ok = ~np.isnan(oracle)
    np.testing.assert_allclose(ours[ok], oracle[ok], rtol=rel, atol=0)


def test_real_data_is_long_enough_to_mean_something(real):
    assert len(real["close"]) == 9999


@pytest.mark.parametrize("n", [14, 7])
def test_rsi_equals_talib(real, n):
    ours = ind.rsi(real["close"], n)
    assert_same(ours, talib.RSI(real["close"], timeperiod=n))
    assert np.isnan(ours[:n]).all() and not np.isnan(ours[n])


@pytest.mark.parametrize("n", [20, 50, 200])
def test_sma_equals_talib(real, n):
    assert_same(ind.sma(real["close"], n), talib.SMA(real["close"], timeperiod=n))


def test_bollinger_equals_talib_population_std(real):
    ours = ind.bollinger(real["close"], 20, 2.0)
    oracle = talib.BBANDS(real["close"], timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA)
    for a, b in zip(ours, oracle, strict=True):
        assert_same(a, b)


def test_atr_equals_talib(real):
    assert_same(ind.atr(real["high"], real["low"], real["close"], 14), talib.ATR(
        real["high"], real["low"], real["close"], timeperiod=14
    ))  # fmt: skip


def test_volume_ratio_is_volume_over_its_20_bar_mean_including_the_current_bar(real):
    v = real["volume"]
    assert_same(ind.volume_ratio(v), v / talib.SMA(v, timeperiod=20))
    assert ind.recent_vol_ratios(ind.volume_ratio(v), 3) == pytest.approx(list((v / talib.SMA(v, 20))[-3:]))


def test_volume_ratio_of_a_silent_market_is_nan_not_infinite():
    ratio = ind.volume_ratio(np.zeros(25))
    assert np.isnan(ratio).all()


def test_batch_of_symbols_equals_one_symbol_at_a_time(real):
    closes = np.column_stack([real["close"][:300] * k for k in (1.0, 0.5, 2.0)])
    batch = ind.rsi(closes, 14)
    for col in range(3):
        assert_same(batch[:, col], talib.RSI(closes[:, col], timeperiod=14), rel=1e-12)
    upper, _, lower = ind.bollinger(closes)
    assert_same(lower[:, 2], talib.BBANDS(closes[:, 2], 20, 2.0, 2.0, 0)[2])


def test_rsi_short_min_lookback_includes_the_current_bar():
    r = np.array([50, 40, 30, 45, 60, 20], dtype=float)
    np.testing.assert_array_equal(ind.rsi_short_min_lookback(r, 3)[2:], [30, 30, 30, 20])
    assert np.isnan(ind.rsi_short_min_lookback(r, 3)[:2]).all()


def test_bb_touch_recovery_needs_a_touch_within_lookback_and_a_close_back_above():
    lower = np.full(6, 100.0)
    low = np.array([105, 99.0, 105, 105, 105, 100.0])
    close = np.array([106, 101.0, 104, 106, 106, 100.0])
    got = ind.bb_touch_recovery(low, close, lower, lookback=3)
    # bar 1 touched and closed above; bars 2-3 still see it; bar 4 is out of the window;
    # bar 5 touched (low == band) but closed on the band, not above it.
    np.testing.assert_array_equal(got, [False, True, True, True, False, False])


def test_bb_touch_recovery_is_false_during_the_band_warm_up():
    lower = np.array([np.nan, np.nan, 100.0])
    got = ind.bb_touch_recovery(np.array([90.0, 90, 101]), np.array([95.0, 95, 102]), lower, 2)
    np.testing.assert_array_equal(got, [False, False, False])


def test_short_input_is_all_nan_not_an_error():
    assert np.isnan(ind.rsi(np.array([1.0, 2.0, 3.0]), 14)).all()
    assert np.isnan(ind.atr(np.ones(5), np.ones(5), np.ones(5), 14)).all()


def test_flat_prices_give_rsi_zero_like_talib():
    flat = np.full(30, 100.0)
    assert_same(ind.rsi(flat, 14), talib.RSI(flat, timeperiod=14))


def test_a_long_series_computed_in_blocks_gives_each_window_its_own_bits(real):
    # a year of minutes is reduced block by block (BLOCK_VALUES); every window's value must be the
    # bits its own n values give, at block edges too, as in a series of just that window
    close = np.tile(real["close"], 4)  # 39,996 values: more than two blocks
    for f, n in ((ind.sma, 20), (ind.rolling_std, 20), (ind.rolling_min, 10)):
        full = f(close, n)
        for end in (
            n,
            ind.BLOCK_VALUES,
            ind.BLOCK_VALUES + 1,
            ind.BLOCK_VALUES + n,
            2 * ind.BLOCK_VALUES + 7,
            len(close),
        ):
            alone = f(close[end - n : end], n)[-1]
            assert full[end - 1].tobytes() == alone.tobytes(), (f.__name__, end)
    batch = np.stack([close, close[::-1]], axis=1)  # 2-D: blocks of rows, both columns alike
    np.testing.assert_array_equal(ind.rolling_std(batch, 20)[:, 1], ind.rolling_std(close[::-1].copy(), 20))
