"""Look-ahead and warm-up checks on the real KRW-BTC minutes: the strategy passes, whatever its
lookbacks; a column that reads future bars or needs more history than the window is caught."""

import numpy as np
import pandas as pd
import pytest

from bench.synthetic import synthetic_frame
from conftest import TEST_DATA
from lab.lookahead import check_strategy, history_needed, lookahead_check, strategy_columns, warmup_check
from trading.config import TRADING_REGIMES, default_strategy, load_defaults, parse_strategy
from trading.strategy import LIVE_WINDOW_BARS, bars_from_frame

CSV = TEST_DATA / "upbit_krw_btc_1m_20180125.csv"


@pytest.fixture(scope="module")
def real():
    return bars_from_frame(pd.read_csv(CSV))


@pytest.fixture(scope="module")
def params():
    return default_strategy()


def with_column(name: str, compute):
    """The strategy's columns plus one more, computed from the bars."""

    def columns(bars, params):
        return {**strategy_columns(bars, params), name: compute(bars)}

    return columns


def test_the_strategy_reads_no_future_bar_and_its_window_is_long_enough(real, params):
    result = check_strategy(real, params)
    assert result.passed, result.findings
    assert result.findings == []
    assert max(result.history_needed.values()) < LIVE_WINDOW_BARS
    # the file is shorter than the regime's 240 hours: said, not hidden
    assert any("regime not checked" in note for note in result.notes)


def test_a_config_with_the_longest_lookbacks_passes_too(real):
    defaults = load_defaults()
    regimes = {
        r: {**defaults["regimes"][r], "rsi_7_lookback": 200, "bb_touch_lookback": 200}
        for r in TRADING_REGIMES
    }
    params = parse_strategy(defaults["symbols"], regimes)
    assert check_strategy(real, params, seed=1).passed


def test_the_regime_sees_only_closed_hours_and_its_window_is_long_enough(params):
    bars = bars_from_frame(synthetic_frame(17 * 1440, seed=3))  # longer than the regime's 240 hours
    result = lookahead_check(bars, params, cuts=10).add(warmup_check(bars, params, starts=2))
    assert result.passed, result.findings
    assert result.history_needed["regime"] > LIVE_WINDOW_BARS  # the 200 hourly closes, not the live window
    short = warmup_check(bars, params, starts=2, regime_warmup=100 * 60)  # 100 hours of minutes
    assert any(f.startswith("too little history: regime computed on 6,000 bars") for f in short.findings)


@pytest.mark.parametrize(
    ("name", "compute"),
    [
        ("centred_mean", lambda bars: pd.Series(bars.close).rolling(21, center=True).mean().to_numpy()),
        ("next_close", lambda bars: np.append(bars.close[1:], np.nan)),  # shift(-1)
        ("scaled_by_the_final_close", lambda bars: bars.close / bars.close[-1]),
    ],
)
def test_a_column_that_reads_future_bars_is_caught(real, params, name, compute):
    result = lookahead_check(real, params, cuts=10, columns=with_column(name, compute))
    assert not result.passed
    assert len(result.findings) == 1  # only the leaky column: the strategy's own stay clean
    assert result.findings[0].startswith(f"look-ahead: {name} at 2018-")
    assert "(it changed at 10 of 10 cut points): it reads bars after the decision" in result.findings[0]


def test_a_column_that_needs_more_history_than_the_live_window_is_caught(real, params):
    slow = with_column(
        "ema_5000", lambda bars: pd.Series(bars.close).ewm(span=5000, adjust=False).mean().to_numpy()
    )
    result = warmup_check(real, params, columns=slow)
    assert not result.passed
    (finding,) = result.findings
    assert finding.startswith("too little history: ema_5000 computed on 1,000 bars differs from its value")


def test_a_column_that_depends_on_where_the_data_starts_never_agrees(real, params):
    running_volume = with_column("on_balance_volume", lambda bars: np.cumsum(bars.volume))  # OBV-like
    (finding,) = warmup_check(real, params, starts=2, columns=running_volume).findings
    assert finding == (
        "too little history: on_balance_volume computed on 1,000 bars differs from its value with all "
        "the history; it never agrees in this data (1e-9 relative)"
    )


def test_a_window_too_short_for_wilders_rsi_is_caught(real, params):
    result = warmup_check(real, params, warmup=30, starts=2)
    assert not result.passed
    assert any(f.startswith("too little history: rsi14 computed on 30 bars") for f in result.findings)
    assert result.history_needed["rsi14"] > 30


def test_history_needed_is_where_the_values_agree_for_good():
    full = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert history_needed(full.copy(), full) == 1
    assert history_needed(np.array([np.nan, 2.5, 3.0, 4.0, 5.0]), full) == 3  # agrees from index 2
    assert history_needed(np.array([1.0, 2.0, 3.0, 4.0, 5.1]), full) == 6  # never agrees
    assert history_needed(full * (1 + 1e-12), full) == 1  # within 1e-9 relative
